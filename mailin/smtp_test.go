package mailin

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

const plainMail = "From: Jane <jane@example.org>\r\nTo: maintenance@example.com\r\nSubject: Door\r\nMessage-ID: <%s>\r\n\r\nThe door sticks.\r\n"

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestSMTPRecipients(t *testing.T) {
	h := newHarness(t, "smtp", nil)
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("jane@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rcpt string
		code int
	}{
		{"maintenance@example.com", 0},
		{"MAINTENANCE@Example.COM", 0},
		{"maintenance+urgent@example.com", 0},
		{"facilities@example.com", 0},
		{"someone@example.com", 550},
		{"postmaster@example.com", 0},
		{"Postmaster", 0},
		{"maintenance@example.com.evil.example", 550},
		{"victim@elsewhere.example.net", 550},
		{"maintenance%elsewhere.example.net@example.com", 550},
		{"not-an-address", 501},
	} {
		if got := smtpCode(c.Rcpt(tc.rcpt, nil)); got != tc.code {
			t.Errorf("RCPT %s: code %d, want %d", tc.rcpt, got, tc.code)
		}
	}
}

func TestSMTPRecipientLimit(t *testing.T) {
	h := newHarness(t, "smtp", nil)
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Mail("jane@example.org", nil)
	var last error
	for i := 0; i < 60; i++ {
		last = c.Rcpt("maintenance+"+strings.Repeat("x", i)+"@example.com", nil)
	}
	if code := smtpCode(last); code != 452 {
		t.Errorf("61st recipient: %v, want 452", last)
	}
}

// A store that cannot commit answers 451: the client keeps the mail. Here
// a trigger refuses every raw message, so that not even holding it works.
func TestSMTPTemporaryFailure(t *testing.T) {
	h := newHarness(t, "smtp", nil)
	if _, err := h.st.DB().Exec(`CREATE TRIGGER test_full BEFORE INSERT ON raw_messages
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	err := sendSMTP(h.addr, "jane@example.org", []string{"maintenance@example.com"}, strings.NewReader(strings.Replace(plainMail, "%s", "t1@example.org", 1)))
	if code := smtpCode(err); code != 451 {
		t.Fatalf("send with a closed store: %v, want 451", err)
	}
}

// LMTP gives each accepted recipient the status of the one stored message.
func TestLMTPPerRecipientStatus(t *testing.T) {
	h := newHarness(t, "ingest", nil)
	srv := NewServer(h.in, ServerOptions{Addr: "127.0.0.1:0", LMTP: true, MaxMessageBytes: 1 << 20, SpoolDir: h.st.Blobs.TempDir()})
	a, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	conn, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mx.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("jane@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"maintenance@example.com", "facilities@example.com"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(strings.Replace(plainMail, "%s", "lmtp1@example.org", 1)))
	resps, err := w.CloseWithLMTPResponse()
	if err != nil {
		t.Fatal(err)
	}
	if len(resps) != 2 {
		t.Errorf("%d LMTP responses, want 2", len(resps))
	}
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (one message for two recipients)", n)
	}
}

// Reprocessing: a mail held because of a configuration mistake (the
// sender's address was listed as our alias) becomes a request once fixed.
func TestReprocessHeld(t *testing.T) {
	bad := newHarness(t, "ingest", func(o *Options) { o.Identity.Aliases = []string{"jane@example.org"} })
	res := bad.feedBytes("held", []byte(strings.Replace(plainMail, "%s", "held1@example.org", 1)))
	if res.Outcome != OutcomeHeld {
		t.Fatalf("outcome %q, want held", res.Outcome)
	}
	held, err := bad.st.HeldMessages(bad.ctx)
	if err != nil || len(held) != 1 || held[0].Reason == "" {
		t.Fatalf("held: %+v %v", held, err)
	}
	bad.in.Close()
	fixed := NewIngester(bad.st, Options{Identity: caseIdentity})
	bad.in = fixed
	res, err = fixed.Reprocess(bad.ctx, held[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCreated || res.Request != 1001 {
		t.Errorf("reprocess: %+v", res)
	}
	if held, _ := bad.st.HeldMessages(bad.ctx); len(held) != 0 {
		t.Errorf("still held: %+v", held)
	}
}

func TestSMTPEnhancedCodes(t *testing.T) {
	h := newHarness(t, "smtp", nil)
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Mail("jane@example.org", nil)
	for rcpt, code := range map[string]smtp.EnhancedCode{"nobody@example.com": {5, 1, 1}, "victim@elsewhere.example": {5, 7, 1}} {
		var se *smtp.SMTPError
		if err := c.Rcpt(rcpt, nil); !errors.As(err, &se) || se.EnhancedCode != code {
			t.Errorf("RCPT %s: %v, want %v", rcpt, err, code)
		}
	}
}

// Mail to postmaster only is kept for the administrator, not filed.
func TestSMTPPostmasterHeld(t *testing.T) {
	h := newHarness(t, "smtp", nil)
	msg := strings.Replace(plainMail, "%s", "pm1@example.org", 1)
	if err := sendSMTP(h.addr, "jane@example.org", []string{"postmaster@example.com"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	m := h.message("pm1@example.org")
	if m.Outcome != OutcomeHeld || !strings.Contains(m.Reason, "postmaster") {
		t.Errorf("postmaster mail: %s %q", m.Outcome, m.Reason)
	}
}

// HTML mail has long lines: a 100,000-character line is accepted and kept.
func TestSMTPLongLine(t *testing.T) {
	h := newHarness(t, "smtp", nil)
	long := strings.Repeat("x", 100000)
	msg := "From: Jane <jane@example.org>\r\nTo: maintenance@example.com\r\nSubject: Long\r\nMessage-ID: <long1@example.org>\r\n\r\n" + long + "\r\n"
	if err := sendSMTP(h.addr, "jane@example.org", []string{"maintenance@example.com"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if m := h.message("long1@example.org"); !strings.Contains(m.BodyText, long) {
		t.Errorf("long line lost (%d bytes of body)", len(m.BodyText))
	}
}

// A unix socket left behind by a crash does not keep LMTP from starting.
func TestLMTPStaleSocket(t *testing.T) {
	h := newHarness(t, "ingest", nil)
	path := filepath.Join(t.TempDir(), "lmtp.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // as after kill -9: the file stays, nobody listens
	srv := NewServer(h.in, ServerOptions{Addr: path, LMTP: true, SpoolDir: h.st.Blobs.TempDir()})
	if _, err := srv.Listen(); err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, %v", fi.Mode(), err)
	}
}

// A message whose last line ends in CR CR LF used to hang the session.
func TestSMTPCRCRLF(t *testing.T) {
	h := newHarness(t, "smtp", nil)
	conn, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	script := "EHLO x\r\nMAIL FROM:<jane@example.org>\r\nRCPT TO:<maintenance@example.com>\r\nDATA\r\n" +
		"From: jane@example.org\r\nSubject: x\r\nMessage-ID: <crcr@example.org>\r\n\r\na\r\r\n.\r\nQUIT\r\n"
	conn.Write([]byte(script))
	b, _ := io.ReadAll(conn)
	if !strings.Contains(string(b), "250 2.0.0") {
		t.Fatalf("no 250 after CR CR LF: %q", b)
	}
	h.message("crcr@example.org")
}

func TestCRLFConnFolding(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\r\nb":                 "a\r\nb",
		"a\r\nb\r":                 "a\r\nb\r",
		"a\rb":                     "a\rb",
		"\r\r\r\r\r\r\r\r\r\r\r\n": "\r\r\r\r\r\r\r\n"[:0] + strings.Repeat("\r", 3) + "\r\n",
	} {
		a, b := net.Pipe()
		go func() { b.Write([]byte(in)); b.Close() }()
		got, _ := io.ReadAll(&crlfConn{Conn: a})
		if string(got) != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}
