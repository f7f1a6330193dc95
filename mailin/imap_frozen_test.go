package mailin

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A server that stops answering in the middle of a connection (here its
// IMAP process is stopped) breaks that connection after the command
// timeout instead of hanging the poller: the cycle fails with a timeout,
// the next one connects afresh and fetches the new mail. Shutdown while
// idling on the hung connection returns promptly.
func TestIMAPFrozenServer(t *testing.T) {
	dc := startDovecot(t)
	dc.save("INBOX", failMail(0, "Boiler noise"))
	h := newHarness(t, "imap", nil)
	acc := dc.account()
	acc.Timeout = 2 * time.Second
	p := newPoller(h, acc)
	if n := pollOnce(t, p); n != 1 {
		t.Fatalf("first cycle: %d, want 1", n)
	}
	if n := dc.Freeze(); n < 1 {
		t.Fatalf("froze %d IMAP processes", n)
	}
	t.Cleanup(func() { dc.Thaw() })
	dc.save("INBOX", failMail(1, "Boiler still noisy"))
	// go-imap keeps only the text of the network error.
	if _, err := p.PollOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "i/o timeout") {
		t.Fatalf("cycle against the hung server: %v; want a timeout", err)
	}
	if n := pollOnce(t, p); n != 1 {
		t.Errorf("after reconnecting: %d committed, want 1", n)
	}

	// Run idles on a connection whose server then hangs; shutdown returns.
	acc.IDLE, acc.PollInterval = true, time.Hour
	p2 := newPoller(h, acc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p2.Run(ctx); close(done) }()
	waitFor(t, 5*time.Second, "a first cycle", func() bool {
		return p2.Status().Connected && !p2.Status().Mailboxes[0].LastPoll.IsZero()
	})
	time.Sleep(200 * time.Millisecond) // into IDLE
	if n := dc.Freeze(); n < 1 {
		t.Fatalf("froze %d IMAP processes", n)
	}
	cancel()
	t0 := time.Now()
	select {
	case <-done:
		t.Logf("Run returned %v after the cancel", time.Since(t0).Round(time.Millisecond))
	case <-time.After(30 * time.Second): // a hang guard, not a speed test
		t.Fatal("Run did not return after shutdown with the server hung")
	}
}

// Shutdown while the poller waits for a hung server to end IDLE (the poll
// interval passed, DONE is sent, no answer comes): it waits logoutTimeout,
// not the whole command timeout.
func TestIMAPFrozenServerEndingIdle(t *testing.T) {
	dc := startDovecot(t)
	h := newHarness(t, "imap", nil)
	acc := dc.account()
	acc.IDLE, acc.PollInterval, acc.Timeout = true, 300*time.Millisecond, time.Minute
	p := newPoller(h, acc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	waitFor(t, 5*time.Second, "a first cycle", func() bool { return !p.Status().Mailboxes[0].LastPoll.IsZero() })
	time.Sleep(100 * time.Millisecond) // into IDLE
	if n := dc.Freeze(); n < 1 {
		t.Fatalf("froze %d IMAP processes", n)
	}
	t.Cleanup(func() { dc.Thaw() })
	time.Sleep(time.Second) // the interval passes: DONE goes out, no answer
	cancel()
	t0 := time.Now()
	select {
	case <-done:
		t.Logf("Run returned %v after the cancel", time.Since(t0).Round(time.Millisecond))
	case <-time.After(30 * time.Second): // a hang guard: the command timeout is a minute
		t.Fatal("Run waited out the command timeout after shutdown")
	}
}
