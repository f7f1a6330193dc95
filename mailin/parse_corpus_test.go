package mailin

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// Every file of the shared corpus parses without panic, with valid UTF-8
// text; counts are printed for a look at how the parser fares.
func TestParseCorpus(t *testing.T) {
	dir := sharedDir("corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("corpus not present")
	}
	kinds := map[string]int{}
	unparseable, files, problems, atts := 0, 0, 0, 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		p, err := Parse(bytes.NewReader(raw), hashSink{}, ParseOptions{})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		if strings.HasPrefix(p.Unparseable, "internal error") {
			t.Errorf("%s: %s", path, p.Unparseable)
		}
		if !utf8.ValidString(p.Text) || !utf8.ValidString(p.HTML) || !utf8.ValidString(p.Subject) {
			t.Errorf("%s: invalid UTF-8 in Text/HTML/Subject", path)
		}
		if strings.ContainsAny(p.Text, "\r\x00") {
			t.Errorf("%s: CR or NUL in Text", path)
		}
		if p.Unparseable != "" {
			unparseable++
		} else {
			kinds[p.TextFrom]++
		}
		problems += len(p.Problems)
		atts += len(p.Attachments)
		if testing.Verbose() && len(p.Problems) > 0 {
			t.Logf("%s: %q", strings.TrimPrefix(path, dir+"/"), p.Problems)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for k, n := range kinds {
		ks = append(ks, k+"="+itoa(n))
	}
	sort.Strings(ks)
	t.Logf("corpus: %d files, TextFrom %s, unparseable %d, attachments %d, problems %d",
		files, strings.Join(ks, " "), unparseable, atts, problems)
}

func itoa(n int) string { return uitoa(uint32(n)) }

// A reader that fails mid-message: the parser keeps what it read.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestParseTruncatedInput(t *testing.T) {
	raw := readCase(t, "17-html-only-inline-cid.eml")
	p, err := Parse(&failingReader{r: bytes.NewReader(raw), n: len(raw) / 2}, newMemSink(), ParseOptions{})
	if err != nil || p.Unparseable != "" || p.Subject == "" {
		t.Fatalf("err %v Unparseable %q Subject %q", err, p.Unparseable, p.Subject)
	}
	if !strings.Contains(strings.Join(p.Problems, "\n"), "truncated") {
		t.Errorf("Problems = %q", p.Problems)
	}
}

func FuzzTNEF(f *testing.F) {
	f.Add([]byte{0x78, 0x9f, 0x3e, 0x22, 0, 0})
	if raw, err := os.ReadFile(filepath.Join(casesDir, "14-tnef-winmail-dat.eml")); err == nil {
		sink := newMemSink()
		if p, err := Parse(bytes.NewReader(raw), sink, ParseOptions{}); err == nil {
			if a := findAtt(p, "winmail.dat"); a != nil {
				f.Add(sink.blobs[a.SHA256])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		files, _, _ := readTNEF(data)
		for _, fl := range files {
			if len(fl.Data) > len(data) {
				t.Fatalf("file larger than input")
			}
		}
		_, _ = readMAPIProps(data)
	})
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"missing-final-boundary.eml", "rfc2231-filename.eml", "qp-bad-escape.eml", "report-returned-message.eml"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "parse", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(bytes.NewReader(data), hashSink{}, ParseOptions{MaxTextBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.Unparseable, "internal error") {
			t.Fatal(p.Unparseable)
		}
		if !utf8.ValidString(p.Text) {
			t.Fatal("invalid UTF-8 text")
		}
	})
}
