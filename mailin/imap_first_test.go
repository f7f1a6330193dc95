package mailin

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// seedSeen saves n mails into INBOX of which the first seen are \Seen
// already (read by someone before tikkit came).
func seedSeen(t *testing.T, dc *dovecot, n, seen int) {
	t.Helper()
	for i := range n {
		dc.save("INBOX", failMail(i, fmt.Sprintf("Old request %d", i)))
	}
	if seen > 0 {
		dc.adm(nil, "flags add", `\Seen`, "mailbox", "INBOX", "uid", fmt.Sprintf("1:%d", seen))
	}
}

// The first poll of a mailbox files the mail already there as
// import_existing says: unseen (the default: read mail was dealt with), all,
// or none. From then on every new message is filed, read or not.
func TestIMAPFirstPollExisting(t *testing.T) {
	for _, tc := range []struct {
		existing string
		first    int
	}{{"", 2}, {"unseen", 2}, {"all", 5}, {"none", 0}} {
		t.Run(fmt.Sprintf("import_existing=%q", tc.existing), func(t *testing.T) {
			dc := startDovecot(t)
			seedSeen(t, dc, 5, 3)
			h := newHarness(t, "imap", nil)
			acc := dc.account()
			acc.Existing = tc.existing
			p := newPoller(h, acc)
			if n := pollOnce(t, p); n != tc.first {
				t.Errorf("first poll filed %d, want %d", n, tc.first)
			}
			// New mail, read in another client before tikkit polls: filed.
			dc.save("INBOX", failMail(5, "New request"))
			dc.adm(nil, "flags add", `\Seen`, "mailbox", "INBOX", "uid", "6")
			if n := pollOnce(t, p); n != 1 {
				t.Errorf("second poll filed %d, want the 1 new message", n)
			}
			if n := pollOnce(t, p); n != 0 {
				t.Errorf("third poll filed %d, want 0", n)
			}
			if n := len(h.requests()); n != tc.first+1 {
				t.Errorf("%d requests, want %d", n, tc.first+1)
			}
		})
	}
}

// A first poll cut short (shutdown after its first commit) records no
// state: the next poll is a first poll again, and files the rest of the
// unread mail, not the read mail.
func TestIMAPFirstPollInterrupted(t *testing.T) {
	dc := startDovecot(t)
	seedSeen(t, dc, 8, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(t, "imap", func(o *Options) {
		o.Observe = func(string, float64) { cancel() }
	})
	acc := dc.account()
	acc.Batch = 1
	p := newPoller(h, acc)
	n, _ := p.PollOnce(ctx)
	if n < 1 || n >= 5 {
		t.Fatalf("interrupted first poll filed %d; want between 1 and 4 of the 5 unread", n)
	}
	if _, err := h.st.IMAPState(context.Background(), p.Status().Account, "INBOX"); err == nil {
		t.Error("state recorded by an interrupted first poll")
	}
	p2 := newPoller(h, acc)
	if got := pollOnce(t, p2); got != 5-n {
		t.Errorf("second poll filed %d, want the %d left", got, 5-n)
	}
	var subjects []string
	for _, r := range h.requests() {
		subjects = append(subjects, r.Subject)
	}
	slices.Sort(subjects)
	want := []string{"Old request 3", "Old request 4", "Old request 5", "Old request 6", "Old request 7"}
	if !slices.Equal(subjects, want) {
		t.Errorf("requests %v, want %v", subjects, want)
	}
	if n := pollOnce(t, p2); n != 0 {
		t.Errorf("third poll filed %d, want 0", n)
	}
}
