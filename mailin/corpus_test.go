package mailin

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestCorpus feeds every file of ../shared/corpus through the ingest path:
// none may crash or hang, each gives a request or a kept message with a reason.
func TestCorpus(t *testing.T) {
	dir := requireShared(t, "corpus")
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skip("empty corpus")
	}
	h := newHarness(t, "ingest", nil)
	counts := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res := h.feedBytes(f, b)
		counts[res.Outcome]++
		switch res.Outcome {
		case OutcomeCreated, OutcomeAppended:
			if res.Request == 0 {
				t.Errorf("%s: %s without a request", f, res.Outcome)
			}
		case OutcomeHeld, OutcomeAutoReply, OutcomeBounce, OutcomeRefused:
			if res.Reason == "" {
				t.Errorf("%s: %s without a reason", f, res.Outcome)
			}
		case OutcomeDuplicate:
		default:
			t.Errorf("%s: unknown outcome %q", f, res.Outcome)
		}
		if !utf8Valid(h, res.MessageID) {
			t.Errorf("%s: stored text is not valid UTF-8", f)
		}
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("corpus: %d files", len(files))
	for _, k := range keys {
		t.Logf("  %-10s %d", k, counts[k])
	}
}

func utf8Valid(h *harness, msgid string) bool {
	m := h.message(msgid)
	for _, s := range []string{m.BodyText, m.VisibleText, m.Subject, m.FromName, m.HTML} {
		if !validUTF8(s) {
			return false
		}
	}
	return true
}
