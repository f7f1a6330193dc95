package mailin

import (
	"strings"
	"testing"
)

// The cases of ../shared/cases/EXPECTED.md, each fed through `ingest` and
// through a real SMTP session, from a fresh database.
type mailCase struct {
	name  string
	tweak func(*Options)
	run   func(t *testing.T, h *harness)
	acks  []string // acknowledgements expected, to these addresses (EXPECTED.md "ack to")
	quiet bool     // "no outbound mail": nothing at all is queued
}

func want[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func wantOutcome(t *testing.T, file string, res Result, outcome string) {
	t.Helper()
	if res.Outcome != outcome {
		t.Errorf("%s: outcome %q (%s), want %q", file, res.Outcome, res.Reason, outcome)
	}
}

func wantAttachment(t *testing.T, h *harness, msgid, name string, size int64, sha string) {
	t.Helper()
	for _, a := range h.attachments(h.message(msgid)) {
		if a.Name == name {
			want(t, name+" size", a.Size, size)
			want(t, name+" sha256", a.SHA256, sha)
			want(t, name+" stored", a.Stored, true)
			if !h.st.Blobs.Has(sha) {
				t.Errorf("%s: blob %s missing", name, sha)
			}
			return
		}
	}
	var names []string
	for _, a := range h.attachments(h.message(msgid)) {
		names = append(names, a.Name)
	}
	t.Errorf("attachment %q not found among %q", name, names)
}

func wantRequester(t *testing.T, h *harness, n int64, email, name string) {
	t.Helper()
	p := h.person(h.request(n).RequesterID)
	want(t, "requester email", p.Email, email)
	if name != "" {
		want(t, "requester name", p.Name, name)
	}
}

func wantRequestCount(t *testing.T, h *harness, n int) {
	t.Helper()
	if got := len(h.requests()); got != n {
		t.Errorf("%d requests, want %d", got, n)
	}
}

func wantNoPerson(t *testing.T, h *harness, emails ...string) {
	t.Helper()
	for _, e := range emails {
		if _, ok := h.personByEmail(e); ok {
			t.Errorf("an account exists for %s", e)
		}
	}
}

var mailCases = []mailCase{
	{name: "01-outlook-thread-index", acks: []string{"jane.doe@example.org"}, run: func(t *testing.T, h *harness) {
		a := h.feed("01-a-outlook-original.eml")
		wantOutcome(t, "01-a", a, OutcomeCreated)
		want(t, "number", a.Request, int64(1001))
		b := h.feed("01-b-outlook-reply-no-in-reply-to.eml")
		wantOutcome(t, "01-b", b, OutcomeAppended)
		wantRequestCount(t, h, 1)
		r := h.request(1001)
		want(t, "subject", r.Subject, "Radiator leaking in room 204")
		wantRequester(t, h, 1001, "jane.doe@example.org", "Jane Doe")
		ms := h.messages(1001)
		if len(ms) != 2 {
			t.Fatalf("%d messages", len(ms))
		}
		if !strings.HasPrefix(ms[0].BodyText, "Hello,") || !strings.Contains(ms[0].BodyText, "room 204 is leaking onto the carpet") {
			t.Errorf("01-a body %q", ms[0].BodyText)
		}
		want(t, "01-b visible", norm(ms[1].VisibleText), "The puddle is getting bigger, can someone come today?\n\nJane")
		if !strings.Contains(ms[1].BodyText, "Betreff: Radiator leaking in room 204") {
			t.Errorf("01-b full body lost its history: %q", ms[1].BodyText)
		}
	}},
	{name: "02-tag-only", acks: []string{"omar.haddad@example.net"}, run: func(t *testing.T, h *harness) {
		wantOutcome(t, "02-a", h.feed("02-a-original.eml"), OutcomeCreated)
		b := h.feed("02-b-new-mail-with-tag-only.eml")
		wantOutcome(t, "02-b", b, OutcomeAppended)
		want(t, "request", b.Request, int64(1001))
		wantRequestCount(t, h, 1)
		want(t, "subject", h.request(1001).Subject, "Broken blind in meeting room Oak")
		wantRequester(t, h, 1001, "omar.haddad@example.net", "")
		wantAttachment(t, h, b.MessageID, "blind.png", 78, "e7b5389d07173ea9ae6a173185615b1c3a3c8acc8b1a01eb6ef49b1f2606c195")
		v := norm(h.message(b.MessageID).VisibleText)
		if v != "Here is a photo of the blind." && v != "Here is a photo of the blind.\n\nSent from my iPhone" {
			t.Errorf("02-b visible %q", v)
		}
	}},
	{name: "03-localised-prefixes", acks: []string{"lars.nilsson@nordic.example.org"}, run: func(t *testing.T, h *harness) {
		wantOutcome(t, "03-a", h.feed("03-a-original.eml"), OutcomeCreated)
		wantOutcome(t, "03-b", h.feed("03-b-prefix-sv.eml"), OutcomeAppended)
		wantOutcome(t, "03-c", h.feed("03-c-prefix-aw-wg.eml"), OutcomeAppended)
		wantRequestCount(t, h, 1)
		want(t, "messages", len(h.messages(1001)), 3)
		want(t, "subject", h.request(1001).Subject, "Elevator B stuck on floor 3")
		wantRequester(t, h, 1001, "lars.nilsson@nordic.example.org", "")
	}},
	{name: "04-tag-stranger-vs-participant", run: func(t *testing.T, h *harness) {
		wantOutcome(t, "04-a", h.feed("04-a-original-with-cc.eml"), OutcomeCreated)
		want(t, "subject", h.request(1001).Subject, "Water stain on ceiling, lab 5")
		wantRequester(t, h, 1001, "priya.raman@example.org", "")
		ken, ok := h.personByEmail("ken.ito@example.org")
		if !ok {
			t.Fatal("no account for ken.ito")
		}
		want(t, "ken name", ken.Name, "Ken Ito")
		b := h.feed("04-b-stranger-uses-tag.eml")
		if b.Request == 1001 {
			t.Errorf("stranger's mail went into REQ-1001")
		}
		c := h.feed("04-c-cc-participant-uses-tag.eml")
		wantOutcome(t, "04-c", c, OutcomeAppended)
		want(t, "04-c request", c.Request, int64(1001))
		ms := h.messages(1001)
		want(t, "R1 messages", len(ms), 2)
		for _, m := range ms {
			if m.MessageID == b.MessageID {
				t.Error("04-b is on R1")
			}
		}
		if len(ms) == 2 {
			want(t, "04-c author", h.person(ms[1].AuthorID.Int64).Email, "ken.ito@example.org")
		}
		if _, ok := h.followers(1001)["max.power@example.net"]; ok {
			t.Error("max.power follows R1")
		}
		if b.Outcome == OutcomeCreated {
			wantRequester(t, h, b.Request, "max.power@example.net", "")
			if strings.Contains(h.request(b.Request).Subject, "REQ-1001") {
				t.Errorf("R2 subject keeps R1's tag: %q", h.request(b.Request).Subject)
			}
		}
	}},
	{name: "06-iso-2022-jp", run: func(t *testing.T, h *harness) {
		a := h.feed("06-iso-2022-jp-no-charset.eml")
		wantOutcome(t, "06", a, OutcomeCreated)
		want(t, "subject", h.request(1001).Subject, "会議室Ｂのエアコンが止まりました（至急）")
		wantRequester(t, h, 1001, "yuki.sato@jp.example.net", "佐藤")
		body := h.message(a.MessageID).BodyText
		want(t, "body", norm(body), "お疲れ様です。\n会議室Ｂのエアコンが今朝から動いていません。\n室温が上がっていますので、確認をお願いします。\n確認事項①設定温度\n佐藤")
		if strings.ContainsAny(body, "\x1b\ufffd") {
			t.Error("body has ESC or U+FFFD")
		}
	}},
	{name: "07-cp1252-as-latin1", run: func(t *testing.T, h *harness) {
		a := h.feed("07-cp1252-labelled-latin1.eml")
		want(t, "subject", h.request(1001).Subject, "Cafétéria fridge – quote")
		wantRequester(t, h, 1001, "chloe.martin@fr.example.net", "Chloé Martin")
		body := h.message(a.MessageID).BodyText
		want(t, "body", norm(body), "Hello,\n\nThe contractor’s quote is € 1\u00a0250 – we need approval by Friday…\nHe marked it “urgent”.\n\nChloé")
		for _, r := range body {
			if r >= 0x80 && r <= 0x9f {
				t.Errorf("C1 control %U in body", r)
			}
		}
	}},
	{name: "11-base64-padding", run: func(t *testing.T, h *harness) {
		a := h.feed("11-base64-bad-padding.eml")
		wantOutcome(t, "11", a, OutcomeCreated)
		wantRequester(t, h, 1001, "meters@utility.example.net", "")
		want(t, "body", norm(h.message(a.MessageID).BodyText), "Readings for meter M-12 and the floor plan are attached.")
		wantAttachment(t, h, a.MessageID, "meter-readings.csv", 89, "8c6a62b61c4f8abe97f94073b71d6d128539e5a33fd83a31d4780df620cc71f9")
		wantAttachment(t, h, a.MessageID, "floorplan.png", 83, "dc33e12c48997cc764216185c6f8438cb9034240df2b8b11daf7d2a133c61bdf")
	}},
	{name: "14-tnef", run: func(t *testing.T, h *harness) {
		a := h.feed("14-tnef-winmail-dat.eml")
		wantRequester(t, h, 1001, "peter.vogel@de.example.org", "")
		want(t, "body", norm(h.message(a.MessageID).BodyText), "Please find the inspection report attached.\n\nPeter")
		wantAttachment(t, h, a.MessageID, "inspection-report.txt", 93, "9bd9c6cfc664f3a68e12ecfd7e8595eb9a85fb6bbc87bd9ceeb5e5ac7977206e")
	}},
	{name: "15-forward-as-attachment", run: func(t *testing.T, h *harness) {
		a := h.feed("15-forward-as-rfc822-attachment.eml")
		wantOutcome(t, "15", a, OutcomeCreated)
		wantRequester(t, h, 1001, "hannah.lee@example.org", "Hannah Lee")
		wantNoPerson(t, h, "desk@neighbour.example.net")
		if s := h.request(1001).Subject; s != "FW: Noise from roof fan" && s != "Noise from roof fan" {
			t.Errorf("subject %q", s)
		}
		m := h.message(a.MessageID)
		var found bool
		for _, at := range h.attachments(m) {
			if at.ContentType == "message/rfc822" {
				found = true
				want(t, "rfc822 size", at.Size, int64(462))
				want(t, "rfc822 sha256", at.SHA256, "ed57c3340c23eae98a49035d2f511df3809c50a1c9fbe0e31837e64771ab2db0")
				want(t, "rfc822 name", at.Name, "Noise from roof fan.eml")
			}
		}
		if !found {
			t.Error("no message/rfc822 attachment")
		}
		if !strings.Contains(m.BodyText, "loud humming from the fan on your roof") {
			t.Errorf("body %q lacks the forwarded text", m.BodyText)
		}
	}},
	{name: "17-html-only-inline-cid", run: func(t *testing.T, h *harness) {
		a := h.feed("17-html-only-inline-cid.eml")
		m := h.message(a.MessageID)
		text := strings.Join(strings.Fields(m.BodyText), " ")
		pos := 0
		for _, s := range []string{"Hello team,", "the crack in the wall next to the server room door is getting longer:", "Close-up from the scanner:", "Regards,", "Tariq"} {
			i := strings.Index(text[pos:], s)
			if i < 0 {
				t.Errorf("text %q lacks %q after position %d", text, s, pos)
				break
			}
			pos += i + len(s)
		}
		wantAttachment(t, h, a.MessageID, "image001.png", 83, "4f211b41b7ab436441210430fff4f88b1543af689481d7715665c9a3c258c29c")
		var photo bool
		for _, at := range h.attachments(m) {
			if at.ContentID == "photo2.png" {
				photo = true
				want(t, "photo2 size", at.Size, int64(75))
				want(t, "photo2 sha256", at.SHA256, "7ef343681b79b14a20289da987efd0cd4967a9d3f9431247b92ecd6d433e9241")
				if !strings.Contains(m.HTML, at.SHA256) {
					t.Error("photo2.png not rendered in place")
				}
			}
		}
		if !photo {
			t.Error("no part with Content-ID photo2.png")
		}
		if strings.Contains(m.HTML, "cid:") {
			t.Errorf("unresolved cid: in %q", m.HTML)
		}
		if !strings.Contains(m.HTML, "4f211b41b7ab436441210430fff4f88b1543af689481d7715665c9a3c258c29c") {
			t.Error("image001.png not rendered in place")
		}
	}},
	{name: "19-display-names", acks: []string{"jane.doe@example.org"}, run: func(t *testing.T, h *harness) {
		wantOutcome(t, "19", h.feed("19-display-names-commas-quotes.eml"), OutcomeCreated)
		wantRequester(t, h, 1001, "jane.doe@example.org", "Doe, Jane (Facilities)")
		fs := h.followers(1001)
		wantFs := map[string]string{"bob.smith@example.org": "Smith, Bob", "pat.obrien@example.net": "O'Brien, Pat",
			"anna.mueller@example.org": "Müller, Anna", "cj@example.net": `Chen "CJ" Jun`}
		want(t, "followers", len(fs), len(wantFs))
		for e, n := range wantFs {
			want(t, e, fs[e], n)
		}
		want(t, "people", len(h.people()), 5)
		for _, p := range h.people() {
			if !strings.Contains(p.Email, "@") {
				t.Errorf("account without @: %q", p.Email)
			}
		}
	}},
	{name: "20-own-addresses", acks: []string{"jane.doe@example.org", "jane.doe@example.org"}, run: func(t *testing.T, h *harness) {
		wantOutcome(t, "20-a", h.feed("20-a-original.eml"), OutcomeCreated)
		b := h.feed("20-b-plus-and-case-variants.eml")
		wantOutcome(t, "20-b", b, OutcomeCreated)
		wantRequestCount(t, h, 2)
		want(t, "same requester", h.request(1001).RequesterID, h.request(b.Request).RequesterID)
		wantRequester(t, h, b.Request, "jane.doe@example.org", "")
		wantNoPerson(t, h, "maintenance+urgent@example.com", "maintenance@example.com", "facilities@example.com")
		want(t, "R2 followers", len(h.followers(b.Request)), 0)
		want(t, "people", len(h.people()), 1)
	}},
	{name: "21-group-syntax", run: func(t *testing.T, h *harness) {
		wantOutcome(t, "21", h.feed("21-group-syntax-undisclosed.eml"), OutcomeCreated)
		wantRequester(t, h, 1001, "ines.duarte@example.net", "")
		fs := h.followers(1001)
		want(t, "followers", len(fs), 2)
		want(t, "alice", fs["alice.wong@example.org"], "")
		want(t, "bruno", fs["bruno.costa@example.net"], "Bruno Costa")
		want(t, "people", len(h.people()), 3)
	}},
	{name: "22-sender-only", acks: []string{"frontdesk@example.org"}, run: func(t *testing.T, h *harness) {
		wantOutcome(t, "22", h.feed("22-no-from-only-sender.eml"), OutcomeCreated)
		wantRequester(t, h, 1001, "frontdesk@example.org", "Front Desk")
		want(t, "subject", h.request(1001).Subject, "Visitor reports broken step at main entrance")
	}},
	{name: "23-web-form-reply-to", acks: []string{"tom.tenant@example.net"}, run: func(t *testing.T, h *harness) {
		wantOutcome(t, "23", h.feed("23-reply-to-web-form.eml"), OutcomeCreated)
		wantRequester(t, h, 1001, "tom.tenant@example.net", "Tom Tenant")
		wantNoPerson(t, h, "noreply@forms.example.net")
	}},
	{name: "25-out-of-office", acks: []string{"jane.doe@example.org"}, run: func(t *testing.T, h *harness) {
		h.feed("01-a-outlook-original.eml")
		res := h.feed("25-ooo-auto-submitted.eml")
		wantOutcome(t, "25", res, OutcomeAutoReply)
		wantRequestCount(t, h, 1)
		want(t, "state", h.request(1001).State, "open")
		m := h.message(res.MessageID)
		want(t, "auto", m.Auto, true)
	}},
	{name: "27-dsn-bounce", acks: []string{"jane.doe@example.org"}, run: func(t *testing.T, h *harness) {
		h.feed("19-display-names-commas-quotes.eml")
		res := h.feed("27-dsn-bounce.eml")
		wantOutcome(t, "27", res, OutcomeBounce)
		want(t, "linked to", res.Request, int64(1001))
		wantRequestCount(t, h, 1)
		bob, _ := h.personByEmail("bob.smith@example.org")
		want(t, "bob undeliverable", bob.Undeliverable, true)
		es, _ := h.st.RequestEvents(h.ctx, h.request(1001).ID)
		var noted bool
		for _, e := range es {
			noted = noted || (e.Kind == "undeliverable" && strings.Contains(e.Detail, "bob.smith@example.org") && strings.Contains(e.Detail, "5.1.1") && strings.Contains(e.Detail, "failed"))
		}
		if !noted {
			t.Errorf("no undeliverable event naming bob, failed, 5.1.1: %+v", es)
		}
	}},
	{name: "29-missing-message-id", acks: []string{"kevin.osei@example.net"}, run: func(t *testing.T, h *harness) {
		a := h.feed("29-missing-message-id.eml")
		wantOutcome(t, "29 first", a, OutcomeCreated)
		wantRequester(t, h, 1001, "kevin.osei@example.net", "")
		want(t, "subject", h.request(1001).Subject, "Parking barrier stuck open")
		b := h.feed("29-missing-message-id.eml")
		wantOutcome(t, "29 again", b, OutcomeDuplicate)
		want(t, "same id", b.MessageID, a.MessageID)
		wantRequestCount(t, h, 1)
	}},
	{name: "30-duplicate-delivery", acks: []string{"mia.wong@example.org"}, run: func(t *testing.T, h *harness) {
		wantOutcome(t, "30-a", h.feed("30-a-duplicate-delivery-to.eml"), OutcomeCreated)
		wantOutcome(t, "30-b", h.feed("30-b-duplicate-delivery-cc-alias.eml"), OutcomeDuplicate)
		wantRequestCount(t, h, 1)
		want(t, "messages", len(h.messages(1001)), 1)
		wantRequester(t, h, 1001, "mia.wong@example.org", "")
		wantNoPerson(t, h, "facilities@example.com")
		want(t, "followers", len(h.followers(1001)), 0)
		var raws int
		h.st.DB().Get(&raws, "SELECT COUNT(*) FROM raw_messages")
		want(t, "raw copies kept", raws, 2)
	}},
	{name: "31-oversize-default-limits", run: func(t *testing.T, h *harness) {
		a := h.feed("31-oversize-attachment.eml")
		wantOutcome(t, "31", a, OutcomeCreated)
		wantAttachment(t, h, a.MessageID, "survey-data.bin", 240000, "08fbf3b42cb79b25c98f4d3d04c11288152f73cf122ba55ec0c99d7ebd471091")
	}},
	{name: "31-oversize-200k-attachment-limit", tweak: func(o *Options) { o.MaxAttachmentBytes = 200 << 10 }, run: func(t *testing.T, h *harness) {
		a := h.feed("31-oversize-attachment.eml")
		wantOutcome(t, "31", a, OutcomeCreated)
		m := h.message(a.MessageID)
		want(t, "body", norm(m.BodyText), "Raw survey data attached, the report follows next week.")
		as := h.attachments(m)
		if len(as) != 1 || as[0].Stored || as[0].Size != 240000 || as[0].Name != "survey-data.bin" {
			t.Errorf("attachments %+v", as)
		}
		if h.st.Blobs.Has("08fbf3b42cb79b25c98f4d3d04c11288152f73cf122ba55ec0c99d7ebd471091") {
			t.Error("refused attachment stored")
		}
		es, _ := h.st.RequestEvents(h.ctx, h.request(1001).ID)
		var noted bool
		for _, e := range es {
			noted = noted || (strings.Contains(e.Detail, "survey-data.bin") && strings.Contains(e.Detail, "240000"))
		}
		if !noted {
			t.Errorf("no note naming survey-data.bin and its size: %+v", es)
		}
	}},
	{name: "31-oversize-256k-message-limit", tweak: func(o *Options) { o.MaxMessageBytes = 256 << 10 }, run: func(t *testing.T, h *harness) {
		a := h.feed("31-oversize-attachment.eml")
		wantOutcome(t, "31", a, OutcomeCreated)
		m := h.message(a.MessageID)
		want(t, "body", norm(m.BodyText), "Raw survey data attached, the report follows next week.")
		as := h.attachments(m)
		if len(as) != 1 || as[0].Stored || as[0].Size != 240000 {
			t.Errorf("attachments %+v", as)
		}
		if !strings.Contains(m.Problems, "max_message_bytes") {
			t.Errorf("problems %q do not say why", m.Problems)
		}
		es, _ := h.st.RequestEvents(h.ctx, h.request(1001).ID)
		if len(es) == 0 || !strings.Contains(es[0].Detail, "survey-data.bin") {
			t.Errorf("no note naming survey-data.bin: %+v", es)
		}
	}},
	{name: "33-quote-stripping", run: func(t *testing.T, h *harness) {
		wantOutcome(t, "33-a", h.feed("33-a-original.eml"), OutcomeCreated)
		b := h.feed("33-b-outlook-reply-header-block.eml")
		c := h.feed("33-c-gmail-wrapped-attribution.eml")
		wantOutcome(t, "33-b", b, OutcomeAppended)
		wantOutcome(t, "33-c", c, OutcomeAppended)
		want(t, "33-b visible", norm(h.message(b.MessageID).VisibleText), "Thanks, the technician fixed it. You can close this.\n\nAna")
		want(t, "33-c visible", norm(h.message(c.MessageID).VisibleText), "It is leaking again this morning, sorry!")
		if !strings.Contains(h.message(c.MessageID).BodyText, "We have closed your request.") {
			t.Error("33-c full body lost")
		}
		want(t, "subject", h.request(1001).Subject, "Coffee machine leaking")
	}},
	{name: "35-exchange-notice", quiet: true, run: func(t *testing.T, h *harness) {
		res := h.feed("35-exchange-imap-retrieval-failed.eml")
		wantOutcome(t, "35", res, OutcomeHeld)
		wantRequestCount(t, h, 0)
		want(t, "people", len(h.people()), 0)
		if !strings.Contains(res.Reason+h.message(res.MessageID).Reason, "20004") {
			t.Errorf("reason %q does not name UID 20004", h.message(res.MessageID).Reason)
		}
		if !strings.Contains(h.message(res.MessageID).Reason, "Canceled: Weekly facilities meeting") {
			t.Errorf("reason %q does not name the original subject", h.message(res.MessageID).Reason)
		}
	}},
}

func TestCases(t *testing.T) {
	requireShared(t, "cases")
	for _, via := range []string{"ingest", "smtp"} {
		for _, c := range mailCases {
			t.Run(via+"/"+c.name, func(t *testing.T) {
				h := newHarness(t, via, c.tweak)
				c.run(t, h)
				checkOutbound(t, h, c)
			})
		}
	}
}

// A stranger who forges In-Reply-To (or copies Outlook's Thread-Index) of
// another tenant's message is never let into that request.
func TestThreadHijack(t *testing.T) {
	h := newHarness(t, "ingest", nil)
	alice := "From: Alice <alice@tenant-a.example>\r\nTo: maintenance@example.com\r\nSubject: Leak in 204\r\nMessage-ID: <alice1@tenant-a.example>\r\nThread-Index: AQHddZndbxwqO01eb3CBkqO0xdbn+A==\r\n\r\nIt leaks.\r\n"
	if r := h.feedBytes("alice", []byte(alice)); r.Outcome != OutcomeCreated {
		t.Fatalf("alice: %+v", r)
	}
	refs := "From: Mallory <mallory@evil.example>\r\nTo: maintenance@example.com\r\nCc: friend@evil.example\r\nSubject: Re: anything\r\nMessage-ID: <m1@evil.example>\r\nIn-Reply-To: <alice1@tenant-a.example>\r\n\r\nClick http://evil.example\r\n"
	r := h.feedBytes("refs", []byte(refs))
	if r.Request == 1001 {
		m := h.message("m1@evil.example")
		if !m.Internal {
			t.Error("a non-participant's message on R1 is public")
		}
	}
	ti := "From: Mallory <mallory@evil.example>\r\nTo: maintenance@example.com\r\nSubject: AW: Leak in 204\r\nMessage-ID: <m2@evil.example>\r\nThread-Index: AQHddZndbxwqO01eb3CBkqO0xdbn+AAAPJoQ\r\n\r\nHi\r\n"
	if r := h.feedBytes("thread-index", []byte(ti)); r.Request == 1001 {
		t.Errorf("thread-index from a stranger joined R1: %+v", r)
	}
	fs := h.followers(1001)
	for _, e := range []string{"mallory@evil.example", "friend@evil.example"} {
		if _, ok := fs[e]; ok {
			t.Errorf("%s follows R1", e)
		}
	}
}

// Two different mails with one Message-ID (a scan-to-mail device that
// always says <fixed@scanner.local>) are two messages; the same mail
// delivered again is one.
func TestMessageIDReuse(t *testing.T) {
	for _, via := range []string{"ingest", "smtp"} {
		t.Run(via, func(t *testing.T) {
			h := newHarness(t, via, nil)
			mk := func(from, subject, body string) []byte {
				return []byte("From: " + from + "\r\nTo: maintenance@example.com\r\nSubject: " + subject + "\r\nMessage-ID: <fixed@scanner.local>\r\n\r\n" + body + "\r\n")
			}
			a := h.feedBytes("a", mk("scanner@floor1.example", "Scan 1", "Broken tile, floor 1."))
			b := h.feedBytes("b", mk("scanner@floor2.example", "Scan 2", "Broken window, floor 2."))
			again := h.feedBytes("b again", mk("scanner@floor2.example", "Scan 2", "Broken window, floor 2."))
			want(t, "a", a.Outcome, OutcomeCreated)
			want(t, "b", b.Outcome, OutcomeCreated)
			want(t, "b again", again.Outcome, OutcomeDuplicate)
			wantRequestCount(t, h, 2)
		})
	}
}

// Anyone can write a Message-ID in our domain; only one we stored is ours.
func TestForgedOwnMessageID(t *testing.T) {
	h := newHarness(t, "ingest", nil)
	r := h.feedBytes("forged", []byte("From: Jane <jane@example.org>\r\nTo: maintenance@example.com\r\nSubject: Heater\r\nMessage-ID: <req-1001.9@MAINT.example.com>\r\n\r\nCold.\r\n"))
	want(t, "outcome", r.Outcome, OutcomeCreated)
	r = h.feedBytes("loop", []byte("From: Maintenance <maintenance@example.com>\r\nTo: maintenance@example.com\r\nSubject: Loop\r\nMessage-ID: <req-1001.10@maint.example.com>\r\n\r\nx\r\n"))
	want(t, "own From", r.Outcome, OutcomeHeld)
}

// checkOutbound checks the outbound expectations of EXPECTED.md on what the
// case queued: acknowledgements to the right people only, none for
// follow-ups, auto-replies, bounces or duplicates, nothing to our own or
// no-reply addresses.
func checkOutbound(t *testing.T, h *harness, c mailCase) {
	t.Helper()
	rows, err := h.st.Outbox(h.ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var acks []string
	for _, r := range rows {
		if caseIdentity.IsOwn(r.ToEmail) || IsNoReply(r.ToEmail) || notAPerson(r.ToEmail) {
			t.Errorf("mail queued to %s (%s)", r.ToEmail, r.Kind)
		}
		if r.Kind == "ack" {
			acks = append([]string{r.ToEmail}, acks...) // Outbox is newest first
		}
	}
	if c.quiet && len(rows) > 0 {
		t.Errorf("no outbound mail expected, got %d (first: %s to %s)", len(rows), rows[0].Kind, rows[0].ToEmail)
	}
	if c.acks != nil && strings.Join(acks, ",") != strings.Join(c.acks, ",") {
		t.Errorf("acks to %q, want %q", acks, c.acks)
	}
}
