package mailin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
)

// failMail is a plain new request from its own sender.
func failMail(i int, subject string) []byte {
	return fmt.Appendf(nil, "From: Tenant %d <tenant%d@example.net>\r\nTo: maintenance@example.com\r\n"+
		"Subject: %s\r\nMessage-ID: <fail-%d@example.net>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\n"+
		"The radiator in suite %d is cold.\r\n", i, i, subject, i, i)
}

// A message whose processing fails for good (here a trigger refuses its
// request, standing in for any bug or constraint) is not refused with a
// temporary error for ever: it is kept held, raw bytes and all, with the
// reason, and the messages committed beside it in the same batch are not
// affected. Only when even holding it fails is the error temporary.
func TestIngestFailureKeepsMessageHeld(t *testing.T) {
	h := newHarness(t, "ingest", nil)
	ctx := context.Background()
	db := h.st.DB()
	for _, q := range []string{
		`CREATE TRIGGER test_boom BEFORE INSERT ON requests WHEN NEW.subject LIKE '%BOOM%'
		 BEGIN SELECT RAISE(ABORT, 'boom from the test trigger'); END`,
		`CREATE TRIGGER test_disk BEFORE INSERT ON messages WHEN NEW.subject LIKE '%DISK%'
		 BEGIN SELECT RAISE(ABORT, 'disk from the test trigger'); END`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	// Ten messages at once, so that they share group commits with the
	// failing one.
	type out struct {
		res Result
		err error
	}
	outs := make([]out, 10)
	var wg sync.WaitGroup
	for i := range outs {
		subject := fmt.Sprintf("Cold radiator %d", i)
		switch i {
		case 3:
			subject = "BOOM cold radiator"
		case 6:
			subject = "DISK cold radiator"
		}
		raw := RawBytes(failMail(i, subject))
		wg.Go(func() {
			outs[i].res, outs[i].err = h.in.Ingest(ctx, Delivery{Source: "smtp", Raw: raw})
		})
	}
	wg.Wait()

	for i, o := range outs {
		switch i {
		case 3:
			if o.err != nil {
				t.Fatalf("message 3: %v; want it kept held", o.err)
			}
			if o.res.Outcome != OutcomeHeld || !strings.Contains(o.res.Reason, "ingest failed") || !strings.Contains(o.res.Reason, "boom from the test trigger") {
				t.Errorf("message 3: %+v; want held with the failure as reason", o.res)
			}
			m := h.message("fail-3@example.net")
			if m.Outcome != OutcomeHeld || m.RequestID.Valid || !strings.Contains(m.Reason, "boom") {
				t.Errorf("stored message 3: outcome %q request %v reason %q", m.Outcome, m.RequestID, m.Reason)
			}
			raw, err := h.st.Raw(ctx, m.RawSHA256)
			if err != nil || !strings.Contains(string(raw), "BOOM cold radiator") {
				t.Errorf("raw of message 3 not kept: %v", err)
			}
		case 6:
			var te *TempError
			if !errors.As(o.err, &te) {
				t.Fatalf("message 6: %v; want a temporary error when even holding fails", o.err)
			}
			if _, err := h.st.MessageByMessageID(ctx, "fail-6@example.net"); err == nil {
				t.Error("message 6 stored although its commit failed")
			}
		default:
			if o.err != nil || o.res.Outcome != OutcomeCreated {
				t.Errorf("message %d: %+v, %v; want a new request", i, o.res, o.err)
			}
		}
	}
	if n := len(h.requests()); n != 8 {
		t.Errorf("%d requests, want 8", n)
	}

	// Delivered again, the held message is a duplicate, not a new failure.
	res, err := h.in.Ingest(ctx, Delivery{Source: "smtp", Raw: RawBytes(failMail(3, "BOOM cold radiator"))})
	if err != nil || res.Outcome != OutcomeDuplicate {
		t.Errorf("second delivery of message 3: %+v, %v; want duplicate", res, err)
	}
	// Once the cause is gone, reprocess turns it into a request.
	if _, err := db.Exec(`DROP TRIGGER test_boom`); err != nil {
		t.Fatal(err)
	}
	res, err = h.in.Reprocess(ctx, h.message("fail-3@example.net").ID)
	if err != nil || res.Outcome != OutcomeCreated {
		t.Errorf("reprocess of message 3: %+v, %v; want a new request", res, err)
	}
}

// Over IMAP: a message whose processing fails for good is held and marked
// \Seen with the others, and never fetched again; one that cannot even be
// held (the store is failing) stays unseen, the cycle reports the error,
// and once the store works again the next cycle imports it.
func TestIMAPIngestFailure(t *testing.T) {
	dc := startDovecot(t)
	for i, subject := range []string{"Cold radiator", "BOOM radiator", "Door sticks", "DISK full", "Light out"} {
		dc.save("INBOX", failMail(i, subject))
	}
	h := newHarness(t, "imap", nil)
	for _, q := range []string{
		`CREATE TRIGGER test_boom BEFORE INSERT ON requests WHEN NEW.subject LIKE '%BOOM%'
		 BEGIN SELECT RAISE(ABORT, 'boom from the test trigger'); END`,
		`CREATE TRIGGER test_disk BEFORE INSERT ON messages WHEN NEW.subject LIKE '%DISK%'
		 BEGIN SELECT RAISE(ABORT, 'disk from the test trigger'); END`,
	} {
		if _, err := h.st.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	p := newPoller(h, dc.account())
	n, err := p.PollOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk from the test trigger") {
		t.Fatalf("first cycle: %d, %v; want the store failure reported", n, err)
	}
	want := map[string]string{"1": `\Seen`, "2": `\Seen`, "3": `\Seen`, "4": "", "5": `\Seen`}
	if got := dc.flags("INBOX"); !maps.Equal(got, want) {
		t.Errorf("flags after the first cycle: %v, want %v", got, want)
	}
	if m := h.message("fail-1@example.net"); m.Outcome != OutcomeHeld || !strings.Contains(m.Reason, "boom") {
		t.Errorf("BOOM message: %s %q, want held", m.Outcome, m.Reason)
	}
	if _, err := h.st.DB().Exec(`DROP TRIGGER test_disk`); err != nil {
		t.Fatal(err)
	}
	pollOnce(t, p)
	if got := dc.flags("INBOX"); !maps.Equal(got, map[string]string{"1": `\Seen`, "2": `\Seen`, "3": `\Seen`, "4": `\Seen`, "5": `\Seen`}) {
		t.Errorf("flags after the second cycle: %v", got)
	}
	if n := pollOnce(t, p); n != 0 {
		t.Errorf("third cycle fetched %d, want 0", n)
	}
	var held, created, deliveries int
	db := h.st.DB()
	db.Get(&held, `SELECT COUNT(*) FROM messages WHERE outcome = 'held'`)
	db.Get(&created, `SELECT COUNT(*) FROM requests`)
	db.Get(&deliveries, `SELECT COUNT(*) FROM deliveries WHERE outcome <> 'duplicate'`)
	if held != 1 || created != 4 || deliveries != 5 {
		t.Errorf("held %d, requests %d, deliveries %d; want 1, 4, 5", held, created, deliveries)
	}
}
