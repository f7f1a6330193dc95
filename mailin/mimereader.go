package mailin

import (
	"bufio"
	"bytes"
	"io"
	"sync"

	"github.com/emersion/go-message/textproto"
)

// mimeReader is a lenient, streaming reader of one message's MIME
// structure. Unlike a strict RFC 2046 multipart reader it ends a part at the
// delimiter line of ANY enclosing multipart (so a missing close delimiter of
// an inner multipart costs nothing), accepts CRLF and LF line ends mixed, and
// never fails on input: a read error is treated as the end of the message.
type mimeReader struct {
	br     *bufio.Reader
	bounds []string // active boundaries, outermost first

	// Set when a body ends: hit is the index in bounds of the boundary whose
	// delimiter line ended it (-1: end of input); final when that line was a
	// close delimiter ("--b--").
	hit   int
	final bool

	midLine  bool // the last line returned was a fragment without line end
	push     []byte
	hasPush  bool
	pushMid  bool
	readErr  error // first read error other than io.EOF
	partBuf  []byte
	headBuf  []byte
	lineKind [2]byte
}

const mimeLineBuf = 64 << 10

// lineBufs recycles the 64 KiB line buffers: one per message would be most
// of what parsing a small message allocates.
var lineBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, mimeLineBuf) }}

func newMimeReader(r io.Reader) *mimeReader {
	br := lineBufs.Get().(*bufio.Reader)
	br.Reset(r)
	return &mimeReader{br: br, hit: -1}
}

// release returns the line buffer; the reader must not be used after it.
func (m *mimeReader) release() {
	if m.br != nil {
		m.br.Reset(nil)
		lineBufs.Put(m.br)
		m.br = nil
	}
}

// readLine returns the next line including its line end, or a fragment of a
// line longer than the buffer. The slice is valid until the next call. ok is
// false at the end of input.
func (m *mimeReader) readLine() (line []byte, ok bool) {
	if m.hasPush {
		m.hasPush = false
		m.midLine = m.pushMid
		return m.push, true
	}
	line, err := m.br.ReadSlice('\n')
	switch {
	case err == nil:
		m.midLine = false
	case err == bufio.ErrBufferFull:
		m.midLine = true
	default:
		if err != io.EOF && m.readErr == nil {
			m.readErr = err
		}
		m.midLine = false
		if len(line) == 0 {
			return nil, false
		}
	}
	return line, true
}

// unread pushes line back; the next readLine returns it again. wasMid is
// the midLine state from before line was read.
func (m *mimeReader) unread(line []byte, wasMid bool) {
	m.push = append(m.push[:0], line...)
	m.hasPush = true
	m.pushMid = m.midLine
	m.midLine = wasMid
}

// matchBoundary reports whether line (read at the start of a line) is a
// delimiter line of one of the active boundaries, innermost first.
func (m *mimeReader) matchBoundary(line []byte) (idx int, final, ok bool) {
	if len(line) < 3 || line[0] != '-' || line[1] != '-' || len(m.bounds) == 0 {
		return 0, false, false
	}
	rest := line[2:]
	for i := len(m.bounds) - 1; i >= 0; i-- {
		b := m.bounds[i]
		if !bytes.HasPrefix(rest, []byte(b)) {
			continue
		}
		tail := rest[len(b):]
		fin := false
		if bytes.HasPrefix(tail, []byte("--")) {
			fin = true
			tail = tail[2:]
		}
		if len(bytes.TrimRight(tail, " \t\r\n")) == 0 {
			return i, fin, true
		}
	}
	return 0, false, false
}

// splitNL splits a line into its content and its line end ("\r\n", "\n" or "").
func splitNL(line []byte) (content, nl []byte) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		if n > 1 && line[n-2] == '\r' {
			return line[:n-2], line[n-2:]
		}
		return line[:n-1], line[n-1:]
	}
	return line, nil
}

// partReader reads one body up to (not including) the line end before the
// next delimiter line of any active boundary, or to the end of input.
type partReader struct {
	m    *mimeReader
	cur  []byte
	nl   [2]byte
	nnl  int
	done bool
}

func (m *mimeReader) body() *partReader {
	m.hit, m.final = -1, false
	return &partReader{m: m}
}

func (p *partReader) Read(b []byte) (int, error) {
	m := p.m
	for len(p.cur) == 0 {
		if p.done {
			return 0, io.EOF
		}
		atStart := !m.midLine
		line, ok := m.readLine()
		if !ok {
			p.done = true
			m.hit = -1
			// At the end of input the last line end belongs to the body.
			m.partBuf = append(m.partBuf[:0], p.nl[:p.nnl]...)
			p.cur, p.nnl = m.partBuf, 0
			continue
		}
		if atStart {
			if i, fin, ok := m.matchBoundary(line); ok {
				// RFC 2046 §5.1.1: the line end before the delimiter
				// belongs to the delimiter.
				p.done = true
				m.hit, m.final = i, fin
				return 0, io.EOF
			}
		}
		content, nl := splitNL(line)
		m.partBuf = append(append(m.partBuf[:0], p.nl[:p.nnl]...), content...)
		p.nnl = copy(p.nl[:], nl)
		p.cur = m.partBuf
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

const maxHeaderBytes = 1 << 20

// readHeader reads a header section leniently. It stops at the blank line,
// at a delimiter line (pushed back: the part has no body), or at the first
// line that is neither a field nor a continuation (pushed back: the body
// started without a blank line). problems describes what was wrong.
func (m *mimeReader) readHeader(top bool) (h textproto.Header, n int, problems []string) {
	var field []byte // current field, raw, with line ends
	var fields [][]byte
	flush := func() {
		if len(field) > 0 {
			kv := make([]byte, len(field))
			copy(kv, field)
			fields = append(fields, kv)
			field = field[:0]
		}
	}
	total := 0
	first := true
	for {
		wasMid := m.midLine
		line, ok := m.readLine()
		if !ok {
			break
		}
		// Join fragments of an over-long line (bounded by maxHeaderBytes).
		if m.midLine {
			m.headBuf = append(m.headBuf[:0], line...)
			for m.midLine && len(m.headBuf) < maxHeaderBytes {
				more, ok := m.readLine()
				if !ok {
					break
				}
				m.headBuf = append(m.headBuf, more...)
			}
			line = m.headBuf
		}
		total += len(line)
		if total > maxHeaderBytes {
			problems = append(problems, "header section over 1 MiB cut off")
			flush()
			break
		}
		if first && top && bytes.HasPrefix(line, []byte("From ")) {
			first = false
			continue // mbox separator line
		}
		first = false
		content, _ := splitNL(line)
		if len(content) == 0 {
			break // end of header
		}
		if !wasMid {
			if _, _, ok := m.matchBoundary(line); ok {
				m.unread(line, wasMid)
				problems = append(problems, "part ends inside its header")
				break
			}
		}
		if content[0] == ' ' || content[0] == '\t' {
			if len(field) > 0 {
				field = append(field, line...)
				continue
			}
			problems = append(problems, "header starts with a continuation line")
			continue
		}
		if validFieldLine(content) {
			flush()
			field = append(field, line...)
			if len(nlOf(line)) == 0 {
				field = append(field, '\r', '\n')
			}
			continue
		}
		// Not a header line: the body starts here without a blank line.
		m.unread(line, wasMid)
		if n == 0 && len(field) == 0 {
			problems = append(problems, "no header")
		} else {
			problems = append(problems, "no blank line between header and body")
		}
		break
	}
	flush()
	// textproto.Header keeps its fields last-first (as its ReadHeader
	// builds them), so that Get returns the first and WriteHeader writes
	// them in the original order.
	for i := len(fields) - 1; i >= 0; i-- {
		h.AddRaw(fields[i])
	}
	return h, len(fields), problems
}

func nlOf(line []byte) []byte {
	_, nl := splitNL(line)
	return nl
}

// validFieldLine reports whether line starts with a field name and a colon
// (RFC 5322 §2.2; spaces before the colon are tolerated).
func validFieldLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}
