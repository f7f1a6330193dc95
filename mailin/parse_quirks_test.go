package mailin

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Quirk mails in testdata/parse, one per lenient fix.
func TestParseQuirks(t *testing.T) {
	tests := []struct {
		file     string
		text     string // N(text), when set
		textFrom string
		problem  string // substring of one Problem
		check    func(t *testing.T, p *Parsed)
	}{
		{file: "calendar-only.eml", textFrom: "calendar",
			text: "Event: Boiler service, basement\nStart: 2026-12-03 09:00 UTC\nEnd: 2026-12-03 11:00 UTC\nLocation: Boiler room B-01\nOrganizer: Olga Ivanova <olga.ivanova@example.org>\n\nThe technician needs access to the boiler room.\nPlease bring the key.",
			check: func(t *testing.T, p *Parsed) {
				if len(p.Attachments) != 1 || p.Attachments[0].ContentType != "text/calendar" || !strings.HasSuffix(p.Attachments[0].Name, ".ics") {
					t.Errorf("attachments = %+v", p.Attachments)
				}
			}},
		{file: "rfc2231-filename.eml", text: "Plans attached.", check: func(t *testing.T, p *Parsed) {
			want := []string{"Grundriß Erdgeschoss – Stand Dezember.pdf", "Pläne Übersicht.pdf", "Küche.jpg", "attachment-4.bin"}
			if len(p.Attachments) != len(want) {
				t.Fatalf("attachments = %+v", p.Attachments)
			}
			for i, w := range want {
				if w != "" && p.Attachments[i].Name != w {
					t.Errorf("attachment %d name %q, want %q", i, p.Attachments[i].Name, w)
				}
			}
		}},
		{file: "qp-bad-escape.eml", problem: "bad quoted-printable escape",
			text: "The heating is set to 21°C but the room has 16 = too cold. \nDiscount 50%=off is not a valid escape, nor is =ZZ or a lone soft break continues here.  Lower-case hex: café."},
		{file: "missing-final-boundary.eml", problem: "missing closing boundary",
			text: "The inner alternative never closes.", check: func(t *testing.T, p *Parsed) {
				if !strings.Contains(p.HTML, "<p>The inner alternative never closes.</p>") {
					t.Errorf("HTML = %q", p.HTML)
				}
				if a := findAtt(p, "data.csv"); a == nil || a.Size != int64(len("a,b\r\n1,2\r\n")) {
					t.Errorf("data.csv = %+v", a)
				}
			}},
		{file: "apple-mail-text-image-text.eml", textFrom: "plain",
			text: "Here is the first photo:\n\nand the second one is below.\n\nOmar", check: func(t *testing.T, p *Parsed) {
				if a := findAtt(p, "IMG_0001.jpeg"); a == nil || !a.Inline || a.Size != 40 {
					t.Errorf("IMG_0001.jpeg = %+v", a)
				}
			}},
		{file: "boundary-not-found.eml", problem: "not found",
			text: "The door of room 12 does not close.\n--some-other-boundary\nJane"},
		{file: "base64-junk-line.eml", problem: "junk line", text: "Hello, the tap is dripping.",
			check: func(t *testing.T, p *Parsed) {
				if a := findAtt(p, "notes.txt"); a == nil || a.Size != 5 {
					t.Errorf("notes.txt = %+v", a)
				}
			}},
		{file: "content-type-no-subtype.eml", problem: "no subtype", text: "The window in room 3 is cracked."},
		{file: "duplicate-headers.eml", problem: "Subject fields", textFrom: "plain", text: "Plain text wins.",
			check: func(t *testing.T, p *Parsed) {
				if p.Subject != "First subject" || p.From.Email != "jane.doe@example.org" {
					t.Errorf("Subject %q From %v", p.Subject, p.From)
				}
			}},
		{file: "unknown-transfer-encoding.eml", problem: "unknown transfer encoding", text: "Read as eight bit."},
		{file: "format-flowed.eml",
			text: "The light in the corridor on the third floor has been flickering since Monday morning.\n\n> quoted line one continues here.\n\n-- \nJane"},
		{file: "html-unresolved-cid.eml", textFrom: "html", check: func(t *testing.T, p *Parsed) {
			if strings.Contains(strings.ToLower(p.HTML), "cid:") || strings.Contains(p.HTML, "script") {
				t.Errorf("HTML = %q", p.HTML)
			}
			if !strings.Contains(p.Text, "Thanks") {
				t.Errorf("Text = %q", p.Text)
			}
		}},
		{file: "report-returned-message.eml", text: "Delivery failed.", check: func(t *testing.T, p *Parsed) {
			if p.ReportType != "delivery-status" || !strings.Contains(p.DeliveryStatus, "Status: 5.1.1") {
				t.Errorf("ReportType %q DeliveryStatus %q", p.ReportType, p.DeliveryStatus)
			}
			if !strings.HasPrefix(p.ReturnedHeaders, "From: Facilities Maintenance") || !strings.Contains(p.ReturnedHeaders, "<req-1002.1@maint.example.com>") {
				t.Errorf("ReturnedHeaders = %q", p.ReturnedHeaders)
			}
			if len(p.Forwarded) != 0 {
				t.Errorf("returned message taken as a forward: %+v", p.Forwarded)
			}
			if len(p.Attachments) != 1 || p.Attachments[0].ContentType != "message/rfc822" {
				t.Errorf("attachments = %+v", p.Attachments)
			}
		}},
		{file: "nul-bytes.eml", problem: "NUL", text: "Broken text."},
		{file: "text-attachment-disposition.eml", text: "Log attached.", check: func(t *testing.T, p *Parsed) {
			if a := findAtt(p, "alarm.log"); a == nil || a.ContentType != "text/plain" {
				t.Errorf("alarm.log = %+v", a)
			}
		}},
		{file: "noreply-relay.eml", check: func(t *testing.T, p *Parsed) {
			if p.From.Email != "no-reply@portal.example.net" {
				t.Errorf("From = %v (two Reply-To: keep the relay)", p.From)
			}
		}},
		{file: "no-header.eml", check: func(t *testing.T, p *Parsed) {
			if p.Unparseable == "" || p.Text != "" {
				t.Errorf("Unparseable %q Text %q", p.Unparseable, p.Text)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			p, _ := mustParse(t, readTestdata(t, tc.file), ParseOptions{})
			if tc.file != "no-header.eml" && p.Unparseable != "" {
				t.Fatalf("Unparseable: %s", p.Unparseable)
			}
			if tc.text != "" && normText(p.Text) != tc.text {
				t.Errorf("Text = %q\nwant   %q", normText(p.Text), tc.text)
			}
			if tc.textFrom != "" && p.TextFrom != tc.textFrom {
				t.Errorf("TextFrom = %q, want %q", p.TextFrom, tc.textFrom)
			}
			if tc.problem != "" && !strings.Contains(strings.Join(p.Problems, "\n"), tc.problem) {
				t.Errorf("Problems %q lack %q", p.Problems, tc.problem)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestParseGarbage(t *testing.T) {
	for name, raw := range map[string][]byte{
		"empty":  nil,
		"binary": bytes.Repeat([]byte{0, 1, 2, 0xff, 0xfe, 0x89}, 500),
		"png":    append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 100)...),
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := mustParse(t, raw, ParseOptions{})
			if p.Unparseable == "" || p.Text != "" {
				t.Errorf("Unparseable %q Text %q", p.Unparseable, p.Text)
			}
		})
	}
}

func TestParseDeepNesting(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: deep\r\nMessage-ID: <deep@example.org>\r\n")
	const depth = 40
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nbottom\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	p, _ := mustParse(t, []byte(b.String()), ParseOptions{})
	if !strings.Contains(strings.Join(p.Problems, "\n"), "nested deeper") {
		t.Errorf("Problems = %q", p.Problems)
	}
}

func TestParseNestedForwards(t *testing.T) {
	msg := "From: inner@example.org\r\nSubject: level 0\r\n\r\ninnermost text\r\n"
	for i := 1; i <= 8; i++ {
		msg = fmt.Sprintf("From: l%d@example.org\r\nSubject: level %d\r\nContent-Type: message/rfc822\r\n\r\n%s", i, i, msg)
	}
	p, _ := mustParse(t, []byte(msg), ParseOptions{})
	if p.Unparseable != "" || len(p.Attachments) != 1 {
		t.Fatalf("Unparseable %q attachments %+v", p.Unparseable, p.Attachments)
	}
	if !strings.Contains(strings.Join(p.Problems, "\n"), "nested deeper") {
		t.Errorf("Problems = %q", p.Problems)
	}
}

func TestParseSinkError(t *testing.T) {
	raw := readTestdata(t, "rfc2231-filename.eml")
	sink := newMemSink()
	sink.fail = errors.New("disk full")
	if _, err := Parse(bytes.NewReader(raw), sink, ParseOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v, want the sink error", err)
	}
	// Also through an attached message (sink runs in another goroutine).
	if _, err := Parse(bytes.NewReader(readTestdata(t, "report-returned-message.eml")), sink, ParseOptions{}); err == nil {
		t.Error("no error from a failing sink on message/rfc822")
	}
}

func TestParseTextLimit(t *testing.T) {
	raw := "From: a@example.org\r\nSubject: long\r\nMessage-ID: <l@example.org>\r\n\r\n" + strings.Repeat("ä", 3000) + "\r\n"
	p, _ := mustParse(t, []byte(raw), ParseOptions{MaxTextBytes: 1001})
	if len(p.Text) > 1001 || !utf8.ValidString(p.Text) || !strings.Contains(strings.Join(p.Problems, "\n"), "cut") {
		t.Errorf("len %d valid %v problems %q", len(p.Text), utf8.ValidString(p.Text), p.Problems)
	}
}

func TestEffectiveFrom(t *testing.T) {
	tom := Address{Email: "tom@example.net", Name: "Tom"}
	relay := Address{Email: "noreply@forms.example.net"}
	for _, tc := range []struct {
		name    string
		from    []Address
		sender  *Address
		replyTo []Address
		want    Address
	}{
		{"from", []Address{tom}, nil, nil, tom},
		{"no from: sender", nil, &tom, nil, tom},
		{"from without address: sender", []Address{{Name: "Nobody"}}, &tom, nil, tom},
		{"noreply relay: reply-to", []Address{relay}, nil, []Address{tom}, tom},
		{"do-not-reply", []Address{{Email: "do-not-reply@x.example"}}, nil, []Address{tom}, tom},
		{"bounces+tag", []Address{{Email: "bounces+123@x.example"}}, nil, []Address{tom}, tom},
		{"two reply-to: keep", []Address{relay}, nil, []Address{tom, {Email: "b@example.net"}}, relay},
		{"normal from with reply-to: keep", []Address{{Email: "ann@example.org"}}, nil, []Address{tom}, Address{Email: "ann@example.org"}},
		{"noreplyer is a person", []Address{{Email: "noreplyer@example.org"}}, nil, []Address{tom}, Address{Email: "noreplyer@example.org"}},
		{"nothing", nil, nil, nil, Address{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := effectiveFrom(tc.from, tc.sender, tc.replyTo); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Remote images in mail HTML are tracking pixels: never kept.
func TestRemoteImagesDropped(t *testing.T) {
	raw := "From: a@b.example\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n<p>Hi<img src=\"http://evil.example/p.gif?u=alice\"><img srcset=\"https://evil.example/a.png 2x\"><table background=\"//evil.example/bg.png\"></table></p>\r\n"
	p, _ := mustParse(t, []byte(raw), ParseOptions{})
	if strings.Contains(p.HTML, "evil.example") {
		t.Errorf("remote image kept: %s", p.HTML)
	}
}
