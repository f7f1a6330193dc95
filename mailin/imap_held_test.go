package mailin

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tikkit/tikkit/store"
)

// Mail the poller reads that the parser cannot understand, or that is over
// max_message_bytes, is kept and marked like any other (DESIGN §3.2):
// never dropped, never fetched again in a loop.

// imapServed is what Dovecot returns for BODY[] of msg as saved: CRLF line
// ends, and NUL bytes as 0x80 (an IMAP literal may not carry NUL, RFC 3501
// §4.3; Dovecot replaces them rather than refuse the fetch).
func imapServed(msg []byte) []byte {
	b := bytes.ReplaceAll(msg, []byte{0}, []byte{0x80})
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// plainHeld is an ordinary mail from a new sender: it makes a request.
func plainHeld(from, subject, id string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: maintenance@example.com\r\nSubject: %s\r\n"+
		"Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nPlease have a look: %s.\r\n", from, subject, id, subject))
}

// randomBytes is n bytes of deterministic noise.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// truncatedMultipart is a mail cut off in the middle of its base64
// attachment: no closing boundary, the last line incomplete.
func truncatedMultipart() []byte {
	att := base64.StdEncoding.EncodeToString(randomBytes(3000, 7))
	var b strings.Builder
	b.WriteString("From: Dan <dan@example.org>\r\nTo: maintenance@example.com\r\nSubject: Truncated multipart\r\n" +
		"Message-ID: <trunc-1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"cut\"\r\n\r\n" +
		"--cut\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe photo of the leak is attached.\r\n" +
		"--cut\r\nContent-Type: image/jpeg; name=\"leak.jpg\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"leak.jpg\"\r\n\r\n")
	for i := 0; i < len(att)/2; i += 76 {
		b.WriteString(att[i:min(i+76, len(att))] + "\r\n")
	}
	b.WriteString(att[len(att)/2 : len(att)/2+30]) // cut mid-line
	return []byte(b.String())
}

// heldCase is one message seeded into INBOX and what must become of it.
type heldCase struct {
	name    string
	msg     []byte
	held    string // "unparseable: …" reason it is held with; "" = a request
	subject string // of the request
	problem string // in the stored message's Problems
}

func heldCases(t *testing.T) []heldCase {
	// Lots of control bytes: what binaryGarbage is there for. Its NULs
	// arrive as 0x80; the rest still makes it binary.
	elf := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12}, 400)...)
	return []heldCase{
		{name: "normal before", msg: plainHeld("Alice <alice@example.org>", "Radiator cold in room 12", "held-n1"), subject: "Radiator cold in room 12"},
		{name: "binary control bytes", msg: elf, held: "unparseable: binary data, not a message"},
		{name: "normal between", msg: plainHeld("bob@example.org", "Door lock broken", "held-n2"), subject: "Door lock broken"},
		{name: "text without header", msg: readTestdata(t, "no-header.eml"), held: "unparseable: no header"},
		{name: "empty", msg: []byte{}, held: "unparseable: empty input"},
		{name: "blank line first", msg: []byte("\r\nThe body starts at once, there is no header.\r\n"), held: "unparseable: no header"},
		// Over 1 MiB: spooled to a file rather than kept in memory.
		{name: "1.5 MB of noise", msg: randomBytes(1_500_000, 1), held: "unparseable: binary data, not a message"},
		{name: "NUL bytes only", msg: bytes.Repeat([]byte{0}, 64), held: "unparseable: no header"},
		{name: "normal after", msg: plainHeld("carol@example.org", "Light flickering on floor 3", "held-n3"), subject: "Light flickering on floor 3"},
		// Broken, but readable: a request, with the damage noted.
		{name: "truncated multipart", msg: truncatedMultipart(), subject: "Truncated multipart", problem: "missing closing boundary"},
		{name: "NUL bytes in the body", msg: readTestdata(t, "nul-bytes.eml"), subject: "NUL"},
		{name: "no blank line after header", msg: []byte("From: erin@example.org\r\nTo: maintenance@example.com\r\n" +
			"Subject: No separator\r\nMessage-ID: <nosep-1@example.org>\r\nThe body follows the header at once.\r\n"),
			subject: "No separator", problem: "no blank line between header and body"},
	}
}

func countRows(t *testing.T, h *harness, query string) int {
	t.Helper()
	var n int
	if err := h.st.DB().Get(&n, query); err != nil {
		t.Fatal(err)
	}
	return n
}

// Garbage among ordinary mail in INBOX: every unreadable message is held
// with its raw bytes and reason, marked \Seen (or moved) like the rest, and
// the next cycle fetches nothing; the mail around it became requests.
func TestIMAPUnparseableHeld(t *testing.T) {
	for _, move := range []bool{false, true} {
		t.Run(fmt.Sprintf("move=%v", move), func(t *testing.T) {
			cases := heldCases(t)
			dc := startDovecot(t)
			for _, c := range cases {
				dc.save("INBOX", c.msg)
			}
			if n := dc.count("INBOX"); n != len(cases) {
				t.Fatalf("Dovecot holds %d messages, want %d", n, len(cases))
			}
			acc := dc.account()
			acc.Batch = 5 // garbage at batch edges too
			if move {
				dc.create("Done")
				acc.ProcessedMailbox = "Done"
			}
			h := newHarness(t, "imap", nil)
			p := newPoller(h, acc)
			if n := pollOnce(t, p); n != len(cases) {
				t.Errorf("first cycle committed %d messages, want %d", n, len(cases))
			}

			held, err := h.st.HeldMessages(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			heldBySHA := map[string]store.Message{}
			for _, m := range held {
				heldBySHA[m.RawSHA256] = m
			}
			var wantHeld int
			var wantSubjects []string
			for _, c := range cases {
				served := imapServed(c.msg)
				if c.held == "" {
					wantSubjects = append(wantSubjects, c.subject)
					continue
				}
				wantHeld++
				m, ok := heldBySHA[sha256Hex(served)]
				if !ok {
					t.Errorf("%s: not held (held: %d messages)", c.name, len(held))
					continue
				}
				if m.Reason != c.held || m.Outcome != OutcomeHeld || m.RequestID.Valid || m.Source != "imap" {
					t.Errorf("%s: held as %q, reason %q, request %v, source %q; want reason %q",
						c.name, m.Outcome, m.Reason, m.RequestID, m.Source, c.held)
				}
				raw, err := h.st.Raw(h.ctx, m.RawSHA256)
				if err != nil || !bytes.Equal(raw, served) {
					t.Errorf("%s: raw kept is %d bytes (%v), want the %d bytes fetched", c.name, len(raw), err, len(served))
				}
			}
			if len(held) != wantHeld {
				t.Errorf("%d messages held, want %d", len(held), wantHeld)
			}

			var gotSubjects []string
			for _, r := range h.requests() {
				gotSubjects = append(gotSubjects, r.Subject)
			}
			slices.Sort(gotSubjects)
			slices.Sort(wantSubjects)
			if !slices.Equal(gotSubjects, wantSubjects) {
				t.Errorf("requests %q, want %q", gotSubjects, wantSubjects)
			}
			for _, c := range cases {
				if c.problem == "" {
					continue
				}
				var problems string
				h.st.DB().Get(&problems, "SELECT problems FROM messages WHERE subject = ?", c.subject)
				if !strings.Contains(problems, c.problem) {
					t.Errorf("%s: problems %q lack %q", c.name, problems, c.problem)
				}
			}

			if move {
				if in, done := dc.count("INBOX"), dc.count("Done"); in != 0 || done != len(cases) {
					t.Errorf("after the cycle: INBOX %d, Done %d; want 0, %d", in, done, len(cases))
				}
			} else {
				fl := dc.flags("INBOX")
				if len(fl) != len(cases) {
					t.Errorf("%d messages in INBOX, want %d", len(fl), len(cases))
				}
				for uid, f := range fl {
					if !strings.Contains(f, `\Seen`) {
						t.Errorf("UID %s not \\Seen after the cycle: %q", uid, f)
					}
				}
			}

			msgs := countRows(t, h, "SELECT COUNT(*) FROM messages")
			deliveries := countRows(t, h, "SELECT COUNT(*) FROM deliveries")
			if msgs != len(cases) || deliveries != len(cases) {
				t.Errorf("%d messages, %d deliveries stored; want %d each", msgs, deliveries, len(cases))
			}
			if n := pollOnce(t, p); n != 0 {
				t.Errorf("second cycle committed %d messages, want 0", n)
			}
			if m, d := countRows(t, h, "SELECT COUNT(*) FROM messages"), countRows(t, h, "SELECT COUNT(*) FROM deliveries"); m != msgs || d != deliveries {
				t.Errorf("second cycle: %d messages, %d deliveries; want %d, %d (nothing new)", m, d, msgs, deliveries)
			}
			st := p.Status()
			if st.Errors != 0 || st.Fetched != int64(len(cases)) || st.Mailboxes[0].LastUID != uint32(len(cases)) {
				t.Errorf("Status = %+v; want no error, %d fetched, last UID %d", st, len(cases), len(cases))
			}
		})
	}
}

// withAttachment is a mail with a text part and one base64 attachment.
func withAttachment(from, subject, id, name string, data []byte) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: maintenance@example.com\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s: readings attached.\r\n"+
		"--b1\r\nContent-Type: application/octet-stream; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n"+
		"Content-Disposition: attachment; filename=\"%s\"\r\n\r\n", from, subject, id, subject, name, name)
	enc := base64.StdEncoding.EncodeToString(data)
	for i := 0; i < len(enc); i += 76 {
		b.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	b.WriteString("--b1--\r\n")
	return []byte(b.String())
}

// A message over max_message_bytes read over IMAP is kept, like from a pipe
// (an IMAP server cannot be refused): a request with its raw bytes and
// text, the attachment listed but not stored, a note saying why in
// Problems and an attachment_refused event; marked, and not fetched again.
// The limit is per message: a small attachment next to it is stored. Noise
// over the limit is held, with the size note beside the reason.
func TestIMAPOversizeKept(t *testing.T) {
	const limit = 64 << 10
	for _, move := range []bool{false, true} {
		t.Run(fmt.Sprintf("move=%v", move), func(t *testing.T) {
			bigData := randomBytes(220_000, 3)
			smallData := randomBytes(8_000, 4)
			big := withAttachment("frank@example.org", "Meter readings for March", "big-1", "meters.bin", bigData)
			small := withAttachment("grace@example.org", "Boiler log", "small-1", "boiler.bin", smallData)
			if len(big) < 4*limit || len(small) > limit {
				t.Fatalf("test mail: big %d bytes, small %d; want over %d and under %d", len(big), len(small), 4*limit, limit)
			}
			dc := startDovecot(t)
			dc.save("INBOX", plainHeld("alice@example.org", "Radiator cold in room 12", "over-n1"))
			dc.save("INBOX", big)
			dc.save("INBOX", small)
			noise := randomBytes(200_000, 5) // over the limit and unreadable: held, with both notes
			dc.save("INBOX", noise)
			acc := dc.account()
			if move {
				dc.create("Done")
				acc.ProcessedMailbox = "Done"
			}
			h := newHarness(t, "imap", func(o *Options) { o.MaxMessageBytes = limit })
			p := newPoller(h, acc)
			if n := pollOnce(t, p); n != 4 {
				t.Errorf("first cycle committed %d messages, want 4", n)
			}
			if rs := h.requests(); len(rs) != 3 {
				t.Errorf("%d requests, want 3", len(rs))
			}
			served := imapServed(noise)
			held, _ := h.st.HeldMessages(h.ctx)
			if len(held) != 1 || held[0].RawSHA256 != sha256Hex(served) || !strings.HasPrefix(held[0].Reason, "unparseable: ") ||
				!strings.Contains(held[0].Problems, fmt.Sprintf("message of %d bytes is over max_message_bytes", len(served))) {
				t.Errorf("held %+v; want the noise, unparseable, with the size note", held)
			} else if raw, err := h.st.Raw(h.ctx, held[0].RawSHA256); err != nil || !bytes.Equal(raw, served) {
				t.Errorf("raw of the noise kept is %d bytes (%v), want %d", len(raw), err, len(served))
			}

			m := h.message("big-1@example.org")
			if m.Outcome != OutcomeCreated || !m.RequestID.Valid || m.Source != "imap" {
				t.Errorf("big message: outcome %q, request %v, source %q; want created with a request", m.Outcome, m.RequestID, m.Source)
			}
			if got := norm(m.BodyText); got != "Meter readings for March: readings attached." {
				t.Errorf("big message text %q", got)
			}
			raw, err := h.st.Raw(h.ctx, m.RawSHA256)
			if err != nil || !bytes.Equal(raw, big) {
				t.Errorf("raw kept is %d bytes (%v), want the %d bytes of the message", len(raw), err, len(big))
			}
			note := fmt.Sprintf("message of %d bytes is over max_message_bytes (%d): attachments not stored", len(big), limit)
			if !strings.Contains(m.Problems, note) {
				t.Errorf("problems %q lack %q", m.Problems, note)
			}
			as := h.attachments(m)
			if len(as) != 1 || as[0].Name != "meters.bin" || as[0].Stored || as[0].Size != int64(len(bigData)) || as[0].SHA256 != sha256Hex(bigData) {
				t.Errorf("big message attachments %+v; want meters.bin listed, %d bytes, not stored", as, len(bigData))
			}
			if h.st.Blobs.Has(sha256Hex(bigData)) {
				t.Error("the attachment of the oversize message is in the blob store")
			}
			es, err := h.st.RequestEvents(h.ctx, m.RequestID.Int64)
			var refused []string
			for _, e := range es {
				if e.Kind == "attachment_refused" {
					refused = append(refused, e.Detail)
				}
			}
			if err != nil || len(refused) != 1 || !strings.Contains(refused[0], `"meters.bin"`) || !strings.Contains(refused[0], fmt.Sprint(len(bigData))) {
				t.Errorf("attachment_refused events %q (%v); want one naming meters.bin and its size", refused, err)
			}

			sm := h.message("small-1@example.org")
			if sas := h.attachments(sm); len(sas) != 1 || !sas[0].Stored || !h.st.Blobs.Has(sha256Hex(smallData)) {
				t.Errorf("small message attachments %+v; want boiler.bin stored", sas)
			}
			if sm.Problems != "" {
				t.Errorf("small message problems %q", sm.Problems)
			}

			if move {
				if in, done := dc.count("INBOX"), dc.count("Done"); in != 0 || done != 4 {
					t.Errorf("after the cycle: INBOX %d, Done %d; want 0, 4", in, done)
				}
			} else {
				fl := dc.flags("INBOX")
				if len(fl) != 4 {
					t.Errorf("%d messages in INBOX, want 4", len(fl))
				}
				for uid, f := range fl {
					if !strings.Contains(f, `\Seen`) {
						t.Errorf("UID %s not \\Seen after the cycle: %q", uid, f)
					}
				}
			}
			deliveries := countRows(t, h, "SELECT COUNT(*) FROM deliveries")
			if n := pollOnce(t, p); n != 0 {
				t.Errorf("second cycle committed %d messages, want 0", n)
			}
			if d := countRows(t, h, "SELECT COUNT(*) FROM deliveries"); d != deliveries || d != 4 {
				t.Errorf("%d deliveries after the second cycle, want 4", d)
			}
		})
	}
}
