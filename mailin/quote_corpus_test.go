package mailin

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode non-UTF-8 text parts
)

// quoteTestPlainText returns the first text/plain part of a raw message,
// decoded to UTF-8 with LF line ends (a small stand-in for the real parser).
func quoteTestPlainText(t *testing.T, raw []byte) (string, bool) {
	t.Helper()
	ent, _ := message.Read(bytes.NewReader(raw))
	if ent == nil {
		// Unreadable header (mbox "From " line...): take what follows the
		// first blank line.
		s := strings.ReplaceAll(string(raw), "\r\n", "\n")
		if _, b, ok := strings.Cut(s, "\n\n"); ok {
			return b, true
		}
		return "", false
	}
	var text string
	found := false
	_ = ent.Walk(func(_ []int, part *message.Entity, err error) error {
		if found || err != nil {
			return nil
		}
		mt, _, _ := part.Header.ContentType()
		if mt != "text/plain" && mt != "" {
			return nil
		}
		b, err := io.ReadAll(part.Body)
		if err != nil && len(b) == 0 {
			return nil
		}
		text, found = strings.ReplaceAll(string(b), "\r\n", "\n"), true
		return nil
	})
	return text, found
}

// quoteTalonKnownFail lists talon fixtures VisibleText answers differently on
// purpose, with the reason.
var quoteTalonKnownFail = map[string]string{
	// Bottom-posted reply ("On … wrote:\n> Hi \nHello"): new text after a
	// quote is treated as an inline answer and the whole text is kept, so
	// that no answer between quotes is ever lost. talon expects "Hello".
	"standard_replies/thunderbird.eml": "bottom-post kept whole (interleaved rule)",
}

// TestVisibleTextTalon checks VisibleText against mailgun/talon's reply
// fixtures (../../shared/corpus/mailgun-talon). As in talon's own test, the
// expected reply is the <name>_reply_text file, else "Hello". Because
// VisibleText also folds signatures and mobile footers (talon keeps them),
// the expectation is passed through VisibleText too. html_replies/ holds
// HTML fragments, not messages, and is not used here.
func TestVisibleTextTalon(t *testing.T) {
	root := filepath.Join(requireShared(t, "corpus"), "mailgun-talon")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("talon corpus not present: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "standard_replies", "*.eml"))
	more, _ := filepath.Glob(filepath.Join(root, "*.eml"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Skip("no .eml files in the talon corpus")
	}
	// Fixtures whose expectation is not "Hello" and that have no _reply_text.
	special := map[string][2]string{ // prefix, suffix of the visible text
		"reply-quotations-share-block.eml": {"Hi Katharine.", "Joe XXX"},
	}
	pass, fail := 0, 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		rel = filepath.ToSlash(rel)
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		body, ok := quoteTestPlainText(t, raw)
		if !ok {
			t.Errorf("%s: no text/plain part", rel)
			continue
		}
		got := VisibleText(body)
		var problem string
		switch {
		case quoteLooksQuoted(got):
			problem = "quoted history left in"
		default:
			if sp, ok := special[rel]; ok {
				if !strings.HasPrefix(got, sp[0]) || !strings.HasSuffix(got, sp[1]) {
					problem = "reply text differs"
				}
				break
			}
			want := "Hello"
			if b, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + "_reply_text"); err == nil {
				want = VisibleText(string(b))
			}
			if got != want {
				problem = "reply text differs, want " + want
			}
		}
		if problem == "" {
			pass++
			if why, known := quoteTalonKnownFail[rel]; known {
				t.Logf("%s: passes now (was known to fail: %s)", rel, why)
			}
			continue
		}
		fail++
		if why, known := quoteTalonKnownFail[rel]; known {
			t.Logf("%s: known failure (%s): %s", rel, why, problem)
			continue
		}
		t.Errorf("%s: %s\n--- got ---\n%s", rel, problem, got)
	}
	t.Logf("talon: %d pass, %d fail of %d", pass, fail, pass+fail)
	if pass*10 < (pass+fail)*9 {
		t.Errorf("talon pass ratio %d/%d below 90%%", pass, pass+fail)
	}
}

// quoteLooksQuoted reports leftovers of quoted history in a visible text.
func quoteLooksQuoted(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if quoteIsQuoted(l) || quoteSeparatorRe.MatchString(l) || quoteHeaderKindOf(l) == qhFrom ||
			strings.HasSuffix(l, "wrote:") {
			return true
		}
	}
	return false
}

// TestVisibleTextCorpusRobust runs VisibleText over every message of the
// shared corpora: it must not panic, must keep valid UTF-8 valid, must never
// grow the text and never answer "" for a body with text.
func TestVisibleTextCorpusRobust(t *testing.T) {
	root := requireShared(t, "corpus")
	n := 0
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(strings.ToLower(p), ".eml") {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		body, ok := quoteTestPlainText(t, raw)
		if !ok {
			return nil
		}
		n++
		out := VisibleText(body)
		quoteCheckInvariants(t, p, body, out)
		if os.Getenv("QUOTE_DUMP") != "" && out != quoteTestNormalize(body) {
			t.Logf("=== %s\n%s\n~~~ folded from ~~~\n%s", p, out, body)
		}
		return nil
	})
	t.Logf("checked %d plain-text bodies", n)
}

func quoteCheckInvariants(t *testing.T, name, in, out string) {
	t.Helper()
	if len(out) > len(in) {
		t.Errorf("%s: output longer than input (%d > %d)", name, len(out), len(in))
	}
	if utf8.ValidString(in) && !utf8.ValidString(out) {
		t.Errorf("%s: output not valid UTF-8", name)
	}
	if strings.TrimSpace(in) != "" && strings.TrimSpace(out) == "" {
		t.Errorf("%s: empty output for non-empty input %q", name, in)
	}
}

// quoteTestNormalize is the body with only white space trimmed, as
// VisibleText returns it when nothing is folded.
func quoteTestNormalize(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return quoteJoin(lines)
}
