package mailin

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// Lenient streaming decoders for Content-Transfer-Encoding (RFC 2045 §6).
// They never fail: what they had to repair is reported through note.

// decodeCTE wraps r in the decoder for the transfer encoding cte. note is
// called (at most once per kind of problem) with a description of a fix.
func decodeCTE(r io.Reader, cte string, note func(string)) io.Reader {
	switch c := normCTE(cte); c {
	case "base64":
		return &b64Reader{br: bufio.NewReaderSize(r, 4096), note: onceNote(note)}
	case "quoted-printable":
		return &qpReader{br: bufio.NewReaderSize(r, 4096), note: onceNote(note)}
	case "", "7bit", "8bit", "binary":
		if c != strings.ToLower(strings.TrimSpace(cte)) {
			note("transfer encoding " + quoteShort(cte) + " read as " + c)
		}
		return r
	default:
		note("unknown transfer encoding " + quoteShort(cte) + " read as 8bit")
		return r
	}
}

var cteSqueezer = strings.NewReplacer("-", "", " ", "", "_", "")

// normCTE maps the spellings seen in the wild ("7-bit", "8bits",
// "quoted printable", "quoted-printable;", "plain") to RFC 2045 names.
func normCTE(cte string) string {
	c := strings.ToLower(strings.TrimSpace(cte))
	if i := strings.IndexByte(c, ';'); i >= 0 {
		c = strings.TrimSpace(c[:i])
	}
	squeezed := cteSqueezer.Replace(c)
	switch squeezed {
	case "base64", "b64":
		return "base64"
	case "quotedprintable", "qp":
		return "quoted-printable"
	case "7bit", "7bits", "8bit", "8bits", "plain", "text", "none", "ascii":
		if strings.HasPrefix(squeezed, "8") {
			return "8bit"
		}
		return "7bit"
	case "binary":
		return "binary"
	}
	return c
}

func onceNote(note func(string)) func(string) {
	seen := map[string]bool{}
	return func(s string) {
		if !seen[s] {
			seen[s] = true
			note(s)
		}
	}
}

func quoteShort(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

var b64Val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = byte(i)
	}
	return t
}()

// b64Reader decodes base64 that may lack padding, carry trailing spaces,
// padding in the middle (concatenated encodings) or junk lines.
type b64Reader struct {
	br   *bufio.Reader
	note func(string)
	q    [4]byte
	nq   int
	out  []byte
	buf  []byte
	eof  bool
}

func (d *b64Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.eof {
			return 0, io.EOF
		}
		line, err := d.br.ReadSlice('\n')
		full := err == nil
		if err != nil && err != bufio.ErrBufferFull {
			d.eof = true
		}
		d.buf = d.buf[:0]
		if full || d.eof {
			t := bytes.TrimSpace(line)
			if len(t) > 0 && !isB64Line(t) {
				d.note("junk line in base64 skipped")
				line = nil
			}
		}
		d.decode(line)
		if d.eof {
			switch d.nq {
			case 2, 3:
				d.note("missing base64 padding")
				d.flushQuantum()
			case 1:
				d.note("truncated base64 (one stray character dropped)")
				d.nq = 0
			}
		}
		d.out = d.buf
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func isB64Line(t []byte) bool {
	for _, c := range t {
		if b64Val[c] == 0xFF && c != '=' {
			return false
		}
	}
	return true
}

func (d *b64Reader) decode(line []byte) {
	for _, c := range line {
		v := b64Val[c]
		if v != 0xFF {
			d.q[d.nq] = v
			d.nq++
			if d.nq == 4 {
				d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2, d.q[2]<<6|d.q[3])
				d.nq = 0
			}
			continue
		}
		if c == '=' && d.nq > 0 {
			if d.nq == 1 {
				d.note("truncated base64 (one stray character dropped)")
				d.nq = 0
			} else {
				d.flushQuantum()
			}
		}
	}
}

func (d *b64Reader) flushQuantum() {
	switch d.nq {
	case 2:
		d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4)
	case 3:
		d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.nq = 0
}

// qpReader decodes quoted-printable (RFC 2045 §6.7) leniently: a bad
// escape is kept literally, lower-case hex is accepted, hard line breaks
// become CRLF whatever the input used, soft breaks may be followed by
// spaces.
type qpReader struct {
	br    *bufio.Reader
	note  func(string)
	carry []byte
	line  []byte
	out   []byte
	buf   []byte
	eof   bool
}

func (d *qpReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.eof {
			return 0, io.EOF
		}
		raw, err := d.br.ReadSlice('\n')
		full := err == nil
		if err != nil && err != bufio.ErrBufferFull {
			d.eof = true
		}
		d.line = append(append(d.line[:0], d.carry...), raw...)
		d.carry = d.carry[:0]
		d.buf = d.buf[:0]
		content, nl := splitNL(d.line)
		if !full && !d.eof {
			// Fragment of a long line: keep a possibly split escape for later.
			k := bytes.LastIndexByte(content, '=')
			if k >= 0 && len(content)-k < 3 {
				d.carry = append(d.carry, content[k:]...)
				content = content[:k]
			}
			d.decode(content)
			d.out = d.buf
			continue
		}
		content = bytes.TrimRight(content, " \t")
		soft := false
		if n := len(content); n > 0 && content[n-1] == '=' {
			soft = true
			content = content[:n-1]
		}
		d.decode(content)
		if !soft && len(nl) > 0 {
			d.buf = append(d.buf, '\r', '\n')
		}
		d.out = d.buf
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (d *qpReader) decode(s []byte) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '=' {
			d.buf = append(d.buf, c)
			continue
		}
		if i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				d.buf = append(d.buf, h<<4|l)
				i += 2
				continue
			}
		}
		d.note("bad quoted-printable escape kept literally")
		d.buf = append(d.buf, '=')
	}
}

// parseParams parses a Content-Type or Content-Disposition value leniently:
// the value before the first ';' (lower-cased) and the parameters, with
// RFC 2231 continuations and charsets joined and decoded. Keys are
// lower-case. Unquoted values may contain spaces; a quote that is not
// closed runs to the end.
func parseParams(v string) (string, map[string]string) {
	head, rest, _ := strings.Cut(v, ";")
	params := map[string]string{}
	type piece struct {
		val     string
		encoded bool
	}
	cont := map[string]map[int]piece{}
	for rest != "" {
		var kv string
		kv, rest = cutParam(rest)
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		quoted := false
		if strings.HasPrefix(val, `"`) {
			quoted = true
			val = unquote(val)
		}
		if k == "" {
			continue
		}
		encoded := strings.HasSuffix(k, "*")
		if encoded {
			k = strings.TrimSuffix(k, "*")
		}
		if name, num, ok := strings.Cut(k, "*"); ok {
			n := 0
			valid := num != ""
			for _, c := range num {
				if c < '0' || c > '9' || n > 1000 {
					valid = false
					break
				}
				n = n*10 + int(c-'0')
			}
			if valid {
				if cont[name] == nil {
					cont[name] = map[int]piece{}
				}
				cont[name][n] = piece{val, encoded && !quoted}
				continue
			}
		}
		if encoded && !quoted {
			params[k] = decode2231(val, true)
			continue
		}
		if _, dup := params[k]; !dup {
			params[k] = val
		}
	}
	for name, parts := range cont {
		if _, ok := params[name]; ok {
			continue
		}
		// RFC 2231 §4.1: only the first section carries charset'language'.
		var raw []byte
		charset := ""
		for i := 0; ; i++ {
			p, ok := parts[i]
			if !ok {
				break
			}
			s := p.val
			if p.encoded {
				if i == 0 {
					if cs, r, ok := cut2231(s); ok {
						charset, s = cs, r
					}
				}
				raw = append(raw, pctDecode(s)...)
			} else {
				raw = append(raw, s...)
			}
		}
		params[name] = DecodeCharset(charset, raw)
	}
	return strings.ToLower(strings.TrimSpace(head)), params
}

// cutParam returns the next ';'-separated piece, honouring quotes.
func cutParam(s string) (string, string) {
	inQ := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQ {
				i++
			}
		case '"':
			inQ = !inQ
		case ';':
			if !inQ {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

func unquote(s string) string {
	s = s[1:]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			b.WriteByte(s[i])
			continue
		}
		if c == '"' {
			break
		}
		b.WriteByte(c)
	}
	return b.String()
}

func cut2231(s string) (charset, rest string, ok bool) {
	i := strings.IndexByte(s, '\'')
	if i < 0 {
		return "", s, false
	}
	j := strings.IndexByte(s[i+1:], '\'')
	if j < 0 {
		return "", s, false
	}
	return s[:i], s[i+1+j+1:], true
}

func decode2231(s string, first bool) string {
	charset := ""
	if first {
		if cs, r, ok := cut2231(s); ok {
			charset, s = cs, r
		}
	}
	return DecodeCharset(charset, pctDecode(s))
}

func pctDecode(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, h<<4|l)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return b
}
