package templates

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func load(t *testing.T, dir string) *Set {
	t.Helper()
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%q): %v", dir, err)
	}
	return s
}

func render(t *testing.T, s *Set, k Kind, d Data) Rendered {
	t.Helper()
	r, err := s.Render(k, d)
	if err != nil {
		t.Fatalf("Render(%s): %v", k, err)
	}
	return r
}

// checkSubject holds for every subject: one line, trimmed, not empty, short,
// and tag first when there is a request.
func checkSubject(t *testing.T, subj string, d Data) {
	t.Helper()
	if subj == "" || strings.TrimSpace(subj) != subj {
		t.Errorf("subject %q: empty or not trimmed", subj)
	}
	if strings.ContainsAny(subj, "\r\n\t") {
		t.Errorf("subject %q: has CR, LF or tab", subj)
	}
	if n := utf8.RuneCountInString(subj); n > maxSubject {
		t.Errorf("subject has %d runes, want <= %d", n, maxSubject)
	}
	if d.RequestNumber != 0 && d.Tag != "" && !strings.HasPrefix(subj, d.Tag+" ") {
		t.Errorf("subject %q: want tag %s first", subj, d.Tag)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestKindsRender(t *testing.T) {
	s := load(t, "")
	minimal := Data{OrgName: "Facilities", Address: "fm@example.org", RequestNumber: 7, Tag: "[REQ-7]"}
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			for name, d := range map[string]Data{"full": sampleData(), "minimal": minimal, "zero": {}} {
				r := render(t, s, k, d)
				checkSubject(t, r.Subject, d)
				if !strings.HasSuffix(r.Text, "\n") || strings.Contains(r.Text, "\n\n\n") || strings.Contains(r.Text, "\r") {
					t.Errorf("%s: text not tidy: %q", name, r.Text)
				}
				if !strings.HasPrefix(r.HTML, "<!DOCTYPE html>") || !strings.Contains(r.HTML, `name="viewport"`) {
					t.Errorf("%s: HTML lacks doctype or viewport", name)
				}
				for _, bad := range []string{"<script", "<img", "<link", " src=", "url(", "<no value>"} {
					if strings.Contains(r.HTML, bad) || strings.Contains(r.Text, bad) {
						t.Errorf("%s: rendering contains %q", name, bad)
					}
				}
			}
		})
	}
}

// TestKindsWording checks what each kind must say with a full Data.
func TestKindsWording(t *testing.T) {
	s := load(t, "")
	d := sampleData()
	want := map[Kind][]string{
		Ack:      {"received", d.Tag, d.Location, d.Priority, "Reply to this email", d.StatusURL, d.Notes[0], "approve"},
		Update:   {d.AuthorName, "dripping.\nThere is", "Status changed from", d.StatusURL, d.Notes[0]},
		Reply:    {d.AuthorName, "dripping.\nThere is", d.StatusURL},
		Closed:   {"closed", d.Tag, d.StatusURL},
		Reopened: {"reopened", d.Tag, d.StatusURL},
		Refusal:  {"could not accept", d.Reason, "contact the office", d.Address},
		Welcome:  {"added you", d.AuthorName, d.Tag, d.StatusURL},
		Pending:  {"approve", "do not need to send"},
		Approved: {"approved", d.Address},
		Denied:   {"not approved", d.Reason, "contact the office"},
	}
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			r := render(t, s, k, d)
			for _, w := range want[k] {
				if !strings.Contains(r.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, r.Text)
				}
				if w = strings.ReplaceAll(w, "\n", "<br>\n"); !strings.Contains(r.HTML, w) {
					t.Errorf("HTML lacks %q:\n%s", w, r.HTML)
				}
			}
		})
	}
	// Refusals never show the refused mail: not its subject, text or notes.
	r := render(t, s, Refusal, d)
	for _, leak := range []string{d.Subject, "dripping", "survey-data.bin"} {
		if strings.Contains(r.Subject+r.Text+r.HTML, leak) {
			t.Errorf("refusal shows %q", leak)
		}
	}
	// Ack mentions only the guesses that were made.
	d.Location, d.Priority = "", ""
	if r := render(t, s, Ack, d); strings.Contains(r.Text, "Location") || strings.Contains(r.Text, "Priority") || strings.Contains(r.Text, "We filled in") {
		t.Errorf("ack without guesses mentions them:\n%s", r.Text)
	}
}

func TestSubjectHeaderInjection(t *testing.T) {
	s := load(t, "")
	d := sampleData()
	d.Subject = "Leak\r\nBcc: x@y\r\n\r\nbody"
	d.OrgName = "Facilities\nBcc: z@y"
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			r := render(t, s, k, d)
			checkSubject(t, r.Subject, d)
			if strings.Contains(r.Subject, "x@y") || strings.Contains(r.Subject, "z@y") {
				t.Errorf("subject %q shows an injected address", r.Subject)
			}
		})
	}
}

func TestFinishSubject(t *testing.T) {
	req := Data{OrgName: "Facilities", RequestNumber: 1001, Tag: "[REQ-1001]"}
	long := strings.Repeat("é", 300)
	tests := []struct {
		name, in string
		kind     Kind
		d        Data
		want     string
	}{
		{"plain", "[REQ-1001] Radiator leaking", Ack, req, "[REQ-1001] Radiator leaking"},
		{"tag missing is prepended", "Radiator leaking", Update, req, "[REQ-1001] Radiator leaking"},
		{"tag elsewhere is kept", "Radiator [REQ-1001] leaking", Update, req, "Radiator [REQ-1001] leaking"},
		{"white space collapsed", " \tLeak\r\n  in\u2028204\x00 ", Ack, req, "[REQ-1001] Leak in 204"},
		{"empty falls back", " \r\n ", Closed, req, "[REQ-1001] Facilities: request closed"},
		{"only the tag falls back", "[REQ-1001] ", Reply, req, "[REQ-1001] Facilities: reply to your request"},
		{"empty without org", "", Denied, Data{}, "Access not approved"},
		{"no tag without request", "Welcome", Welcome, Data{Tag: "[REQ-1]"}, "Welcome"},
		{"long is cut on a rune", long, Ack, Data{}, strings.Repeat("é", maxSubject-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := finishSubject(tt.in, tt.kind, tt.d)
			if got != tt.want {
				t.Errorf("finishSubject(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("invalid UTF-8: %q", got)
			}
		})
	}
}

func TestTagFromNumber(t *testing.T) {
	r := render(t, load(t, ""), Ack, Data{RequestNumber: 42, Subject: "Leak"})
	if r.Subject != "[REQ-42] Leak" {
		t.Errorf("subject %q, want the default tag", r.Subject)
	}
}

func TestHTMLEscapes(t *testing.T) {
	s := load(t, "")
	d := sampleData()
	d.Text = "<script>alert(1)</script>\nline two & more"
	d.Subject = `<b onclick="x">Leak</b>`
	d.StatusURL = "javascript:alert(1)"
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			r := render(t, s, k, d)
			for _, bad := range []string{"<script", "<b ", "javascript:"} {
				if strings.Contains(r.HTML, bad) {
					t.Errorf("HTML contains %q:\n%s", bad, r.HTML)
				}
			}
			if strings.Contains(r.Text, "dripping") {
				t.Fatal("sample text not replaced")
			}
		})
	}
	r := render(t, s, Update, d)
	if !strings.Contains(r.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;<br>\nline two &amp; more") {
		t.Errorf("update HTML does not show the escaped text with <br>:\n%s", r.HTML)
	}
}

// atRe finds every '@'; each must belong to an occurrence of our address.
var atRe = regexp.MustCompile(`@`)

func TestNoOtherAddress(t *testing.T) {
	s := load(t, "")
	d := sampleData()
	d.AuthorName = "bob.builder@contractor.example"
	d.RecipientName = `"Alice Example" <alice@corp.example>`
	d.OrgName = "Facilities <fm-admin@example.org>"
	d.Subject = "Leak, ask carol@corp.example"
	d.Text = "Call me or mail dave@corp.example.\nOr write to MAINTENANCE@example.org. (\"eve x\"@corp.example)"
	d.Location = "Room of @frank"
	d.Labels = []string{"x@y"}
	d.Reason = "mail from mallory@evil.example is not accepted"
	d.Notes = []string{"mail to grace@corp.example bounced"}
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			r := render(t, s, k, d)
			for part, out := range map[string]string{"subject": r.Subject, "text": r.Text, "html": r.HTML} {
				rest := regexp.MustCompile(`(?i)`+regexp.QuoteMeta(d.Address)).ReplaceAllString(out, "")
				if loc := atRe.FindStringIndex(rest); loc != nil {
					from := max(0, loc[0]-30)
					t.Errorf("%s shows an address other than ours: …%s…", part, rest[from:min(len(rest), loc[1]+30)])
				}
			}
			if k == Update && !strings.Contains(r.Text, "bob.builder updated") {
				t.Errorf("author not shown by name:\n%s", r.Text)
			}
			if k == Update && !strings.Contains(r.Text, "Hello Alice Example,") {
				t.Errorf("recipient not shown by name:\n%s", r.Text)
			}
		})
	}
}

func TestOverrideReplacesOneKind(t *testing.T) {
	def := load(t, "")
	dir := writeFiles(t, map[string]string{
		"ack.txt":         "Got it: {{.Tag}} {{template \"status\" .}}",
		"ack.subject.txt": "Received: {{.Subject}}",
		"README.md":       "not a template, ignored",
	})
	if err := os.Mkdir(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := load(t, dir)
	d := sampleData()
	got, want := render(t, s, Ack, d), render(t, def, Ack, d)
	if got.Text != "Got it: [REQ-1001]\nYou can see the request and its history here:\n"+d.StatusURL+"\n" {
		t.Errorf("override text = %q", got.Text)
	}
	if got.Subject != "[REQ-1001] Received: Radiator leaking in room 204" {
		t.Errorf("override subject = %q", got.Subject)
	}
	if got.HTML != want.HTML {
		t.Error("ack HTML changed, but was not overridden")
	}
	for _, k := range Kinds[1:] {
		if a, b := render(t, s, k, d), render(t, def, k, d); a != b {
			t.Errorf("%s changed, but was not overridden", k)
		}
	}
}

func TestLoadRefusesBrokenOverride(t *testing.T) {
	tests := []struct {
		name, file, text string
	}{
		{"parse error in text", "update.txt", "Hello {{.RecipientName"},
		{"parse error in HTML", "closed.html", "<p>{{if .Tag}}</p>"},
		{"unknown field", "ack.subject.txt", "{{.Tag}} {{.Title}}"},
		{"unknown partial", "reply.html", `{{template "nope" .}}`},
		{"wrong type at run time", "denied.txt", "{{range .Subject}}{{end}}"},
		{"HTML in an unsafe context", "welcome.html", "<script>var s = {{.Subject}}</script><a href='{{.Tag}}"},
		{"misspelt name", "acknowledge.txt", "Hello"},
		{"unknown kind", "closing.html", "<p>Hello</p>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{tt.file: tt.text})
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if path := filepath.Join(dir, tt.file); !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing override dir succeeded")
	}
}

func TestRenderUnknownKind(t *testing.T) {
	if _, err := load(t, "").Render("memo", sampleData()); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("err = %v, want ErrUnknownKind", err)
	}
}

func TestDataJSON(t *testing.T) {
	d := sampleData()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Data
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	r := render(t, load(t, ""), Update, back)
	if want := render(t, load(t, ""), Update, d); r != want {
		t.Error("Data changed in a JSON round trip")
	}
	if !strings.Contains(string(b), `"request_number":1001`) || !strings.Contains(string(b), `"status_url":`) {
		t.Errorf("unexpected JSON: %s", b)
	}
}

func TestRenderDoesNotChangeCaller(t *testing.T) {
	d := sampleData()
	d.Notes = []string{"a\r\nb"}
	d.Labels = []string{"x\ny"}
	render(t, load(t, ""), Ack, d)
	if d.Notes[0] != "a\r\nb" || d.Labels[0] != "x\ny" {
		t.Error("Render changed the caller's slices")
	}
}
