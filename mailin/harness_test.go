package mailin

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/tikkit/tikkit/store"
)

// requireShared is ../shared/sub beside the repository (see sharedDir);
// tests that read it skip cleanly when it is absent.
func requireShared(t testing.TB, sub string) string {
	t.Helper()
	dir := sharedDir(sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not present: %v", dir, err)
	}
	return dir
}

// caseIdentity is the setting of ../shared/cases/EXPECTED.md.
var caseIdentity = Identity{
	Address:         "maintenance@example.com",
	Aliases:         []string{"facilities@example.com"},
	MessageIDDomain: "maint.example.com",
}

// harness is one fresh data directory with an ingester, fed through one intake.
type harness struct {
	t     testing.TB
	st    *store.Store
	in    *Ingester
	via   string // "ingest" or "smtp"
	addr  string // SMTP listener when via == "smtp"
	ctx   context.Context
	files string
}

func newHarness(t testing.TB, via string, tweak func(*Options)) *harness {
	t.Helper()
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Identity: caseIdentity}
	if tweak != nil {
		tweak(&opt)
	}
	in := NewIngester(st, opt)
	h := &harness{t: t, st: st, in: in, via: via, ctx: context.Background()}
	t.Cleanup(func() { in.Close(); st.Close() })
	if via == "smtp" {
		srv := NewServer(in, ServerOptions{Addr: "127.0.0.1:0", MaxMessageBytes: 10 << 20, SpoolDir: st.Blobs.TempDir()})
		a, err := srv.Listen()
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve()
		t.Cleanup(func() { srv.Shutdown(context.Background()) })
		h.addr = a.String()
	}
	return h
}

var returnPathRe = regexp.MustCompile(`(?mi)^Return-Path:\s*<([^>]*)>`)
var fromAddrRe = regexp.MustCompile(`(?mi)^(?:From|Sender):[^\n]*?([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+)`)

// feedBytes delivers one message through the harness's intake.
func (h *harness) feedBytes(name string, b []byte) Result {
	h.t.Helper()
	if h.via == "ingest" {
		res, err := h.in.Ingest(h.ctx, Delivery{Source: "ingest", Raw: RawBytes(b)})
		if err != nil {
			h.t.Fatalf("ingest %s: %v", name, err)
		}
		return res
	}
	from := "sender@example.net"
	if m := returnPathRe.FindSubmatch(b); m != nil {
		from = string(m[1])
	} else if m := fromAddrRe.FindSubmatch(b); m != nil {
		from = string(m[1])
	}
	if err := sendSMTP(h.addr, from, []string{"maintenance@example.com"}, bytes.NewReader(b)); err != nil {
		h.t.Fatalf("smtp %s: %v", name, err)
	}
	// The SMTP reply carries no outcome: read it back from the intake log.
	var d struct {
		MessageID string `db:"message_id"`
		Outcome   string `db:"outcome"`
	}
	if err := h.st.DB().Get(&d, "SELECT message_id, outcome FROM deliveries ORDER BY id DESC LIMIT 1"); err != nil {
		h.t.Fatal(err)
	}
	res := Result{MessageID: d.MessageID, Outcome: d.Outcome}
	var n int64
	if err := h.st.DB().Get(&n, "SELECT COALESCE(r.number, 0) FROM messages m LEFT JOIN requests r ON r.id = m.request_id WHERE m.message_id = ?", d.MessageID); err == nil {
		res.Request = n
	}
	return res
}

// feed delivers a file of ../shared/cases.
func (h *harness) feed(file string) Result {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(requireShared(h.t, "cases"), file))
	if err != nil {
		h.t.Fatal(err)
	}
	return h.feedBytes(file, b)
}

func (h *harness) requests() []store.Request {
	h.t.Helper()
	rs, err := h.st.Requests(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

func (h *harness) request(n int64) store.Request {
	h.t.Helper()
	r, err := h.st.RequestByNumber(h.ctx, n)
	if err != nil {
		h.t.Fatalf("request %d: %v", n, err)
	}
	return r
}

func (h *harness) person(id int64) store.Person {
	h.t.Helper()
	p, err := h.st.PersonByID(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) personByEmail(email string) (store.Person, bool) {
	p, err := h.st.PersonByEmail(h.ctx, email)
	return p, err == nil
}

func (h *harness) messages(n int64) []store.Message {
	h.t.Helper()
	ms, err := h.st.RequestMessages(h.ctx, h.request(n).ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return ms
}

func (h *harness) message(msgid string) store.Message {
	h.t.Helper()
	ref, err := h.st.MessageByMessageID(h.ctx, msgid)
	if err != nil {
		h.t.Fatalf("message %s: %v", msgid, err)
	}
	m, err := h.st.MessageByID(h.ctx, ref.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) attachments(m store.Message) []store.Attachment {
	h.t.Helper()
	as, err := h.st.Attachments(h.ctx, m.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return as
}

// followers returns email -> name of a request's followers other than the requester.
func (h *harness) followers(n int64) map[string]string {
	h.t.Helper()
	fs, err := h.st.Followers(h.ctx, h.request(n).ID)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range fs {
		if f.Reason != "requester" {
			out[f.Email] = f.Name
		}
	}
	return out
}

func (h *harness) people() []store.Person {
	h.t.Helper()
	ps, err := h.st.People(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return ps
}

// norm is EXPECTED.md's N(text): CRLF to LF, trailing whitespace of the whole text removed.
func norm(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), " \t\r\n")
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\x00bad") == s }

// sendSMTP delivers one message over plain SMTP on loopback.
func sendSMTP(addr, from string, to []string, r io.Reader) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, to, r); err != nil {
		return err
	}
	return c.Quit()
}
