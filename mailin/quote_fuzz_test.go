package mailin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzVisibleText: no panic, valid UTF-8 in gives valid UTF-8 out, never
// longer than the input, never "" for a body with text.
func FuzzVisibleText(f *testing.F) {
	ins, _ := filepath.Glob(filepath.Join("testdata", "quote", "*.in.txt"))
	for _, in := range ins {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		"", "\n", "> a\nb\n> c", "-- \n", "On Mon, 1 Jan 2026 <\na@b.c> wrote:\n> x",
		"x\n________\nFrom: a\nSent: b\n", "From: a Sent: b To: c Subject: d", "Begin forwarded message:\n> x",
		"a\r\nb\xff\n\xe2\x80", "Sent from my iPhone", "回复：\n2026年11月16日 8:12 <a@b.c>:\n> x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got := VisibleText(body)
		if len(got) > len(body) {
			t.Fatalf("output longer than input: %q -> %q", body, got)
		}
		if utf8.ValidString(body) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of valid input: %q -> %q", body, got)
		}
		if strings.TrimSpace(body) != "" && got == "" {
			t.Fatalf("empty output for %q", body)
		}
	})
}
