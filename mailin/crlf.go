package mailin

import (
	"net"
)

// crlfListener works around a flaw of the SMTP data reader (go-smtp, like
// net/textproto): after "\r\r\n" it loses track of line starts, so a
// message whose last line ends in CR CR LF never reaches its end marker and
// the session hangs until the read timeout — and the sender retries the
// same hang forever. Runs of CR before LF are folded into one CRLF on the
// wire; a bare CR elsewhere is passed on untouched.
type crlfListener struct{ net.Listener }

func (l crlfListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &crlfConn{Conn: c}, nil
}

// maxHeldCRs bounds the CRs held back while waiting to see what follows;
// a longer run is passed on (only its last maxHeldCRs can be folded).
const maxHeldCRs = 8

type crlfConn struct {
	net.Conn
	crs int    // CRs read but not yet passed on
	buf []byte // raw input
}

func (c *crlfConn) Read(p []byte) (int, error) {
	if len(p) <= maxHeldCRs {
		return c.Conn.Read(p) // never with bufio's buffers; no folding then
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	for {
		// Output is at most the held CRs plus one byte per input byte.
		raw := c.buf[:len(p)-c.crs]
		n, err := c.Conn.Read(raw)
		out := 0
		for _, b := range raw[:n] {
			switch {
			case b == '\r' && c.crs == maxHeldCRs:
				p[out] = '\r' // pass the oldest on, hold this one
				out++
			case b == '\r':
				c.crs++
			case b == '\n' && c.crs > 0:
				c.crs = 0
				p[out], p[out+1] = '\r', '\n'
				out += 2
			default:
				for ; c.crs > 0; c.crs-- {
					p[out] = '\r'
					out++
				}
				p[out] = b
				out++
			}
		}
		if err != nil {
			for ; c.crs > 0; c.crs-- {
				p[out] = '\r'
				out++
			}
			return out, err
		}
		if out > 0 {
			return out, nil
		}
	}
}
