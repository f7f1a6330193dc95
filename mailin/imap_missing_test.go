package mailin

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A polled mailbox the server will not open does not stop the others: the
// cycle reads them, notes the error once, and picks the mailbox up when it
// appears; IDLE waits on the first mailbox that opens.
func TestIMAPMissingMailbox(t *testing.T) {
	dc := startDovecot(t)
	dc.save("INBOX", failMail(0, "Leak in the basement"))
	h := newHarness(t, "imap", nil)
	var logs syncBuffer
	acc := dc.account()
	acc.Mailboxes = []string{"Support", "INBOX"}
	p := NewPoller(h.in, h.st, acc, slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(p.Disconnect)
	for range 3 {
		if _, err := p.PollOnce(context.Background()); err != nil {
			t.Fatalf("cycle with a missing mailbox: %v", err)
		}
	}
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d requests, want the 1 in INBOX", n)
	}
	if s := p.Status(); s.Errors != 3 || s.LastStep != "select" {
		t.Errorf("status: %d errors, last step %q; want 3, select", s.Errors, s.LastStep)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d ERROR lines, want 1:\n%s", n, logs.String())
	}

	// IDLE on INBOX: a new message there starts the next cycle at once.
	acc.IDLE, acc.PollInterval = true, time.Hour
	p2 := newPoller(h, acc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { p2.Run(ctx); close(done) }()
	waitFor(t, 10*time.Second, "the first cycle", func() bool { return !p2.Status().Mailboxes[1].LastPoll.IsZero() })
	time.Sleep(200 * time.Millisecond) // into IDLE
	dc.save("INBOX", failMail(1, "Leak again"))
	// A hang guard: the poll interval is an hour.
	waitFor(t, 10*time.Second, "the new INBOX message through IDLE", func() bool { return len(h.requests()) == 2 })
	cancel()
	<-done

	dc.create("Support")
	dc.save("Support", failMail(2, "Door lock"))
	pollOnce(t, p)
	if n := len(h.requests()); n != 3 {
		t.Errorf("%d requests once Support exists, want 3", n)
	}
	if !strings.Contains(logs.String(), "mailbox readable again") {
		t.Errorf("no line saying Support is back:\n%s", logs.String())
	}
}

// A processed_mailbox the server will not make (a name with the wrong
// hierarchy separator) does not send the poller round in circles: the mail
// is filed, marked \Seen where it is instead, one ERROR line says so, and
// the next cycle fetches nothing.
func TestIMAPProcessedMailboxRefused(t *testing.T) {
	dc := startDovecot(t)
	for i := range 3 {
		dc.save("INBOX", failMail(i, "Heating "+string(rune('A'+i))))
	}
	h := newHarness(t, "imap", nil)
	var logs syncBuffer
	acc := dc.account()
	acc.ProcessedMailbox = "Processed/2026" // Dovecot's separator here is "."
	p := NewPoller(h.in, h.st, acc, slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(p.Disconnect)
	if n := pollOnce(t, p); n != 3 {
		t.Errorf("first cycle filed %d, want 3", n)
	}
	dc.save("INBOX", failMail(3, "Heating D"))
	if n := pollOnce(t, p); n != 1 {
		t.Errorf("second cycle filed %d, want the 1 new message", n)
	}
	if n := pollOnce(t, p); n != 0 {
		t.Errorf("third cycle filed %d, want 0", n)
	}
	for uid, f := range dc.flags("INBOX") {
		if !strings.Contains(f, `\Seen`) {
			t.Errorf("UID %s: %q, want \\Seen", uid, f)
		}
	}
	if n := strings.Count(logs.String(), "refuses to move"); n != 1 {
		t.Errorf("%d lines about the refused move, want 1:\n%s", n, logs.String())
	}
	if s := p.Status(); s.LastStep != "move" || s.Errors != 2 || !s.MoveRefused {
		t.Errorf("status: last step %q, errors %d, move refused %v; want move, 2, true", s.LastStep, s.Errors, s.MoveRefused)
	}
}
