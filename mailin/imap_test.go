package mailin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// caseFiles returns the .eml files of ../shared/cases in order.
func caseFiles(t *testing.T) (dir string, names []string) {
	t.Helper()
	dir = requireShared(t, "cases")
	all, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	for _, f := range all {
		names = append(names, filepath.Base(f))
	}
	slices.Sort(names)
	return dir, names
}

// subjects lists the requests of h as "number subject".
func (h *harness) subjects() []string {
	var out []string
	for _, r := range h.requests() {
		out = append(out, fmt.Sprintf("%d %s", r.Number, r.Subject))
	}
	slices.Sort(out)
	return out
}

func pollOnce(t *testing.T, p *Poller) int {
	t.Helper()
	n, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatalf("PollOnce: %v", err)
	}
	return n
}

func newPoller(h *harness, acc IMAPAccount) *Poller {
	p := NewPoller(h.in, h.st, acc, nil)
	h.t.Cleanup(p.Disconnect)
	return p
}

// The cases appended to INBOX become the same requests as through
// `ingest`; every message ends \Seen; a second cycle fetches nothing.
func TestIMAPCasesLikeIngest(t *testing.T) {
	dir, names := caseFiles(t)
	dc := startDovecot(t)
	ref := newHarness(t, "ingest", nil)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		ref.feedBytes(n, b)
		dc.save("INBOX", b)
	}
	h := newHarness(t, "imap", nil)
	acc := dc.account()
	acc.Batch = 7 // several batches
	p := newPoller(h, acc)
	if n := pollOnce(t, p); n != len(names) {
		t.Errorf("first cycle committed %d messages, want %d", n, len(names))
	}
	if got, want := h.subjects(), ref.subjects(); !slices.Equal(got, want) {
		t.Errorf("requests through IMAP:\n%s\nthrough ingest:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for uid, f := range dc.flags("INBOX") {
		if !strings.Contains(f, `\Seen`) {
			t.Errorf("UID %s not \\Seen after commit: %q", uid, f)
		}
	}
	if n := pollOnce(t, p); n != 0 {
		t.Errorf("second cycle committed %d messages, want 0", n)
	}
	st := p.Status()
	// Fetched counts what was filed: a case that repeats another (a
	// duplicate) is not counted.
	if !st.Connected || st.Fetched != int64(len(h.storedIDs())) || st.Errors != 0 || len(st.Mailboxes) != 1 ||
		st.Mailboxes[0].LastPoll.IsZero() || st.Mailboxes[0].LastUID != uint32(len(names)) {
		t.Errorf("Status = %+v", st)
	}
}

// Messages are marked (\Seen, or moved) only after their commit: when
// Ingest reports a commit, the message is still unmarked in the mailbox.
func TestIMAPMarkAfterCommit(t *testing.T) {
	_, names := caseFiles(t)
	names = names[:4]
	for _, mode := range []string{"seen", "move", "move to a mailbox to create"} {
		t.Run(mode, func(t *testing.T) {
			move := mode != "seen"
			dc := startDovecot(t)
			for _, n := range names {
				dc.save("INBOX", readCase(t, n))
			}
			acc := dc.account()
			if move {
				if mode == "move" {
					dc.create("Done")
				}
				acc.ProcessedMailbox = "Done"
			}
			var mu sync.Mutex
			var early []string
			h := newHarness(t, "imap", func(o *Options) {
				o.Observe = func(outcome string, _ float64) {
					mu.Lock()
					defer mu.Unlock()
					if move {
						if n := dc.count("INBOX"); n != len(names) {
							early = append(early, fmt.Sprintf("%d in INBOX at a commit", n))
						}
						return
					}
					for uid, f := range dc.flags("INBOX") {
						if strings.Contains(f, `\Seen`) {
							early = append(early, "UID "+uid+" \\Seen at a commit")
						}
					}
				}
			})
			pollOnce(t, newPoller(h, acc))
			if len(early) > 0 {
				t.Errorf("marked before commit: %v", early)
			}
			if move {
				if in, done := dc.count("INBOX"), dc.count("Done"); in != 0 || done != len(names) {
					t.Errorf("after the cycle: INBOX %d, Done %d; want 0, %d", in, done, len(names))
				}
			}
		})
	}
}

// failMark wraps a connection whose first Processed fails, as if the
// daemon died between the commit and the \Seen.
type failMark struct {
	imapConn
	fail *bool
}

func (f failMark) Processed(uids []uint32, moveTo string) error {
	if *f.fail {
		*f.fail = false
		return errors.New("connection lost (test)")
	}
	return f.imapConn.Processed(uids, moveTo)
}

// A crash between commit and \Seen re-fetches the messages; dedupe makes
// them no-ops, and they are marked then.
func TestIMAPCrashBetweenCommitAndMark(t *testing.T) {
	_, names := caseFiles(t)
	dc := startDovecot(t)
	for _, n := range names[:5] {
		dc.save("INBOX", readCase(t, n))
	}
	h := newHarness(t, "imap", nil)
	p := newPoller(h, dc.account())
	fail := true
	dial := p.dial
	p.dial = func(ctx context.Context) (imapConn, error) {
		c, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		return failMark{c, &fail}, nil
	}
	if _, err := p.PollOnce(context.Background()); err == nil {
		t.Fatal("PollOnce with a failing \\Seen: no error")
	}
	before := h.subjects()
	for uid, f := range dc.flags("INBOX") {
		if strings.Contains(f, `\Seen`) {
			t.Errorf("UID %s \\Seen although marking failed", uid)
		}
	}
	if n := pollOnce(t, p); n != 5 {
		t.Errorf("after the failure %d messages again, want 5", n)
	}
	if got := h.subjects(); !slices.Equal(got, before) {
		t.Errorf("requests changed on re-fetch:\n%v\n%v", before, got)
	}
	var dups int
	h.st.DB().Get(&dups, "SELECT COUNT(*) FROM deliveries WHERE source = 'imap' AND outcome = 'duplicate'")
	if dups != 5 {
		t.Errorf("%d duplicates recorded, want 5", dups)
	}
	for uid, f := range dc.flags("INBOX") {
		if !strings.Contains(f, `\Seen`) {
			t.Errorf("UID %s not \\Seen at the end", uid)
		}
	}
	if n := pollOnce(t, p); n != 0 {
		t.Errorf("third cycle: %d messages, want 0", n)
	}
}

// A recreated mailbox (new UIDVALIDITY, same messages) imports nothing twice.
func TestIMAPUIDValidityChange(t *testing.T) {
	_, names := caseFiles(t)
	dc := startDovecot(t)
	dc.create("Support")
	for _, n := range names[:3] {
		dc.save("Support", readCase(t, n))
	}
	h := newHarness(t, "imap", nil)
	acc := dc.account()
	acc.Mailboxes = []string{"Support"}
	p := newPoller(h, acc)
	pollOnce(t, p)
	before := h.subjects()
	v1 := p.Status().Mailboxes[0].UIDValidity
	p.Disconnect()

	dc.Recreate("Support")
	for _, n := range names[:3] {
		dc.save("Support", readCase(t, n))
	}
	dc.save("Support", readCase(t, names[3])) // one new message
	if n := pollOnce(t, p); n != 4 {
		t.Errorf("resync committed %d, want 4 (3 duplicates, 1 new)", n)
	}
	if v2 := p.Status().Mailboxes[0].UIDValidity; v2 == v1 {
		t.Fatalf("UIDVALIDITY did not change (%d): the test proves nothing", v1)
	}
	after := h.subjects()
	var dups int
	h.st.DB().Get(&dups, "SELECT COUNT(*) FROM deliveries WHERE outcome = 'duplicate'")
	if dups != 3 {
		t.Errorf("%d duplicates, want 3; requests before %v, after %v", dups, before, after)
	}
	var msgs int
	h.st.DB().Get(&msgs, "SELECT COUNT(*) FROM messages")
	if msgs != 4 {
		t.Errorf("%d messages stored, want 4", msgs)
	}
}

// The same message in two polled folders makes one request.
func TestIMAPSameMessageTwoFolders(t *testing.T) {
	_, names := caseFiles(t)
	dc := startDovecot(t)
	dc.create("Facilities")
	b := readCase(t, names[0])
	dc.save("INBOX", b)
	dc.save("Facilities", b)
	h := newHarness(t, "imap", nil)
	acc := dc.account()
	acc.Mailboxes = []string{"INBOX", "Facilities"}
	if n := pollOnce(t, newPoller(h, acc)); n != 2 {
		t.Errorf("committed %d, want 2", n)
	}
	if rs := h.requests(); len(rs) != 1 {
		t.Errorf("%d requests, want 1", len(rs))
	}
	for _, m := range acc.Mailboxes {
		for uid, f := range dc.flags(m) {
			if !strings.Contains(f, `\Seen`) {
				t.Errorf("%s UID %s not \\Seen", m, uid)
			}
		}
	}
}

// A message appended while the poller idles is in within seconds, not
// after the 60 s poll interval.
func TestIMAPIdle(t *testing.T) {
	_, names := caseFiles(t)
	dc := startDovecot(t)
	h := newHarness(t, "imap", nil)
	acc := dc.account()
	acc.PollInterval = time.Minute
	p := newPoller(h, acc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 5*time.Second, "first cycle", func() bool { return !p.Status().Mailboxes[0].LastPoll.IsZero() })
	time.Sleep(200 * time.Millisecond) // in IDLE by now
	start := time.Now()
	dc.save("INBOX", readCase(t, names[0]))
	waitFor(t, 5*time.Second, "request through IDLE", func() bool { return len(h.requests()) == 1 })
	t.Logf("new mail committed %v after it was appended", time.Since(start).Round(time.Millisecond))
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a log destination for a goroutine and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A wrong password, or a host that does not answer, gives one clear error
// line; Run keeps retrying with backoff without flooding the log.
func TestIMAPOutageLogsOnce(t *testing.T) {
	dc := startDovecot(t)
	bad := dc.account()
	bad.Password = "wrong"
	closed := dc.account()
	closed.Host = "127.0.0.1:1"
	for _, c := range []struct {
		name string
		acc  IMAPAccount
		want string
	}{
		{"wrong password", bad, "imap: login"},
		{"unreachable", closed, "imap: connect"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "imap", nil)
			var logs syncBuffer
			p := NewPoller(h.in, h.st, c.acc, slog.New(slog.NewTextHandler(&logs, nil)))
			p.minBackoff, p.maxBackoff = 20*time.Millisecond, 100*time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			p.Run(ctx)
			out := logs.String()
			if n := strings.Count(out, "level=ERROR"); n != 1 {
				t.Errorf("%d error lines, want 1:\n%s", n, out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("log does not say %q:\n%s", c.want, out)
			}
			st := p.Status()
			// Dovecot's anvil slows repeated failed logins down, so fewer tries there.
			if st.Errors < 2 || st.Connected || !strings.Contains(st.LastError, c.want) {
				t.Errorf("Status = %+v; want several tries, not connected", st)
			}
			t.Logf("%d tries; log:\n%s", st.Errors, out)
		})
	}
}

// CheckIMAP (for `tikkitd imap test`) lists mailboxes and names the step that fails.
func TestCheckIMAP(t *testing.T) {
	dc := startDovecot(t)
	dc.save("INBOX", []byte("From: a@example.org\r\nSubject: x\r\nMessage-ID: <c1@example.org>\r\n\r\nhi\r\n"))
	ctx := context.Background()
	list, err := CheckIMAP(ctx, dc.account())
	if err != nil || len(list) != 1 || list[0].Name != "INBOX" || list[0].Messages != 1 || list[0].Unseen != 1 {
		t.Errorf("CheckIMAP = %+v, %v", list, err)
	}
	// A processed_mailbox still to be made is made (as the first move
	// would); one the server will not make fails at step create; a polled
	// mailbox that does not exist fails at step select.
	toMake := dc.account()
	toMake.ProcessedMailbox = "Done"
	list, err = CheckIMAP(ctx, toMake)
	if err != nil || !slices.ContainsFunc(list, func(m MailboxCount) bool { return m.Name == "Done" && m.Created }) {
		t.Errorf("CheckIMAP with processed_mailbox still to be made: %+v, %v", list, err)
	}
	if list, err = CheckIMAP(ctx, toMake); err != nil || slices.ContainsFunc(list, func(m MailboxCount) bool { return m.Created }) {
		t.Errorf("CheckIMAP again: %+v, %v; want Done listed, not created", list, err)
	}
	refused := dc.account()
	refused.ProcessedMailbox = "Processed/2026" // Dovecot's separator here is "."
	missing := dc.account()
	missing.Mailboxes = []string{"INBOX", "Support"}
	bad := dc.account()
	bad.Password = "wrong"
	nxdomain := dc.account()
	nxdomain.Host = "imap.invalid:993" // RFC 2606: never resolves
	closed := dc.account()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Host = ln.Addr().String()
	ln.Close() // nothing listens there now
	for acc, step := range map[*IMAPAccount]string{&missing: "select", &bad: "login", &nxdomain: "dns", &closed: "connect", &refused: "create"} {
		_, err := CheckIMAP(ctx, *acc)
		var ie *IMAPError
		if !errors.As(err, &ie) || ie.Step != step {
			t.Errorf("CheckIMAP: %v, want an error at step %s", err, step)
		}
	}
}
