package mailin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// memSink is a BlobSink keeping blobs in memory, for tests.
type memSink struct {
	blobs map[string][]byte
	fail  error // returned by every Put when set
}

func newMemSink() *memSink { return &memSink{blobs: map[string][]byte{}} }

func (s *memSink) Put(r io.Reader, limit int64) (string, int64, bool, error) {
	if s.fail != nil {
		return "", 0, false, s.fail
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", 0, false, err
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	stored := limit < 0 || int64(len(b)) <= limit
	if stored {
		s.blobs[h] = b
	}
	return h, int64(len(b)), stored, nil
}

// hashSink hashes and discards, like a store that writes to disk.
type hashSink struct{}

func (hashSink) Put(r io.Reader, limit int64) (string, int64, bool, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n, limit < 0 || n <= limit, err
}

// sharedDir finds /work/shared's sub-directory sub: ../../shared from
// mailin/ in the main checkout, one level more from a worktree under wt/.
func sharedDir(sub string) string {
	for _, d := range []string{"../../shared", "../../../shared"} {
		if st, err := os.Stat(filepath.Join(d, sub)); err == nil && st.IsDir() {
			return filepath.Join(d, sub)
		}
	}
	return filepath.Join("../../shared", sub)
}

var casesDir = sharedDir("cases")

// readCase returns a case file, skipping the test when the shared cases are absent.
func readCase(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(casesDir, name))
	if os.IsNotExist(err) {
		t.Skipf("case %s not present", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "parse", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t *testing.T, raw []byte, opt ParseOptions) (*Parsed, *memSink) {
	t.Helper()
	sink := newMemSink()
	p, err := Parse(bytes.NewReader(raw), sink, opt)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p, sink
}

// normText is N(text) of EXPECTED.md: CRLF to LF, trailing white space of
// the whole text removed.
func normText(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), " \t\r\n")
}

func findAtt(p *Parsed, name string) *Attachment {
	for i := range p.Attachments {
		if p.Attachments[i].Name == name {
			return &p.Attachments[i]
		}
	}
	return nil
}
