package mailin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// memIMAP is go-imap's in-memory server on a loopback port, advertising
// caps only, with every byte of the conversation in wire.
type memIMAP struct {
	addr string
	user *imapmemserver.User
	wire syncBuffer
}

func startMemIMAP(t *testing.T, caps imap.CapSet, mailboxes ...string) *memIMAP {
	t.Helper()
	m := &memIMAP{user: imapmemserver.NewUser("tk", "s3cret")}
	for _, mb := range mailboxes {
		if err := m.user.Create(mb, nil); err != nil {
			t.Fatal(err)
		}
	}
	mem := imapmemserver.New()
	mem.AddUser(m.user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		DebugWriter:  &m.wire,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	m.addr = ln.Addr().String()
	return m
}

func (m *memIMAP) account() IMAPAccount {
	return IMAPAccount{Name: "mem", Host: m.addr, TLS: "none", Username: "tk", Password: "s3cret"}
}

func (m *memIMAP) append(t *testing.T, mbox string, msg []byte) {
	t.Helper()
	if _, err := m.user.Append(mbox, bytes.NewReader(msg), &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (m *memIMAP) count(t *testing.T, mbox string) uint32 {
	t.Helper()
	st, err := m.user.Status(mbox, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	return *st.NumMessages
}

// A server without MOVE: committed mail reaches processed_mailbox by COPY,
// STORE +FLAGS \Deleted and UID EXPUNGE (UIDPLUS); without UIDPLUS too, no
// EXPUNGE at all (a plain one would remove other people's \Deleted mail):
// ours stay in INBOX marked \Seen \Deleted. One with MOVE gets MOVE. Every
// message makes one request.
func TestIMAPMoveFallback(t *testing.T) {
	for _, c := range []struct {
		name      string
		caps      imap.CapSet
		want, not []string
		leftInbox uint32
	}{
		// Client commands only: the tag, then the command.
		{"no MOVE, UIDPLUS", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}},
			[]string{`T\d+ UID COPY \S+ "?Done"?\r\n`, `T\d+ UID STORE \S+ \+FLAGS\.SILENT \(\\Deleted\)`, `T\d+ UID EXPUNGE \S+\r\n`},
			[]string{`T\d+ UID MOVE`, `T\d+ EXPUNGE`}, 0},
		{"no MOVE, no UIDPLUS", imap.CapSet{imap.CapIMAP4rev1: {}},
			[]string{`T\d+ UID COPY \S+ "?Done"?\r\n`, `T\d+ UID STORE \S+ \+FLAGS\.SILENT \(\\Seen \\Deleted\)`},
			[]string{`T\d+ UID MOVE`, `T\d+ (UID )?EXPUNGE`}, 5},
		{"MOVE", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}},
			[]string{`T\d+ UID MOVE \S+ "?Done"?\r\n`},
			[]string{`T\d+ (UID )?COPY`, `T\d+ (UID )?EXPUNGE`, `\\Deleted`}, 0},
	} {
		for _, exists := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/Done exists=%v", c.name, exists), func(t *testing.T) {
				const n = 5
				boxes := []string{"INBOX", "Done"}
				if !exists {
					boxes = boxes[:1] // the server answers [TRYCREATE]; the poller creates it
				}
				srv := startMemIMAP(t, c.caps, boxes...)
				for i := range n {
					srv.append(t, "INBOX", ingestBenchMessage(i, 500))
				}
				h := newHarness(t, "imap", nil)
				acc := srv.account()
				acc.ProcessedMailbox = "Done"
				acc.Batch = 2 // several batches, several moves
				p := newPoller(h, acc)
				if got := pollOnce(t, p); got != n {
					t.Errorf("committed %d, want %d", got, n)
				}
				if in, done := srv.count(t, "INBOX"), srv.count(t, "Done"); in != c.leftInbox || done != n {
					t.Errorf("INBOX %d, Done %d; want %d, %d", in, done, c.leftInbox, n)
				}
				if rs := h.requests(); len(rs) != n {
					t.Errorf("%d requests, want %d", len(rs), n)
				}
				srv.append(t, "INBOX", ingestBenchMessage(n, 500))
				if got := pollOnce(t, p); got != 1 {
					t.Errorf("second cycle committed %d, want the 1 new one", got)
				}
				wantIn := uint32(0)
				if c.leftInbox > 0 {
					wantIn = c.leftInbox + 1
				}
				if in, done := srv.count(t, "INBOX"), srv.count(t, "Done"); in != wantIn || done != n+1 {
					t.Errorf("after the second cycle: INBOX %d, Done %d; want %d, %d", in, done, wantIn, n+1)
				}
				wire := srv.wire.String()
				for _, re := range c.want {
					if !regexp.MustCompile(re).MatchString(wire) {
						t.Errorf("no %s on the wire", re)
					}
				}
				for _, re := range c.not {
					if regexp.MustCompile(re).MatchString(wire) {
						t.Errorf("%s on the wire", re)
					}
				}
				if created := regexp.MustCompile(`T\d+ CREATE "?Done"?\r\n`).MatchString(wire); created == exists {
					t.Errorf("CREATE Done on the wire: %v; want %v", created, !exists)
				}
				if t.Failed() {
					t.Logf("conversation:\n%s", wire)
				}
			})
		}
	}
}

// tls = starttls against a server that does not offer STARTTLS fails at
// step "tls" before any credentials go out in the clear.
func TestIMAPStartTLSMissing(t *testing.T) {
	srv := startMemIMAP(t, nil, "INBOX")
	acc := srv.account()
	acc.TLS = "starttls"
	h := newHarness(t, "imap", nil)
	_, err := newPoller(h, acc).PollOnce(t.Context())
	var ie *IMAPError
	if !errors.As(err, &ie) || ie.Step != "tls" {
		t.Fatalf("PollOnce: %v; want an IMAPError at step tls", err)
	}
	if wire := srv.wire.String(); strings.Contains(wire, "LOGIN") || strings.Contains(wire, "s3cret") {
		t.Errorf("credentials sent without TLS:\n%s", wire)
	}
	t.Logf("%v", err)
}
