package mailin

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

var classifyTestID = Identity{
	Address:         "maintenance@example.com",
	Aliases:         []string{"facilities@example.com"},
	MessageIDDomain: "maint.example.com",
}

// classifyTestParse fills the Parsed fields that Classify reads from a raw
// mail, without the full Parse (which lives on another branch). It never
// fails: what it cannot read stays empty.
func classifyTestParse(tb testing.TB, raw []byte) *Parsed {
	tb.Helper()
	p := &Parsed{}
	if bytes.HasPrefix(raw, []byte("From ")) { // mbox separator line
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		h, herr := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
		if herr != nil {
			p.Unparseable = err.Error()
			return p
		}
		p.Header = h
		e = &message.Entity{Header: message.Header{Header: h}, Body: strings.NewReader("")}
	}
	p.Header = e.Header.Header
	mh := mail.Header{Header: e.Header}
	p.Subject, _ = mh.Subject()
	p.MessageID, _ = mh.MessageID()
	p.HeaderFrom = classifyTestAddrs(mh, "From")
	p.ReplyTo = classifyTestAddrs(mh, "Reply-To")
	p.To = classifyTestAddrs(mh, "To")
	if s := classifyTestAddrs(mh, "Sender"); len(s) > 0 {
		p.Sender = &s[0]
	}
	// Effective author as Parse defines it.
	switch {
	case len(p.HeaderFrom) > 0 && p.HeaderFrom[0].Email != "":
		p.From = p.HeaderFrom[0]
		if classifyNoReplyAddr(p.From.Email) && len(p.ReplyTo) > 0 {
			p.From = p.ReplyTo[0]
		}
	case p.Sender != nil:
		p.From = *p.Sender
	}
	classifyTestWalk(e, p, false)
	return p
}

func classifyTestAddrs(mh mail.Header, k string) []Address {
	list, _ := mh.AddressList(k)
	var out []Address
	for _, a := range list {
		out = append(out, Address{Email: strings.ToLower(a.Address), Name: a.Name})
	}
	return out
}

// classifyTestWalk collects the text body and the multipart/report parts.
func classifyTestWalk(e *message.Entity, p *Parsed, inReport bool) {
	mt, params, _ := e.Header.ContentType()
	if mr := e.MultipartReader(); mr != nil {
		if mt == "multipart/report" {
			p.ReportType = strings.ToLower(params["report-type"])
			inReport = true
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			classifyTestWalk(part, p, inReport)
		}
		return
	}
	body, _ := io.ReadAll(io.LimitReader(e.Body, 1<<20))
	switch mt {
	case "", "text/plain":
		if p.Text == "" {
			p.Text = strings.ReplaceAll(string(body), "\r\n", "\n")
		}
	case "message/delivery-status", "message/global-delivery-status":
		p.DeliveryStatus = string(body)
	case "text/rfc822-headers":
		p.ReturnedHeaders = string(body)
	case "message/rfc822", "message/global":
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(body)))
		if err != nil {
			return
		}
		mh := mail.Header{Header: message.Header{Header: h}}
		if inReport {
			var b bytes.Buffer
			_ = textproto.WriteHeader(&b, h)
			p.ReturnedHeaders = b.String()
			return
		}
		f := Forwarded{}
		f.Subject, _ = mh.Subject()
		f.MessageID, _ = mh.MessageID()
		p.Forwarded = append(p.Forwarded, f)
	}
}

func classifyTestFile(t *testing.T, path string) *Parsed {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("%s not present", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return classifyTestParse(t, raw)
}

type classifyWant struct {
	kind   ClassKind
	reason string // substring of Class.Reason; "" = not checked
	bounce *Bounce
	notice *SystemNotice
}

func classifyCheck(t *testing.T, got Class, want classifyWant) {
	t.Helper()
	if got.Kind != want.kind {
		t.Fatalf("kind = %q (reason %q), want %q", got.Kind, got.Reason, want.kind)
	}
	if !strings.Contains(got.Reason, want.reason) {
		t.Errorf("reason = %q, want it to contain %q", got.Reason, want.reason)
	}
	if want.bounce != nil {
		if got.Bounce == nil {
			t.Fatalf("Bounce = nil, want %+v", *want.bounce)
		}
		if !reflect.DeepEqual(*got.Bounce, *want.bounce) {
			t.Errorf("Bounce =\n  %+v\nwant\n  %+v", *got.Bounce, *want.bounce)
		}
	}
	if want.notice != nil {
		if got.Notice == nil || *got.Notice != *want.notice {
			t.Errorf("Notice = %+v, want %+v", got.Notice, *want.notice)
		}
	}
}

func TestClassifyFiles(t *testing.T) {
	cases := sharedDir("cases") + "/"
	td := "testdata/classify/"
	bob := BounceRecipient{Email: "bob.smith@example.org", Action: "failed", Status: "5.1.1",
		Diagnostic: "550 5.1.1 <bob.smith@example.org>: no such user"}
	tests := []struct {
		file     string
		envelope string
		want     classifyWant
	}{
		{cases + "01-a-outlook-original.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal}},
		{cases + "19-display-names-commas-quotes.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal}},
		{cases + "22-no-from-only-sender.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal}},
		{cases + "23-reply-to-web-form.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal, reason: "form relay: Precedence: bulk"}},
		{cases + "25-ooo-auto-submitted.eml", EnvelopeUnknown, classifyWant{kind: ClassAutoReply, reason: "Auto-Submitted: auto-replied"}},
		{cases + "27-dsn-bounce.eml", EnvelopeUnknown, classifyWant{kind: ClassBounce, reason: "DSN multipart/report", bounce: &Bounce{
			Recipients:        []BounceRecipient{bob},
			OriginalMessageID: "req-1001.3@maint.example.com",
			OriginalSubject:   "[REQ-1001] Please add the team to the ventilation request",
		}}},
		{cases + "27-dsn-bounce.eml", "", classifyWant{kind: ClassBounce}},
		{cases + "35-exchange-imap-retrieval-failed.eml", EnvelopeUnknown, classifyWant{kind: ClassSystem, reason: "IMAP4", notice: &SystemNotice{
			What: "exchange_imap_retrieval_failed", IMAPUID: "20004",
			OriginalSubject: "Canceled: Weekly facilities meeting", OriginalFrom: "olga.ivanova@example.org",
		}}},

		{td + "postfix-bounce-folded-diagnostic.eml", "", classifyWant{kind: ClassBounce, reason: "DSN", bounce: &Bounce{
			Recipients: []BounceRecipient{{Email: "carl.berg@example.net", Action: "failed", Status: "5.1.1",
				Diagnostic: "550 5.1.1 <carl.berg@example.net>: Recipient address rejected: User unknown in virtual mailbox table"}},
			OriginalMessageID: "req-1002.1@maint.example.com",
			OriginalSubject:   "[REQ-1002] Tür klemmt",
		}}},
		{td + "exim-mail-delivery-failed-plain.eml", EnvelopeUnknown, classifyWant{kind: ClassBounce, reason: "From: mailer-daemon@smtp.example.net", bounce: &Bounce{
			Recipients: []BounceRecipient{{Email: "dora.ng@example.net", Action: "failed", Status: "5.1.1",
				Diagnostic: "host mx.example.net [192.0.2.20] SMTP error from remote mail server after RCPT TO:<dora.ng@example.net>: 550 5.1.1 <dora.ng@example.net>: Recipient address rejected: User unknown"}},
			OriginalMessageID: "req-1003.1@maint.example.com",
			OriginalSubject:   "[REQ-1003] Light out in stairwell C",
		}}},
		{td + "exchange-ndr-undeliverable-no-return-path.eml", EnvelopeUnknown, classifyWant{kind: ClassBounce, reason: `bounce subject "Undeliverable:"`, bounce: &Bounce{
			Recipients: []BounceRecipient{{Email: "dana.lee@contoso.example", Action: "failed", Status: "5.1.1",
				Diagnostic: "The e-mail address you entered couldn't be found. Please check the recipient's e-mail address and try to resend the message."}},
			OriginalMessageID: "req-1004.2@maint.example.com",
			OriginalSubject:   "[REQ-1004] Heating in room 12 too low",
		}}},
		{td + "qmail-failure-notice.eml", EnvelopeUnknown, classifyWant{kind: ClassBounce, bounce: &Bounce{
			Recipients: []BounceRecipient{{Email: "erin.walsh@example.org", Action: "failed", Status: "5.1.1",
				Diagnostic: "192.0.2.7 does not like recipient. Remote host said: 550 5.1.1 <erin.walsh@example.org>... User unknown Giving up on 192.0.2.7."}},
			OriginalMessageID: "req-1005.2@maint.example.com",
			OriginalSubject:   "[REQ-1005] Broken lock, bike room",
		}}},
		{td + "gmail-dsn-address-not-found.eml", "", classifyWant{kind: ClassBounce, reason: "DSN", bounce: &Bounce{
			Recipients: []BounceRecipient{{Email: "frank.otto@example.org", Action: "failed", Status: "5.1.1",
				Diagnostic: "550-5.1.1 The email account that you tried to reach does not exist."}},
			OriginalMessageID: "req-1006.1@maint.example.com",
			OriginalSubject:   "[REQ-1006] Window cleaning schedule",
		}}},
		{td + "mdn-read-receipt.eml", EnvelopeUnknown, classifyWant{kind: ClassAutoReply, reason: "read receipt"}},
		{td + "outlook-ooo-suppress-only-automatic-reply.eml", EnvelopeUnknown, classifyWant{kind: ClassAutoReply, reason: `subject "Automatic reply:"`}},
		{td + "exchange-out-of-office-colon-suppress-oof.eml", EnvelopeUnknown, classifyWant{kind: ClassAutoReply, reason: "X-Auto-Response-Suppress: OOF + subject"}},
		{td + "vacation-auto-submitted-and-precedence.eml", EnvelopeUnknown, classifyWant{kind: ClassAutoReply, reason: "Auto-Submitted: auto-replied"}},
		{td + "list-mail-list-id.eml", EnvelopeUnknown, classifyWant{kind: ClassAutoReply, reason: "List-Id"}},
		{td + "auto-submitted-no-normal.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal}},
		{td + "outlook-suppress-dr-rn-normal.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal}},
		{td + "helpdesk-agent-suppress-all-normal.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal}},
		{td + "person-out-of-office-subject-normal.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal}},
		{td + "form-relay-no-reply-precedence-list.eml", EnvelopeUnknown, classifyWant{kind: ClassNormal, reason: "form relay: Precedence: list"}},
		{td + "null-sender-building-alarm.eml", EnvelopeUnknown, classifyWant{kind: ClassAutoReply, reason: "null envelope sender"}},
		{td + "null-sender-building-alarm.eml", "bms@example.org", classifyWant{kind: ClassNormal}},
	}
	for _, tt := range tests {
		name := strings.TrimSuffix(filepath.Base(tt.file), ".eml")
		if tt.envelope != EnvelopeUnknown {
			name += "/envelope=" + tt.envelope
		}
		t.Run(name, func(t *testing.T) {
			p := classifyTestFile(t, tt.file)
			classifyCheck(t, Classify(p, tt.envelope, classifyTestID), tt.want)
		})
	}
}

// TestClassifyCorpus runs Classify over the public corpus and prints counts
// by kind, to eyeball false positives; it asserts only that nothing panics.
func TestClassifyCorpus(t *testing.T) {
	root := sharedDir("corpus")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("%s not present", root)
	}
	counts := map[ClassKind]int{}
	var lines []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		c := Classify(classifyTestParse(t, raw), EnvelopeUnknown, classifyTestID)
		counts[c.Kind]++
		if c.Kind != ClassNormal {
			rel, _ := filepath.Rel(root, path)
			l := string(c.Kind) + "\t" + rel + "\t" + c.Reason
			if c.Bounce != nil {
				l += fmt.Sprintf("\t%+v", *c.Bounce)
			}
			lines = append(lines, l)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	t.Logf("counts: normal=%d auto_reply=%d bounce=%d own=%d system=%d",
		counts[ClassNormal], counts[ClassAutoReply], counts[ClassBounce], counts[ClassOwn], counts[ClassSystem])
	for _, l := range lines {
		t.Log(l)
	}
}
