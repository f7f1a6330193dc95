package mailin

import (
	"bytes"
	"strings"
	"testing"
)

// Expectations of ../../shared/cases/EXPECTED.md that concern parsing.

type wantAtt struct {
	name   string
	size   int64
	sha256 string
}

func TestParseCases(t *testing.T) {
	tests := []struct {
		file        string
		needCharset bool // needs the real DecodeCharset/DecodeHeaderValue (skipped with the stubs)
		subject     string
		from        Address
		body        string // N(text) must equal this
		contains    []string
		textFrom    string
		atts        []wantAtt
	}{
		{file: "01-a-outlook-original.eml", subject: "Radiator leaking in room 204",
			from:     Address{Email: "jane.doe@example.org", Name: "Jane Doe"},
			contains: []string{"room 204 is leaking onto the carpet"}, textFrom: "plain"},
		{file: "02-a-original.eml", subject: "Broken blind in meeting room Oak",
			from: Address{Email: "omar.haddad@example.net", Name: "Omar Haddad"}},
		{file: "02-b-new-mail-with-tag-only.eml", subject: "Photo for [REQ-1001] - taken this morning",
			contains: []string{"Here is a photo of the blind."},
			atts:     []wantAtt{{"blind.png", 78, "e7b5389d07173ea9ae6a173185615b1c3a3c8acc8b1a01eb6ef49b1f2606c195"}}},
		{file: "03-b-prefix-sv.eml", subject: "SV: Elevator B stuck on floor 3"},
		{file: "03-c-prefix-aw-wg.eml", subject: "AW: WG: Elevator B stuck on floor 3"},
		{file: "06-iso-2022-jp-no-charset.eml", needCharset: true,
			subject: "会議室Ｂのエアコンが止まりました（至急）",
			from:    Address{Email: "yuki.sato@jp.example.net", Name: "佐藤"},
			body:    "お疲れ様です。\n会議室Ｂのエアコンが今朝から動いていません。\n室温が上がっていますので、確認をお願いします。\n確認事項①設定温度\n佐藤"},
		{file: "07-cp1252-labelled-latin1.eml", needCharset: true,
			subject: "Cafétéria fridge – quote",
			from:    Address{Email: "chloe.martin@fr.example.net", Name: "Chloé Martin"},
			body:    "Hello,\n\nThe contractor’s quote is € 1\u00A0250 – we need approval by Friday…\nHe marked it “urgent”.\n\nChloé"},
		{file: "11-base64-bad-padding.eml", from: Address{Email: "meters@utility.example.net", Name: "Facility Bot"},
			body: "Readings for meter M-12 and the floor plan are attached.",
			atts: []wantAtt{
				{"meter-readings.csv", 89, "8c6a62b61c4f8abe97f94073b71d6d128539e5a33fd83a31d4780df620cc71f9"},
				{"floorplan.png", 83, "dc33e12c48997cc764216185c6f8438cb9034240df2b8b11daf7d2a133c61bdf"},
			}},
		{file: "14-tnef-winmail-dat.eml", from: Address{Email: "peter.vogel@de.example.org", Name: "Peter Vogel"},
			body: "Please find the inspection report attached.\n\nPeter",
			atts: []wantAtt{
				{"inspection-report.txt", 93, "9bd9c6cfc664f3a68e12ecfd7e8595eb9a85fb6bbc87bd9ceeb5e5ac7977206e"},
				{"winmail.dat", 222, "664ca756da65bd69a37ec7db4b84b6f1b14db78816d1788666ccd5863ae7265e"},
			}},
		{file: "15-forward-as-rfc822-attachment.eml", subject: "FW: Noise from roof fan",
			from:     Address{Email: "hannah.lee@example.org", Name: "Hannah Lee"},
			contains: []string{"loud humming from the fan on your roof"}, textFrom: "forwarded",
			atts: []wantAtt{{"Noise from roof fan.eml", 462, "ed57c3340c23eae98a49035d2f511df3809c50a1c9fbe0e31837e64771ab2db0"}}},
		{file: "17-html-only-inline-cid.eml", from: Address{Email: "tariq.aziz@example.net", Name: "Tariq Aziz"},
			textFrom: "html",
			atts: []wantAtt{
				{"image001.png", 83, "4f211b41b7ab436441210430fff4f88b1543af689481d7715665c9a3c258c29c"},
				{"photo2.png", 75, "7ef343681b79b14a20289da987efd0cd4967a9d3f9431247b92ecd6d433e9241"},
			}},
		{file: "19-display-names-commas-quotes.eml", needCharset: true, // unquoted comma in a name: real ParseAddressList
			from: Address{Email: "jane.doe@example.org", Name: "Doe, Jane (Facilities)"}},
		{file: "20-b-plus-and-case-variants.eml", from: Address{Email: "jane.doe@example.org", Name: "JANE DOE"}},
		{file: "21-group-syntax-undisclosed.eml", from: Address{Email: "ines.duarte@example.net", Name: "Ines Duarte"}},
		{file: "22-no-from-only-sender.eml", subject: "Visitor reports broken step at main entrance",
			from: Address{Email: "frontdesk@example.org", Name: "Front Desk"}},
		{file: "23-reply-to-web-form.eml", from: Address{Email: "tom.tenant@example.net", Name: "Tom Tenant"}},
		{file: "29-missing-message-id.eml", subject: "Parking barrier stuck open",
			from: Address{Email: "kevin.osei@example.net", Name: "Kevin Osei"}},
		{file: "31-oversize-attachment.eml", body: "Raw survey data attached, the report follows next week.",
			atts: []wantAtt{{"survey-data.bin", 240000, "08fbf3b42cb79b25c98f4d3d04c11288152f73cf122ba55ec0c99d7ebd471091"}}},
		{file: "35-exchange-imap-retrieval-failed.eml", from: Address{}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw := readCase(t, tc.file)
			p, sink := mustParse(t, raw, ParseOptions{})
			if p.Unparseable != "" {
				t.Fatalf("Unparseable: %s", p.Unparseable)
			}
			if tc.subject != "" && p.Subject != tc.subject {
				t.Errorf("Subject = %q, want %q", p.Subject, tc.subject)
			}
			if tc.from.Email != "" || tc.file == "35-exchange-imap-retrieval-failed.eml" {
				if p.From != tc.from {
					t.Errorf("From = %#v, want %#v", p.From, tc.from)
				}
			}
			if tc.body != "" && normText(p.Text) != tc.body {
				t.Errorf("Text = %q, want %q", normText(p.Text), tc.body)
			}
			for _, s := range tc.contains {
				if !strings.Contains(p.Text, s) {
					t.Errorf("Text %q does not contain %q", p.Text, s)
				}
			}
			if tc.textFrom != "" && p.TextFrom != tc.textFrom {
				t.Errorf("TextFrom = %q, want %q", p.TextFrom, tc.textFrom)
			}
			if strings.ContainsAny(p.Text, "\x1b\uFFFD\r") {
				t.Errorf("Text has ESC, U+FFFD or CR: %q", p.Text)
			}
			for _, w := range tc.atts {
				a := findAtt(p, w.name)
				if a == nil {
					t.Errorf("no attachment %q in %+v", w.name, p.Attachments)
					continue
				}
				if a.Size != w.size || a.SHA256 != w.sha256 || !a.Stored {
					t.Errorf("attachment %q = size %d sha %s stored %v, want %d %s", w.name, a.Size, a.SHA256, a.Stored, w.size, w.sha256)
				}
				if b := sink.blobs[w.sha256]; int64(len(b)) != w.size {
					t.Errorf("sink holds %d bytes for %q", len(b), w.name)
				}
			}
		})
	}
}

func TestParseCase14TNEF(t *testing.T) {
	p, _ := mustParse(t, readCase(t, "14-tnef-winmail-dat.eml"), ParseOptions{})
	if a := findAtt(p, "inspection-report.txt"); a == nil || !a.FromTNEF || a.ContentType != "text/plain" {
		t.Errorf("inspection-report.txt = %+v, want FromTNEF text/plain", a)
	}
	if a := findAtt(p, "winmail.dat"); a == nil || a.FromTNEF || a.ContentType != "application/ms-tnef" {
		t.Errorf("winmail.dat = %+v", a)
	}
}

func TestParseCase15Forwarded(t *testing.T) {
	p, _ := mustParse(t, readCase(t, "15-forward-as-rfc822-attachment.eml"), ParseOptions{})
	if len(p.Forwarded) != 1 {
		t.Fatalf("Forwarded = %+v", p.Forwarded)
	}
	f := p.Forwarded[0]
	if f.From.Email != "desk@neighbour.example.net" || f.Subject != "Noise from roof fan" ||
		f.MessageID != "nb-4471-roof@neighbour.example.net" || f.Date.IsZero() ||
		!strings.Contains(f.Text, "loud humming from the fan on your roof") {
		t.Errorf("Forwarded = %+v", f)
	}
	if a := findAtt(p, "Noise from roof fan.eml"); a == nil || a.ContentType != "message/rfc822" {
		t.Errorf("attachment = %+v", a)
	}
	// No address from inside the attached message on the outer mail.
	for _, l := range [][]Address{p.HeaderFrom, p.To, p.Cc, p.ReplyTo} {
		for _, a := range l {
			if a.Email == "desk@neighbour.example.net" {
				t.Errorf("inner sender leaked into outer addresses: %+v", l)
			}
		}
	}
}

func TestParseCase17InlineCID(t *testing.T) {
	p, _ := mustParse(t, readCase(t, "17-html-only-inline-cid.eml"), ParseOptions{})
	flat := collapseSpace(normText(p.Text))
	pos := 0
	for _, s := range []string{"Hello team,", "the crack in the wall next to the server room door is getting longer:",
		"Close-up from the scanner:", "Regards,", "Tariq"} {
		i := strings.Index(flat[pos:], s)
		if i < 0 {
			t.Fatalf("text %q lacks %q after offset %d", flat, s, pos)
		}
		pos += i + len(s)
	}
	for _, name := range []string{"image001.png", "photo2.png"} {
		a := findAtt(p, name)
		if a == nil || !a.Inline {
			t.Fatalf("%s = %+v, want inline", name, a)
		}
		if !strings.Contains(p.HTML, `src="att/`+a.SHA256+`"`) {
			t.Errorf("HTML does not reference att/%s: %s", a.SHA256, p.HTML)
		}
	}
	if strings.Contains(strings.ToLower(p.HTML), "cid:") {
		t.Errorf("HTML keeps a cid: URL: %s", p.HTML)
	}
}

func TestParseCase27Report(t *testing.T) {
	p, _ := mustParse(t, readCase(t, "27-dsn-bounce.eml"), ParseOptions{})
	if p.ReportType != "delivery-status" {
		t.Errorf("ReportType = %q", p.ReportType)
	}
	for _, s := range []string{"Final-Recipient: rfc822; bob.smith@example.org", "Action: failed", "Status: 5.1.1"} {
		if !strings.Contains(p.DeliveryStatus, s) {
			t.Errorf("DeliveryStatus lacks %q: %q", s, p.DeliveryStatus)
		}
	}
	if !strings.Contains(p.ReturnedHeaders, "Message-ID: <req-1001.3@maint.example.com>") {
		t.Errorf("ReturnedHeaders = %q", p.ReturnedHeaders)
	}
	if len(p.Attachments) != 0 {
		t.Errorf("report parts became attachments: %+v", p.Attachments)
	}
}

func TestParseCase31Limit(t *testing.T) {
	p, sink := mustParse(t, readCase(t, "31-oversize-attachment.eml"), ParseOptions{MaxAttachmentBytes: 200 << 10})
	a := findAtt(p, "survey-data.bin")
	if a == nil || a.Stored || a.Size != 240000 || a.SHA256 != "08fbf3b42cb79b25c98f4d3d04c11288152f73cf122ba55ec0c99d7ebd471091" {
		t.Fatalf("survey-data.bin = %+v, want hashed, sized, not stored", a)
	}
	if _, ok := sink.blobs[a.SHA256]; ok {
		t.Error("sink kept the oversized blob")
	}
	if normText(p.Text) != "Raw survey data attached, the report follows next week." {
		t.Errorf("Text = %q", p.Text)
	}
}

// LF-only files (22, 29) behave like CRLF ones, and a synthetic id is
// stable across line-end conventions and delivery headers.
func TestParseLineEndsAndSyntheticID(t *testing.T) {
	for _, f := range []string{"22-no-from-only-sender.eml", "29-missing-message-id.eml", "15-forward-as-rfc822-attachment.eml", "17-html-only-inline-cid.eml", "14-tnef-winmail-dat.eml"} {
		t.Run(f, func(t *testing.T) {
			raw := readCase(t, f)
			lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
			crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
			a, _ := mustParse(t, lf, ParseOptions{})
			b, _ := mustParse(t, crlf, ParseOptions{})
			if a.Text != b.Text || a.Subject != b.Subject || a.From != b.From || a.HTML != b.HTML {
				t.Errorf("LF and CRLF differ:\n%+v\n%+v", a, b)
			}
			if a.ContentHash != b.ContentHash || a.MessageID != b.MessageID {
				t.Errorf("ContentHash/MessageID differ: %s %s / %s %s", a.ContentHash, a.MessageID, b.ContentHash, b.MessageID)
			}
			if len(a.Attachments) != len(b.Attachments) {
				t.Errorf("attachments differ: %+v / %+v", a.Attachments, b.Attachments)
			}
		})
	}
	p, _ := mustParse(t, readCase(t, "29-missing-message-id.eml"), ParseOptions{})
	if !p.SyntheticID || p.MessageID != "sha256-"+p.ContentHash[:32]+"@tikkit.invalid" {
		t.Errorf("MessageID = %q (synthetic %v), ContentHash %s", p.MessageID, p.SyntheticID, p.ContentHash)
	}
	again, _ := mustParse(t, append([]byte("Received: from relay.example.net by mx; Thu, 26 Nov 2026\nDelivered-To: maintenance@example.com\nReturn-Path: <x@example.net>\n"), readCase(t, "29-missing-message-id.eml")...), ParseOptions{})
	if again.MessageID != p.MessageID {
		t.Errorf("synthetic id depends on delivery headers: %s vs %s", again.MessageID, p.MessageID)
	}
	if again.DeliveredTo == nil || again.DeliveredTo[0] != "maintenance@example.com" {
		t.Errorf("DeliveredTo = %v", again.DeliveredTo)
	}
	q, _ := mustParse(t, readCase(t, "22-no-from-only-sender.eml"), ParseOptions{})
	if q.SyntheticID || q.MessageID != "nofrom22.0001@example.org" || q.Sender == nil || len(q.HeaderFrom) != 0 {
		t.Errorf("case 22: %+v", q)
	}
}

func TestParseCase30Duplicates(t *testing.T) {
	a, _ := mustParse(t, readCase(t, "30-a-duplicate-delivery-to.eml"), ParseOptions{})
	b, _ := mustParse(t, readCase(t, "30-b-duplicate-delivery-cc-alias.eml"), ParseOptions{})
	if a.MessageID != "dup30.8e7d6c5b@example.org" || b.MessageID != a.MessageID {
		t.Errorf("MessageIDs %q %q", a.MessageID, b.MessageID)
	}
}

func TestParseCase01ThreadHeaders(t *testing.T) {
	p, _ := mustParse(t, readCase(t, "01-b-outlook-reply-no-in-reply-to.eml"), ParseOptions{})
	if p.ThreadIndex != "AQHddZndbxwqO01eb3CBkqO0xdbn+AAAPJoQ" || p.ThreadTopic != "Radiator leaking in room 204" {
		t.Errorf("ThreadIndex %q ThreadTopic %q", p.ThreadIndex, p.ThreadTopic)
	}
	if !strings.HasPrefix(p.Text, "The puddle is getting bigger, can someone come today?\n\nJane") {
		t.Errorf("Text = %q", p.Text)
	}
}
