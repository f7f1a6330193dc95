package mailin

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFindForwardTestdata runs FindForward over the mails of
// testdata/forward, one per client, language or quirk.
func TestFindForwardTestdata(t *testing.T) {
	nov24 := func(h, m int, zone string, off int) time.Time {
		return time.Date(2026, 11, 24, h, m, 0, 0, time.FixedZone(zone, off))
	}
	tests := []struct {
		file     string
		ok       bool
		email    string
		name     string
		subject  string
		date     time.Time // zero: not checked
		msgid    string
		text     string // prefix of Forwarded.Text
		textNot  string // must not occur in Forwarded.Text
		textTail string // suffix of Forwarded.Text
	}{
		{file: "gmail", ok: true, email: "jane.doe@example.org", name: "Jane Doe", subject: "Leak in suite 201",
			date: nov24(17, 20, "", 0), text: "Hello,\n\nwater is dripping", textTail: "Jane"},
		{file: "gmail-no-prefix-wrapped-from", ok: true, email: "committee@riverside-tenants.example.org",
			name: "Facilities Committee of the Riverside Tenants Association", subject: "Leak in the basement storage",
			text: "The basement storage room"},
		{file: "apple-mail-quoted", ok: true, email: "hannah.lee@example.org", name: "Lee, Hannah", subject: "Broken window",
			date: nov24(17, 20, "CET", 3600), text: "Hi Sam,\n\nthe window", textTail: "Hannah", textNot: "iPhone"},
		{file: "apple-mail-blank-lines", ok: true, email: "omar@example.net", name: "Omar Haddad", subject: "Heating",
			date: nov24(8, 1, "", 0), text: "The radiators on floor 4 are cold."},
		{file: "thunderbird", ok: true, email: "priya.raman@example.org", name: "Priya Raman", subject: "Lift out of order",
			date: nov24(17, 20, "", 3600), text: "The lift in Tower A"},
		{file: "thunderbird-de", ok: true, email: "klaus.mueller@example.de", name: "Klaus Müller", subject: "Aufzug defekt",
			date: nov24(17, 20, "", 3600), text: "Der Aufzug im Haus B"},
		{file: "outlook-rule", ok: true, email: "bob.stone@example.org", name: "Bob Stone", subject: "Door lock",
			date: nov24(17, 20, "", 0), text: "The door lock of suite 305 is stuck."},
		{file: "outlook-original-message-mailto", ok: true, email: "bob.stone@example.org", name: "Stone, Bob",
			subject: "Noise", text: "The fan on the roof"},
		{file: "outlook-html-text-mailto-link", ok: true, email: "carla.diaz@example.org", name: "Carla Diaz",
			subject: "Parking gate", text: "The parking gate"},
		{file: "outlook-angle-mailto", ok: true, email: "dana.white@example.org", name: "Dana White", subject: "Lights",
			text: "Corridor lights"},
		{file: "gmail-html-only", ok: true, email: "eve.park@example.org", name: "Eve Park", subject: "Smell of gas",
			date: nov24(17, 20, "", 0), text: "There is a smell of gas"},
		{file: "outlook-de", ok: true, email: "klaus.mueller@example.de", name: "Müller, Klaus", subject: "Heizung",
			text: "Die Heizung im Büro 2.04 ist kalt."},
		{file: "gmail-de", ok: true, email: "anna.schmidt@example.de", name: "Anna Schmidt", subject: "Wasserschaden",
			text: "Im Keller steht Wasser."},
		{file: "outlook-fr-space-colon", ok: true, email: "jean.dupont@example.fr", name: "Jean Dupont", subject: "Fuite d'eau",
			text: "Il y a une fuite"},
		{file: "gmail-fr", ok: true, email: "marie.curie@example.fr", name: "Marie Curie", subject: "Ascenseur",
			text: "L'ascenseur est en panne."},
		{file: "apple-mail-fr", ok: true, email: "luc.martin@example.fr", name: "Luc Martin", subject: "Chauffage",
			text: "Le chauffage ne marche pas."},
		{file: "gmail-es", ok: true, email: "juan.garcia@example.es", name: "Juan García", subject: "Gotera",
			text: "Hay una gotera"},
		{file: "outlook-es", ok: true, email: "lucia.fernandez@example.es", name: "Lucía Fernández", subject: "Puerta",
			text: "La puerta del garaje"},
		{file: "gmail-nl", ok: true, email: "pieter@example.nl", name: "Pieter de Vries", subject: "Lekkage",
			text: "Er is een lekkage"},
		{file: "outlook-nl", ok: true, email: "sanne.jansen@example.nl", name: "Sanne Jansen", subject: "Verwarming",
			text: "De verwarming is koud."},
		{file: "gmail-it", ok: true, email: "giulia.rossi@example.it", name: "Giulia Rossi", subject: "Perdita",
			text: "C'è una perdita"},
		{file: "outlook-it", ok: true, email: "marco.bianchi@example.it", name: "Marco Bianchi", subject: "Ascensore",
			text: "L'ascensore è fermo"},
		{file: "gmail-sv", ok: true, email: "erik@example.se", name: "Erik Lindqvist", subject: "Vattenläcka",
			text: "Det läcker vatten"},
		{file: "outlook-da", ok: true, email: "mette.hansen@example.dk", name: "Mette Hansen", subject: "Varme",
			text: "Radiatoren er kold."},
		{file: "gmail-no", ok: true, email: "ola.nordmann@example.no", name: "Ola Nordmann", subject: "Heis",
			text: "Heisen står."},
		{file: "thunderbird-ja", ok: true, email: "taro.yamada@example.jp", name: "山田 太郎", subject: "水漏れ",
			date: nov24(17, 20, "", 9*3600), text: "２階のトイレで水漏れがあります。"},
		{file: "outlook-ja", ok: true, email: "hanako.sato@example.jp", name: "佐藤 花子", subject: "エアコン",
			text: "会議室のエアコンが動きません。"},
		{file: "gmail-zh-fullwidth-colon", ok: true, email: "zhang.wei@example.cn", name: "张伟", subject: "漏水",
			text: "三楼卫生间漏水。"},
		{file: "qq-mail-zh", ok: true, email: "li.na@example.cn", name: "李娜", subject: "空调", text: "会议室的空调坏了。"},
		{file: "mutt", ok: true, email: "tom.baker@example.org", name: "Tom Baker", subject: "Boiler",
			date: nov24(17, 20, "", 3600), msgid: "boiler-1@example.org", text: "The boiler makes a loud noise.",
			textTail: "noise.", textNot: "Sam"},

		{file: "neg-gmail-reply-quoting-history"},
		{file: "neg-outlook-reply"},
		{file: "neg-prose-from-the-lobby"},
		{file: "neg-forward-without-address"},
		{file: "neg-plain-request"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.file+".eml"] = true
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "forward", tc.file+".eml"))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := mustParse(t, raw, ParseOptions{})
			fw, ok := FindForward(p)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (from %+v, text %q)", ok, tc.ok, fw.From, p.Text)
			}
			if !ok {
				return
			}
			checkForward(t, fw, tc.email, tc.name, tc.subject)
			if !tc.date.IsZero() && !fw.Date.Equal(tc.date) {
				t.Errorf("Date = %v, want %v", fw.Date, tc.date)
			}
			if fw.MessageID != tc.msgid {
				t.Errorf("MessageID = %q, want %q", fw.MessageID, tc.msgid)
			}
			if !strings.HasPrefix(fw.Text, tc.text) {
				t.Errorf("Text = %q, want prefix %q", fw.Text, tc.text)
			}
			if !strings.HasSuffix(fw.Text, tc.textTail) {
				t.Errorf("Text = %q, want suffix %q", fw.Text, tc.textTail)
			}
			if tc.textNot != "" && strings.Contains(fw.Text, tc.textNot) {
				t.Errorf("Text = %q, must not contain %q", fw.Text, tc.textNot)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "forward", "*.eml"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no test case", f)
		}
	}
}

func checkForward(t *testing.T, fw Forwarded, email, name, subject string) {
	t.Helper()
	if fw.From.Email != email || fw.From.Name != name {
		t.Errorf("From = %q <%s>, want %q <%s>", fw.From.Name, fw.From.Email, name, email)
	}
	if fw.Subject != subject {
		t.Errorf("Subject = %q, want %q", fw.Subject, subject)
	}
	if fw.Text != strings.TrimSpace(fw.Text) {
		t.Errorf("Text not trimmed: %q", fw.Text)
	}
}

// TestParseInlineForward covers block shapes on bare text.
func TestParseInlineForward(t *testing.T) {
	tests := []struct {
		name, text     string
		ok             bool
		email, subject string
		body           string
	}{
		{name: "gmail bold labels from HTML",
			text: "---------- Forwarded message ---------\n*From:* Jane Doe <jane@example.org>\n*Date:* Tue, Nov 24, 2026 at 5:20 PM\n" +
				"*Subject:* Leak\n*To:* <desk@example.com>\n\nWater.",
			ok: true, email: "jane@example.org", subject: "Leak", body: "Water."},
		{name: "html text spaced angle address",
			text: "---------- Forwarded message ---------\nFrom: Jane Doe < jane@example.org >\nSubject: Leak\n\nWater.",
			ok:   true, email: "jane@example.org", subject: "Leak", body: "Water."},
		{name: "from wrapped without angle",
			text: "-------- Forwarded Message --------\nSubject: Leak\nFrom: The Residents' Committee of Building C\n" +
				"<committee@example.org>\nTo: desk@example.com\n\nWater.",
			ok: true, email: "committee@example.org", subject: "Leak", body: "Water."},
		{name: "crlf line ends",
			text: "Begin forwarded message:\r\n\r\nFrom: Jane <jane@example.org>\r\nSubject: Leak\r\n\r\nWater.\r\n",
			ok:   true, email: "jane@example.org", subject: "Leak", body: "Water."},
		{name: "bare address",
			text: "-----Original Message-----\nFrom: jane@example.org\nSent: Tuesday, November 24, 2026 5:20 PM\nSubject: Leak\n\nWater.",
			ok:   true, email: "jane@example.org", subject: "Leak", body: "Water."},
		{name: "nested forward: the outer block wins",
			text: "---------- Forwarded message ---------\nFrom: Bob <bob@example.org>\nSubject: Fwd: Leak\n\nSee below.\n\n" +
				"---------- Forwarded message ---------\nFrom: Jane <jane@example.org>\nSubject: Leak\n\nWater.",
			ok: true, email: "bob@example.org", subject: "Fwd: Leak", body: "See below.\n\n---------- Forwarded message ---------\n" +
				"From: Jane <jane@example.org>\nSubject: Leak\n\nWater."},
		{name: "no blank line between header and body",
			text: "---------- Forwarded message ---------\nFrom: Jane <jane@example.org>\nSubject: Leak\nWater is dripping.",
			ok:   true, email: "jane@example.org", subject: "Leak", body: "Water is dripping."},
		{name: "outlook for mac one-line block",
			text: "FYI\n\nFrom: Jane Doe <jane@example.org> Sent: Tuesday, November 24, 2026 5:20 PM To: Desk Subject: Leak\n\nWater.",
			ok:   true, email: "jane@example.org", subject: "", body: "Water."},
		{name: "marker without header block is not a forward",
			text: "---------- Forwarded message ---------\n\nWater is dripping, see my earlier mail."},
		{name: "reply with quoted history",
			text: "Thanks!\n\nOn Tue, Nov 24, 2026 at 5:20 PM Jane <jane@example.org> wrote:\n> Water.\n"},
		{name: "reply quoting a forward",
			text: "Done.\n\nOn Tue, Nov 24, 2026 at 5:20 PM Jane <jane@example.org> wrote:\n> ---------- Forwarded message ---------\n" +
				"> From: Bob <bob@example.org>\n> Subject: Leak\n>\n> Water.\n"},
		{name: "prose from the lobby",
			text: "The delivery goes\nFrom: the lobby\nTo: the dock\nSubject: to the porter's approval\n\nThanks."},
		{name: "header block without an address",
			text: "________________________________\nFrom: Jane Doe\nSent: Tuesday, November 24, 2026 5:20 PM\nTo: Desk\nSubject: Leak\n\nWater."},
		{name: "empty", text: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fw, ok := ParseInlineForward(tc.text)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, fw)
			}
			if !ok {
				return
			}
			if fw.From.Email != tc.email || fw.Subject != tc.subject || fw.Text != tc.body {
				t.Errorf("got From %s, Subject %q, Text %q; want %s, %q, %q", fw.From.Email, fw.Subject, fw.Text,
					tc.email, tc.subject, tc.body)
			}
		})
	}
}

func TestSubjectIsReply(t *testing.T) {
	for s, want := range map[string]bool{
		"RE: Door lock": true, "AW: Heizung": true, "Re[2]: x": true, "回复：漏水": true, "[EXTERNAL] RE: x": true,
		"FW: RE: Door lock": false, "WG: x": false, "Door lock": false, "VS: Varme": false, "Re-painting": false,
	} {
		if got := subjectIsReply(s); got != want {
			t.Errorf("subjectIsReply(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestFindForwardCase15 reads the shared case of a forward sent as a
// message/rfc822 attachment with an empty outer body.
func TestFindForwardCase15(t *testing.T) {
	p, _ := mustParse(t, readCase(t, "15-forward-as-rfc822-attachment.eml"), ParseOptions{})
	fw, ok := FindForward(p)
	if !ok {
		t.Fatal("not a forward")
	}
	checkForward(t, fw, "desk@neighbour.example.net", "Neighbour Services", "Noise from roof fan")
	if fw.MessageID != "nb-4471-roof@neighbour.example.net" {
		t.Errorf("MessageID = %q", fw.MessageID)
	}
	if !strings.HasPrefix(fw.Text, "Dear Ms Lee,") {
		t.Errorf("Text = %q", fw.Text)
	}
}

// TestFindForwardCorpus runs FindForward over every file of the shared
// corpus: no panic, and every forward found has a real address.
func TestFindForwardCorpus(t *testing.T) {
	dir := sharedDir("corpus")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skip("corpus not present")
	}
	var files, forwards, attached int
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			return nil
		}
		files++
		p, err := Parse(strings.NewReader(string(raw)), hashSink{}, ParseOptions{})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		fw, ok := FindForward(p)
		if !ok {
			return nil
		}
		forwards++
		if len(p.Forwarded) > 0 {
			attached++
		}
		if NormalizeEmail(fw.From.Email) != fw.From.Email || fw.From.Email == "" {
			t.Errorf("%s: forward From %q is not a normalised address", path, fw.From.Email)
		}
		t.Logf("%s: forward (attached %v) from %s, subject %q; outer subject %q", strings.TrimPrefix(path, dir+string(filepath.Separator)), len(p.Forwarded) > 0, fw.From, fw.Subject, p.Subject)
		return nil
	})
	t.Logf("corpus: %d files, %d forwards (%d attached as message/rfc822)", files, forwards, attached)
}

// TestParseInlineForwardLarge: many header-like blocks without an address
// stay linear (each is read at most fwdMaxHeaderLines deep).
func TestParseInlineForwardLarge(t *testing.T) {
	text := strings.Repeat("From: the lobby\nSent: today\nTo: the dock\nSubject: x\n", 50000)
	start := time.Now()
	if _, ok := ParseInlineForward(text); ok {
		t.Fatal("forward found in prose")
	}
	t.Logf("%d KiB in %v", len(text)>>10, time.Since(start))
}

// FuzzParseInlineForward: never panics, and a forward always has an address.
func FuzzParseInlineForward(f *testing.F) {
	f.Add("---------- Forwarded message ---------\nFrom: Jane <jane@example.org>\nSubject: x\n\nbody")
	f.Add("Begin forwarded message:\n\n> From: a@b.c\n> Subject: x\n>\n> y")
	f.Add("________________________________\nDe : X [mailto:x@y.z]\nEnvoyé : lundi\nObjet : z\n")
	f.Add("----- Forwarded message from a <a@b.c> -----\nFrom: a <a@b.c>\n\n----- End forwarded message -----")
	f.Fuzz(func(t *testing.T, s string) {
		fw, ok := ParseInlineForward(s)
		if ok && fw.From.Email == "" {
			t.Fatalf("forward without address: %+v", fw)
		}
	})
}
