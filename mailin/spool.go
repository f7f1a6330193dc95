package mailin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is returned by Spool when a message is over the size limit.
var ErrTooLarge = errors.New("mailin: message too large")

// memSpoolMax is how much of a message is kept in memory before it is
// spooled to a file; larger messages are streamed, never buffered whole.
const memSpoolMax = 1 << 20

// Raw is one received message, byte-for-byte: in memory when small, in a
// spool file when large. The ingester owns a spool file once given one.
type Raw struct {
	Bytes  []byte
	Path   string
	SHA256 string
	Size   int64
}

// Open returns a reader over the raw message.
func (r *Raw) Open() (io.ReadCloser, error) {
	if r.Path == "" {
		return io.NopCloser(bytes.NewReader(r.Bytes)), nil
	}
	return os.Open(r.Path)
}

// Discard removes the spool file, if any.
func (r *Raw) Discard() {
	if r.Path != "" {
		os.Remove(r.Path)
	}
}

// RawBytes wraps an in-memory message.
func RawBytes(b []byte) *Raw {
	sum := sha256.Sum256(b)
	return &Raw{Bytes: b, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}
}

// Spool reads r to EOF into memory or, past memSpoolMax, into a file in
// dir, hashing as it goes. max < 0 means no limit; over max it reads no
// further and returns ErrTooLarge.
func Spool(r io.Reader, dir string, max int64) (*Raw, error) {
	h := sha256.New()
	var buf bytes.Buffer
	lim := int64(memSpoolMax) + 1
	n, err := io.Copy(&buf, io.LimitReader(r, lim))
	if err != nil {
		return nil, fmt.Errorf("mailin: read message: %w", err)
	}
	if max >= 0 && n > max {
		return nil, ErrTooLarge
	}
	if n < lim {
		h.Write(buf.Bytes())
		return &Raw{Bytes: buf.Bytes(), SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
	}
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		return nil, fmt.Errorf("mailin: spool: %w", err)
	}
	ok := false
	defer func() {
		f.Close()
		if !ok {
			os.Remove(f.Name())
		}
	}()
	w := io.MultiWriter(f, h)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("mailin: spool: %w", err)
	}
	rest := r
	if max >= 0 {
		rest = io.LimitReader(r, max-n+1)
	}
	m, err := io.Copy(w, rest)
	if err != nil {
		return nil, fmt.Errorf("mailin: spool: %w", err)
	}
	n += m
	if max >= 0 && n > max {
		return nil, ErrTooLarge
	}
	ok = true
	return &Raw{Path: f.Name(), SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
