package mailin

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// storedIDs returns the Message-IDs of the messages h committed.
func (h *harness) storedIDs() map[string]bool {
	var ids []string
	if err := h.st.DB().Select(&ids, "SELECT message_id FROM messages"); err != nil {
		h.t.Fatal(err)
	}
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// SIGTERM in the middle of a batch: Run returns within seconds; whatever
// it committed is \Seen in the mailbox, and nothing else is; the next
// cycle (a restarted daemon) ingests the rest, so every seeded message
// makes exactly one request.
func TestIMAPShutdownMidBatch(t *testing.T) {
	const seeded = 50
	dc := startDovecot(t)
	dc.seedMaildir(seeded, 2000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	var cancelled time.Time
	h := newHarness(t, "imap", func(o *Options) {
		o.Observe = func(string, float64) {
			once.Do(func() { cancelled = time.Now(); cancel() }) // SIGTERM after the first commit
		}
	})
	acc := dc.account()
	acc.Batch = 10
	var logs syncBuffer
	p := NewPoller(h.in, h.st, acc, slog.New(slog.NewTextHandler(&logs, nil)))
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(8 * time.Second):
		t.Fatal("Run did not return within 8 s of the start")
	}
	if cancelled.IsZero() {
		t.Fatal("nothing was committed: the test proves nothing")
	}
	if d := time.Since(cancelled); d > 3*time.Second {
		t.Errorf("Run returned %v after its context ended", d)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a shutdown logged an error:\n%s", logs.String())
	}

	committed := h.storedIDs()
	seen, all := dc.messageIDs("INBOX")
	if len(all) != seeded {
		t.Fatalf("%d messages in INBOX, want %d", len(all), seeded)
	}
	if len(committed) == 0 || len(committed) == seeded {
		t.Fatalf("%d of %d committed before shutdown: the cancel did not land mid-way", len(committed), seeded)
	}
	for id := range committed {
		if !seen[id] {
			t.Errorf("%s committed but not \\Seen after shutdown", id)
		}
	}
	for id := range seen {
		if !committed[id] {
			t.Errorf("%s \\Seen but not committed", id)
		}
	}
	t.Logf("shutdown after %d of %d committed, Run returned %v after the cancel",
		len(committed), seeded, time.Since(cancelled).Round(time.Millisecond))

	// The restarted daemon: same store, a new poller.
	p2 := newPoller(h, acc)
	n := pollOnce(t, p2)
	if n < seeded-len(committed) {
		t.Errorf("second cycle committed %d, want at least the %d left", n, seeded-len(committed))
	}
	if rs := h.requests(); len(rs) != seeded {
		t.Errorf("%d requests, want %d", len(rs), seeded)
	}
	if got := h.storedIDs(); len(got) != seeded {
		t.Errorf("%d messages stored, want %d", len(got), seeded)
	}
	seen, _ = dc.messageIDs("INBOX")
	if len(seen) != seeded {
		t.Errorf("%d of %d \\Seen at the end", len(seen), seeded)
	}
	if n := pollOnce(t, p2); n != 0 {
		t.Errorf("third cycle committed %d, want 0", n)
	}
}
