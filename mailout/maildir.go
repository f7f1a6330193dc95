package mailout

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Maildir is the sink used when no relay is configured: every message is a
// file in a maildir (<data_dir>/outbound/Maildir), readable by any mail client.
type Maildir struct {
	dir  string
	host string
	seq  atomic.Uint64
}

// NewMaildir creates (when needed) dir with its tmp, new and cur folders.
func NewMaildir(dir string) (*Maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("mailout: maildir: %w", err)
		}
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	// The maildir spec escapes / and : in the host part of a name.
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &Maildir{dir: dir, host: host}, nil
}

// Dir is the maildir's path.
func (m *Maildir) Dir() string { return m.dir }

// Capabilities: a local file takes any header as it is.
func (m *Maildir) Capabilities(context.Context) (Caps, error) {
	return Caps{SMTPUTF8: true, EightBitMIME: true}, nil
}

// Send writes msg as a new message, the maildir way: a uniquely named file
// in tmp, synced, then renamed into new. Return-Path and Delivered-To carry
// the envelope, as a delivering MTA would add them. Failures are temporary.
func (m *Maildir) Send(ctx context.Context, from, to string, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	name := fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), m.seq.Add(1), m.host)
	tmp := filepath.Join(m.dir, "tmp", name)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Return-Path: <%s>\nDelivered-To: %s\n", from, to)
	// Maildir files use the local line ending.
	buf.Write(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")))
	if err := writeSync(tmp, buf.Bytes()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("maildir: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(m.dir, "new", name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("maildir: %w", err)
	}
	if err := syncDir(filepath.Join(m.dir, "new")); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

func writeSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
