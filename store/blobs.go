package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Blobs is a content-addressed file store: blobs/ab/abcdef… by sha256.
// Files are written to a temporary name, synced, then renamed, so a blob
// that exists is complete.
type Blobs struct {
	dir string
	tmp string
}

// NewBlobs opens (creating) the blob store below dataDir.
func NewBlobs(dataDir string) (*Blobs, error) {
	b := &Blobs{dir: filepath.Join(dataDir, "blobs"), tmp: filepath.Join(dataDir, "tmp")}
	for _, d := range []string{b.dir, b.tmp} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("store: blobs: %w", err)
		}
	}
	return b, nil
}

// TempDir is where spool files are written (same file system as the blobs).
func (b *Blobs) TempDir() string { return b.tmp }

// Path returns where the blob with this sha256 lives.
func (b *Blobs) Path(sha string) string {
	if len(sha) < 2 {
		return filepath.Join(b.dir, "_", sha)
	}
	return filepath.Join(b.dir, sha[:2], sha)
}

// Has reports whether the blob exists.
func (b *Blobs) Has(sha string) bool {
	_, err := os.Stat(b.Path(sha))
	return err == nil
}

// Open opens a stored blob.
func (b *Blobs) Open(sha string) (*os.File, error) {
	f, err := os.Open(b.Path(sha))
	if os.IsNotExist(err) {
		return nil, ErrNotFound
	}
	return f, err
}

// Put reads r to EOF and stores it under its sha256 unless limit >= 0 and
// it is larger than limit; the hash and size are always of all of r.
func (b *Blobs) Put(r io.Reader, limit int64) (string, int64, bool, error) {
	f, err := os.CreateTemp(b.tmp, "blob-*")
	if err != nil {
		return "", 0, false, fmt.Errorf("store: blob temp: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	var w io.Writer = f
	if limit >= 0 {
		w = &limitedWriter{w: f, n: limit}
	}
	n, err := io.Copy(io.MultiWriter(h, w), r)
	if err != nil {
		return "", n, false, fmt.Errorf("store: blob write: %w", err)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	if limit >= 0 && n > limit {
		return sha, n, false, nil
	}
	if err := b.commit(f, sha); err != nil {
		return "", n, false, err
	}
	return sha, n, true, nil
}

// PutFile moves an already written and hashed file into the store.
func (b *Blobs) PutFile(path, sha string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: blob: %w", err)
	}
	defer f.Close()
	if err := b.commit(f, sha); err != nil {
		return err
	}
	return nil
}

func (b *Blobs) commit(f *os.File, sha string) error {
	dst := b.Path(sha)
	if _, err := os.Stat(dst); err == nil {
		return nil // content-addressed: already there
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: blob sync: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("store: blob dir: %w", err)
	}
	if err := os.Link(f.Name(), dst); err != nil && !os.IsExist(err) {
		if err := copyFile(f.Name(), dst); err != nil {
			return err
		}
	}
	return syncDir(filepath.Dir(dst))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".part"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("store: blob copy: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("store: blob copy: %w", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	out.Close()
	return os.Rename(tmp, dst)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // best effort: not every file system syncs directories
	return nil
}

// limitedWriter writes at most n bytes and silently drops the rest, so the
// caller can keep hashing a stream that is over the limit.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if int64(len(q)) > l.n {
		q = q[:l.n]
	}
	n, err := l.w.Write(q)
	l.n -= int64(n)
	if err != nil {
		return n, err
	}
	return len(p), nil
}
