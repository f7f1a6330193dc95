package mailout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	netmail "net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

var testDate = time.Date(2025, 3, 4, 10, 5, 6, 0, time.FixedZone("", 3600))

type fakeTokens struct{}

func (fakeTokens) ReplyToken(number int64, email string) string {
	return fmt.Sprintf("r%d.tok%d", number, len(email))
}

func testOptions() Options {
	return Options{
		From:    Address{Email: "maintenance@example.com", Name: "Facilities Desk"},
		ReplyTo: TokenReplyTo("maintenance@example.com", fakeTokens{}),
		Date:    func() time.Time { return testDate },
	}
}

func testMail() Mail {
	return Mail{
		Kind:            "update",
		MessageID:       "req-1001.7f3a9c@maint.example.com",
		To:              Address{Email: "jane.doe@example.org", Name: "Jane Doe"},
		RequestNumber:   1001,
		PersonID:        7,
		InReplyTo:       "req-1001.5@maint.example.com",
		References:      []string{"CAFxyz.root@mail.example.org", "req-1001.5@maint.example.com"},
		Subject:         "[REQ-1001] Leaking tap in room 204",
		Text:            "The plumber comes tomorrow.\nStatus: https://maint.example.com/r/1001/k\n",
		HTML:            "<p>The plumber comes tomorrow.</p>\n",
		ListUnsubscribe: "https://maint.example.com/r/1001/k/unfollow",
	}
}

func compose(t *testing.T, m Mail, opt Options) []byte {
	t.Helper()
	b, err := Compose(m, opt)
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	if bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatalf("bare LF in output:\n%s", b)
	}
	return b
}

// rawHeader returns the unfolded header fields of msg as written.
func rawHeader(t *testing.T, msg []byte) map[string][]string {
	t.Helper()
	hdr, _, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("no end of header")
	}
	out := map[string][]string{}
	unfolded := strings.ReplaceAll(string(hdr), "\r\n ", " ")
	unfolded = strings.ReplaceAll(unfolded, "\r\n\t", "\t")
	for _, l := range strings.Split(unfolded, "\r\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("malformed header line %q", l)
		}
		out[strings.ToLower(k)] = append(out[strings.ToLower(k)], v)
	}
	return out
}

func readNet(t *testing.T, msg []byte) *netmail.Message {
	t.Helper()
	nm, err := netmail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	return nm
}

func TestComposeHeaders(t *testing.T) {
	msg := compose(t, testMail(), testOptions())
	raw := rawHeader(t, msg)
	want := map[string]string{
		"date":                     "Tue, 04 Mar 2025 10:05:06 +0100",
		"from":                     `"Facilities Desk" <maintenance@example.com>`,
		"to":                       `"Jane Doe" <jane.doe@example.org>`,
		"reply-to":                 `"Facilities Desk" <maintenance+r1001.tok20@example.com>`,
		"subject":                  "[REQ-1001] Leaking tap in room 204",
		"message-id":               "<req-1001.7f3a9c@maint.example.com>",
		"in-reply-to":              "<req-1001.5@maint.example.com>",
		"references":               "<CAFxyz.root@mail.example.org> <req-1001.5@maint.example.com>",
		"auto-submitted":           "auto-generated",
		"x-auto-response-suppress": "All",
		"list-unsubscribe":         "<https://maint.example.com/r/1001/k/unfollow>",
		"list-unsubscribe-post":    "List-Unsubscribe=One-Click",
		"x-tikkit-loop":            "maintenance@example.com",
		"mime-version":             "1.0",
		"content-type":             `multipart/alternative; boundary="` + boundary("req-1001.7f3a9c@maint.example.com") + `"`,
	}
	for k, v := range want {
		if got := raw[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", k, got, v)
		}
	}
	for k := range raw {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected header %s: %q", k, raw[k])
		}
	}
	for _, k := range []string{"precedence", "cc", "bcc", "sender"} {
		if _, ok := raw[k]; ok {
			t.Errorf("header %s present", k)
		}
	}

	// Read back with go-message.
	mr, err := mail.CreateReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("go-message: %v", err)
	}
	h := mr.Header
	if d, err := h.Date(); err != nil || !d.Equal(testDate) {
		t.Errorf("Date = %v, %v", d, err)
	}
	if id, err := h.MessageID(); err != nil || id != "req-1001.7f3a9c@maint.example.com" {
		t.Errorf("MessageID = %q, %v", id, err)
	}
	if ids, err := h.MsgIDList("In-Reply-To"); err != nil || len(ids) != 1 || ids[0] != "req-1001.5@maint.example.com" {
		t.Errorf("In-Reply-To = %q, %v", ids, err)
	}
	if ids, err := h.MsgIDList("References"); err != nil || len(ids) != 2 || ids[0] != "CAFxyz.root@mail.example.org" {
		t.Errorf("References = %q, %v", ids, err)
	}
	if rt, err := h.AddressList("Reply-To"); err != nil || len(rt) != 1 || rt[0].Address != "maintenance+r1001.tok20@example.com" {
		t.Errorf("Reply-To = %v, %v", rt, err)
	}

	// And with net/mail.
	nm := readNet(t, msg)
	if from, err := nm.Header.AddressList("From"); err != nil || len(from) != 1 ||
		from[0].Name != "Facilities Desk" || from[0].Address != "maintenance@example.com" {
		t.Errorf("From = %v, %v", from, err)
	}
}

func TestComposeStable(t *testing.T) {
	a := compose(t, testMail(), testOptions())
	b := compose(t, testMail(), testOptions())
	if !bytes.Equal(a, b) {
		t.Error("composing the same mail twice gave different bytes")
	}
}

func TestComposeTo(t *testing.T) {
	for _, tc := range []struct {
		name, email, display string
		raw                  string // exact To field; "" = not checked
		encoded              bool   // written as an RFC 2047 encoded-word
	}{
		{"ascii", "jane.doe@example.org", "Jane Doe", `"Jane Doe" <jane.doe@example.org>`, false},
		{"no name", "jane.doe@example.org", "", `<jane.doe@example.org>`, false},
		{"comma", "bob.smith@example.org", "Smith, Bob", `"Smith, Bob" <bob.smith@example.org>`, false},
		{"comma and parens", "jane.doe@example.org", "Doe, Jane (Facilities)", `"Doe, Jane (Facilities)" <jane.doe@example.org>`, false},
		{"apostrophe", "pat.obrien@example.net", "O'Brien, Pat", `"O'Brien, Pat" <pat.obrien@example.net>`, false},
		{"quotes", "cj@example.net", `Chen "CJ" Jun`, `"Chen \"CJ\" Jun" <cj@example.net>`, false},
		{"backslash", "x@example.net", `A\B`, `"A\\B" <x@example.net>`, false},
		{"umlaut and comma", "anna.mueller@example.org", "Müller, Anna", "", true},
		{"umlaut", "anna.mueller@example.org", "Anna Müller", "", true},
		{"cjk", "li@example.cn", "李小龙", "", true},
		{"angle brackets", "x@example.net", "Bob <boss@example.com>", `"Bob <boss@example.com>" <x@example.net>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMail()
			m.To = Address{Email: tc.email, Name: tc.display}
			msg := compose(t, m, testOptions())
			got := rawHeader(t, msg)["to"][0]
			if tc.raw != "" && got != tc.raw {
				t.Errorf("To = %s, want %s", got, tc.raw)
			}
			if tc.encoded && (!strings.HasPrefix(got, "=?utf-8?") || strings.ContainsAny(got[:strings.Index(got, "<")], ",\"")) {
				t.Errorf("To = %s, want an encoded-word without bare specials", got)
			}
			// Both parsers get the name and the address back.
			nl, err := readNet(t, msg).Header.AddressList("To")
			if err != nil || len(nl) != 1 || nl[0].Name != tc.display || nl[0].Address != tc.email {
				t.Errorf("net/mail To = %v, %v", nl, err)
			}
			mr, err := mail.CreateReader(bytes.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			gl, err := mr.Header.AddressList("To")
			if err != nil || len(gl) != 1 || gl[0].Name != tc.display || gl[0].Address != tc.email {
				t.Errorf("go-message To = %v, %v", gl, err)
			}
		})
	}
}

func TestComposeFromEncoded(t *testing.T) {
	opt := testOptions()
	opt.From.Name = "Haustechnik Müller & Söhne"
	msg := compose(t, testMail(), opt)
	from := rawHeader(t, msg)["from"][0]
	if !isASCII(from) || !strings.HasPrefix(from, "=?utf-8?") {
		t.Errorf("From = %q, want an ASCII encoded-word", from)
	}
	fl, err := readNet(t, msg).Header.AddressList("From")
	if err != nil || len(fl) != 1 || fl[0].Name != opt.From.Name {
		t.Errorf("From = %v, %v", fl, err)
	}
	rl, err := readNet(t, msg).Header.AddressList("Reply-To")
	if err != nil || len(rl) != 1 || rl[0].Name != opt.From.Name {
		t.Errorf("Reply-To = %v, %v", rl, err)
	}
}

func TestComposeIDN(t *testing.T) {
	for _, tc := range []struct {
		name     string
		email    string
		smtputf8 bool
		want     string // address in To
		err      error
	}{
		{"punycode", "jens@bücher.example", false, "jens@xn--bcher-kva.example", nil},
		{"smtputf8 keeps unicode", "jens@bücher.example", true, "jens@bücher.example", nil},
		{"already punycode", "jens@xn--bcher-kva.example", false, "jens@xn--bcher-kva.example", nil},
		{"ascii untouched", "Jens@Example.ORG", false, "Jens@Example.ORG", nil},
		{"utf8 local part needs smtputf8", "jürgen@example.de", false, "", ErrNeedsSMTPUTF8},
		{"utf8 local part with smtputf8", "jürgen@bücher.example", true, "jürgen@bücher.example", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMail()
			m.To = Address{Email: tc.email, Name: "Jens"}
			opt := testOptions()
			opt.SMTPUTF8 = tc.smtputf8
			msg, err := Compose(m, opt)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			to := rawHeader(t, msg)["to"][0]
			if want := `"Jens" <` + tc.want + `>`; to != want {
				t.Errorf("To = %s, want %s", to, want)
			}
			if !tc.smtputf8 && !isASCII(string(msg)) {
				t.Error("non-ASCII bytes in a message for a relay without SMTPUTF8")
			}
		})
	}
}

func TestComposeSubject(t *testing.T) {
	for _, s := range []string{
		"[REQ-1001] Heizung im Büro defekt – bitte prüfen",
		"[REQ-1002] " + strings.Repeat("Größere Störung in der Küche ", 8),
		"[REQ-1003] 会议室的空调坏了",
		"[REQ-1004] plain ascii " + strings.Repeat("word ", 40),
		"[REQ-1005] looks encoded =?utf-8?q?x?= but is not",
		"Ärger mit der Tür [REQ-1006]",
	} {
		m := testMail()
		m.Subject = s
		msg := compose(t, m, testOptions())
		want := strings.TrimSpace(s)
		mr, err := mail.CreateReader(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := mr.Header.Subject(); err != nil || got != want {
			t.Errorf("go-message Subject = %q, %v; want %q", got, err, want)
		}
		dec := new(mime.WordDecoder)
		if got, err := dec.DecodeHeader(readNet(t, msg).Header.Get("Subject")); err != nil || got != want {
			t.Errorf("net/mail Subject = %q, %v; want %q", got, err, want)
		}
		checkLineLengths(t, msg, 78)
		if raw := rawHeader(t, msg)["subject"][0]; strings.HasPrefix(s, "[REQ-") && !strings.HasPrefix(raw, s[:10]) {
			t.Errorf("raw Subject %q does not start with the plain tag", raw)
		}
	}
}

// checkLineLengths fails on any header line longer than max octets.
func checkLineLengths(t *testing.T, msg []byte, max int) {
	t.Helper()
	hdr, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for _, l := range strings.Split(string(hdr), "\r\n") {
		if len(l) > max {
			t.Errorf("header line of %d octets: %q", len(l), l)
		}
	}
}

func TestComposeHeaderInjection(t *testing.T) {
	evil := "x\r\nBcc: evil@x.example\r\n\r\nbody"
	for _, tc := range []struct {
		name string
		edit func(*Mail, *Options)
		err  bool
	}{
		{"subject", func(m *Mail, _ *Options) { m.Subject = "Hi" + evil }, false},
		{"subject lf only", func(m *Mail, _ *Options) { m.Subject = "Hi\nBcc: evil@x.example" }, false},
		{"to name", func(m *Mail, _ *Options) { m.To.Name = "Eve" + evil }, false},
		{"from name", func(_ *Mail, o *Options) { o.From.Name = "Desk" + evil }, false},
		{"in-reply-to", func(m *Mail, _ *Options) { m.InReplyTo = "a@b" + evil }, false},
		{"references", func(m *Mail, _ *Options) { m.References = []string{"a@b" + evil, "c@d"} }, false},
		{"to address", func(m *Mail, _ *Options) { m.To.Email = "jane@example.org" + evil }, true},
		{"message-id", func(m *Mail, _ *Options) { m.MessageID = "a@b" + evil }, true},
		{"list-unsubscribe", func(m *Mail, _ *Options) { m.ListUnsubscribe = "https://x/" + evil }, true},
		{"reply-to token", func(_ *Mail, o *Options) {
			o.ReplyTo = func(int64, string) string { return "m+t@example.com" + evil }
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opt := testMail(), testOptions()
			tc.edit(&m, &opt)
			msg, err := Compose(m, opt)
			if tc.err {
				if err == nil {
					t.Fatalf("no error; message:\n%s", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			nm := readNet(t, msg)
			if v, ok := nm.Header["Bcc"]; ok {
				t.Fatalf("Bcc header %q injected", v)
			}
			if bytes.Contains(msg, []byte("\nBcc:")) || bytes.Contains(msg, []byte("\n\nbody")) {
				t.Fatalf("injected line in:\n%s", msg)
			}
			if to, err := nm.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "jane.doe@example.org" {
				t.Errorf("To = %v, %v", to, err)
			}
		})
	}
}

func TestComposeReferences(t *testing.T) {
	m := testMail()
	m.References = nil
	for i := range 30 {
		m.References = append(m.References, fmt.Sprintf("<%s.%d@mail.example.org>", strings.Repeat("long-id-", 6), i))
	}
	m.References = append(m.References, "", "bad id@x", m.References[3], m.MessageID)
	m.InReplyTo = "parent.xyz@mail.example.org"
	msg := compose(t, m, testOptions())
	checkLineLengths(t, msg, 78)
	mr, err := mail.CreateReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	refs, err := mr.Header.MsgIDList("References")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != maxReferences {
		t.Fatalf("%d references, want %d: %q", len(refs), maxReferences, refs)
	}
	if want := strings.Repeat("long-id-", 6) + ".0@mail.example.org"; refs[0] != want {
		t.Errorf("first reference %q, want the root %q", refs[0], want)
	}
	if refs[len(refs)-1] != m.InReplyTo {
		t.Errorf("last reference %q, want In-Reply-To %q", refs[len(refs)-1], m.InReplyTo)
	}
	if want := strings.Repeat("long-id-", 6) + ".29@mail.example.org"; refs[len(refs)-2] != want {
		t.Errorf("second last reference %q, want %q", refs[len(refs)-2], want)
	}
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r] || r == m.MessageID {
			t.Errorf("reference %q repeated or self", r)
		}
		seen[r] = true
	}
}

func TestComposeNoThread(t *testing.T) {
	m := testMail()
	m.Kind, m.RequestNumber, m.InReplyTo, m.References, m.ListUnsubscribe = "welcome", 0, "", nil, ""
	raw := rawHeader(t, compose(t, m, testOptions()))
	for _, k := range []string{"in-reply-to", "references", "list-unsubscribe", "list-unsubscribe-post"} {
		if v, ok := raw[k]; ok {
			t.Errorf("%s = %q, want none", k, v)
		}
	}
	// Not about a request: no token, Reply-To is From.
	if got := raw["reply-to"]; len(got) != 1 || got[0] != `"Facilities Desk" <maintenance@example.com>` {
		t.Errorf("Reply-To = %q", got)
	}
}

func TestComposeReplyToNil(t *testing.T) {
	opt := testOptions()
	opt.ReplyTo = nil
	raw := rawHeader(t, compose(t, testMail(), opt))
	if got := raw["reply-to"]; len(got) != 1 || got[0] != raw["from"][0] {
		t.Errorf("Reply-To = %q, want From %q", got, raw["from"])
	}
}

func TestComposeAutoSubmitted(t *testing.T) {
	for kind, want := range map[string]string{
		"ack": "auto-replied", "update": "auto-generated", "reply": "", // a person's answer, relayed
		"closed": "auto-generated", "welcome": "auto-generated", "refusal": "auto-generated", "": "auto-generated",
	} {
		m := testMail()
		m.Kind = kind
		if got := readNet(t, compose(t, m, testOptions())).Header.Get("Auto-Submitted"); got != want {
			t.Errorf("kind %q: Auto-Submitted = %q, want %q", kind, got, want)
		}
	}
}

func TestComposeListUnsubscribe(t *testing.T) {
	for _, tc := range []struct{ in, list, post string }{
		{"https://m.example.com/u/1", "<https://m.example.com/u/1>", "List-Unsubscribe=One-Click"},
		{"<https://m.example.com/u/1>", "<https://m.example.com/u/1>", "List-Unsubscribe=One-Click"},
		{"http://m.example.com/u/1", "<http://m.example.com/u/1>", ""},
		{"mailto:maintenance+unfollow@example.com?subject=unfollow", "<mailto:maintenance+unfollow@example.com?subject=unfollow>", ""},
	} {
		m := testMail()
		m.ListUnsubscribe = tc.in
		h := readNet(t, compose(t, m, testOptions())).Header
		if got := h.Get("List-Unsubscribe"); got != tc.list {
			t.Errorf("%s: List-Unsubscribe = %q, want %q", tc.in, got, tc.list)
		}
		if got := h.Get("List-Unsubscribe-Post"); got != tc.post {
			t.Errorf("%s: List-Unsubscribe-Post = %q, want %q", tc.in, got, tc.post)
		}
	}
	m := testMail()
	m.ListUnsubscribe = "javascript:alert(1)"
	if _, err := Compose(m, testOptions()); err == nil {
		t.Error("javascript: URI accepted")
	}
}

var addrRe = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+`)

// TestComposeOneRecipient: the only address in the header besides our own
// is the recipient's (Message-IDs aside).
func TestComposeOneRecipient(t *testing.T) {
	m := testMail()
	m.To = Address{Email: "bob.smith@example.org", Name: "Smith, Bob"}
	raw := rawHeader(t, compose(t, m, testOptions()))
	for k, vs := range raw {
		switch k {
		case "message-id", "in-reply-to", "references":
			continue
		}
		for _, v := range vs {
			for _, a := range addrRe.FindAllString(v, -1) {
				switch {
				case a == "bob.smith@example.org" && k == "to":
				case strings.HasPrefix(a, "maintenance") && strings.HasSuffix(a, "@example.com"):
				default:
					t.Errorf("%s names %q", k, a)
				}
			}
		}
	}
	if got := raw["to"]; len(got) != 1 {
		t.Errorf("To fields %q", got)
	}
}

func TestComposeParts(t *testing.T) {
	m := testMail()
	m.Text = "Grüße aus der Haustechnik.\n" + strings.Repeat("Eine sehr lange Zeile ohne Umbruch. ", 10) + "\nEnde =?utf-8?q?x?= \n"
	m.HTML = "<p>Grüße</p>\n<p>" + strings.Repeat("lang ", 40) + "</p>\n"
	msg := compose(t, m, testOptions())
	for _, l := range strings.Split(string(msg), "\r\n") {
		if len(l) > 78 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
	}
	got := readParts(t, msg)
	if len(got) != 2 {
		t.Fatalf("parts %v", got)
	}
	if got["text/plain"] != crlf(m.Text) {
		t.Errorf("text = %q, want %q", got["text/plain"], crlf(m.Text))
	}
	if got["text/html"] != crlf(m.HTML) {
		t.Errorf("html = %q, want %q", got["text/html"], crlf(m.HTML))
	}

	m.HTML = ""
	msg = compose(t, m, testOptions())
	if ct := readNet(t, msg).Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("text only: Content-Type = %q", ct)
	}
	if got := readParts(t, msg); len(got) != 1 || got["text/plain"] != crlf(m.Text) {
		t.Errorf("text only: parts %q", got)
	}
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// readParts returns the decoded inline parts of msg by media type.
func readParts(t *testing.T, msg []byte) map[string]string {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h, ok := p.Header.(*mail.InlineHeader)
		if !ok {
			t.Fatalf("attachment part %v", p.Header)
		}
		typ, params, err := h.ContentType()
		if err != nil || params["charset"] != "utf-8" {
			t.Errorf("Content-Type %s %v %v", typ, params, err)
		}
		if cte := h.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("%s: Content-Transfer-Encoding = %q", typ, cte)
		}
		b, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		out[typ] = string(b)
	}
	return out
}

func TestComposeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Mail, *Options)
	}{
		{"no recipient", func(m *Mail, _ *Options) { m.To.Email = "" }},
		{"recipient without @", func(m *Mail, _ *Options) { m.To.Email = "jane" }},
		{"recipient with space", func(m *Mail, _ *Options) { m.To.Email = "jane doe@example.org" }},
		{"two recipients", func(m *Mail, _ *Options) { m.To.Email = "a@example.org,b@example.org" }},
		{"no from", func(_ *Mail, o *Options) { o.From.Email = "" }},
		{"no message-id", func(m *Mail, _ *Options) { m.MessageID = "" }},
		{"bracketed message-id", func(m *Mail, _ *Options) { m.MessageID = "<a@b>" }},
		{"empty subject", func(m *Mail, _ *Options) { m.Subject = " \r\n" }},
		{"empty body", func(m *Mail, _ *Options) { m.Text, m.HTML = "", "" }},
		{"bad idn", func(m *Mail, _ *Options) { m.To.Email = "a@bü--.example" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opt := testMail(), testOptions()
			tc.edit(&m, &opt)
			if msg, err := Compose(m, opt); err == nil {
				t.Errorf("no error; message:\n%s", msg)
			}
		})
	}
}

func TestTokenReplyTo(t *testing.T) {
	f := TokenReplyTo("maintenance@example.com", fakeTokens{})
	if got := f(1001, "bob@example.org"); got != "maintenance+r1001.tok15@example.com" {
		t.Errorf("got %q", got)
	}
	if got := TokenReplyTo("nobody", fakeTokens{})(1, "x@y"); got != "nobody" {
		t.Errorf("without @: got %q", got)
	}
}
