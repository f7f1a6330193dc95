package templates

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
)

// Kind names one kind of outgoing mail. Its value is the file-name stem of
// its templates: <kind>.subject.txt, <kind>.txt and <kind>.html.
type Kind string

// The kinds of mail tikkitd sends.
const (
	Ack      Kind = "ack"      // new request received (to the requester)
	Update   Kind = "update"   // visible change on a request (to followers)
	Reply    Kind = "reply"    // staff reply relayed to requester and followers
	Closed   Kind = "closed"   // request closed
	Reopened Kind = "reopened" // request reopened
	Refusal  Kind = "refusal"  // mail we cannot take (unknown sender, …)
	Welcome  Kind = "welcome"  // an occupant was created because someone added them
	Pending  Kind = "pending"  // the sender awaits approval
	Approved Kind = "approved" // the sender was approved
	Denied   Kind = "denied"   // the sender was not approved
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{Ack, Update, Reply, Closed, Reopened, Refusal, Welcome, Pending, Approved, Denied}

// ErrUnknownKind is returned by Render for a kind not in Kinds.
var ErrUnknownKind = errors.New("templates: unknown kind")

// Data is everything a template may show. It is stored in the outbox row,
// so it must stay JSON-serialisable.
type Data struct {
	OrgName       string   `json:"org_name"`       // display name of the daemon's address, e.g. "Facilities Maintenance"
	Address       string   `json:"address"`        // our address, to write to; the only address a mail may show
	RequestNumber int64    `json:"request_number"` // 0 for mails about a person (welcome, pending, approved, denied, refusal)
	Tag           string   `json:"tag"`            // "[REQ-1001]"
	Subject       string   `json:"subject"`        // request subject (a refusal never shows the refused mail's)
	State         string   `json:"state"`          // open | closed
	Location      string   `json:"location"`       // path or ""
	Priority      string   `json:"priority"`
	Labels        []string `json:"labels"`
	StatusURL     string   `json:"status_url"` // link to the request's status page for this recipient ("" when none)
	RecipientName string   `json:"recipient_name"`
	AuthorName    string   `json:"author_name"` // who made the change: a display NAME only, never another person's address
	Text          string   `json:"text"`        // the new visible text (update, reply)
	OldState      string   `json:"old_state"`
	NewState      string   `json:"new_state"`
	Reason        string   `json:"reason"`  // refusal reason, in plain words
	Notes         []string `json:"notes"`   // e.g. "survey-data.bin (240,000 bytes) was not stored: too large"
	Pending       bool     `json:"pending"` // the requester awaits approval
}

// Rendered is one mail's subject (one line, never empty), plain text body
// (LF line ends, ending in one newline) and HTML alternative.
type Rendered struct {
	Subject, Text, HTML string
}

// Set holds the parsed templates of every kind. It is safe for concurrent use.
type Set struct {
	kinds map[Kind]*kindSet
}

type kindSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

//go:embed mail/*.txt mail/*.html
var embedded embed.FS

// Partials shared by every kind; override files may use their {{define}}s.
// They cannot themselves be overridden.
const (
	textPartials = "_partials.txt"
	htmlPartials = "_partials.html"
)

// Load parses the embedded templates, then any overrides in dir ("" = none):
// files named <kind>.subject.txt, <kind>.txt or <kind>.html replace that one
// template. Any other *.txt or *.html file in dir is an error (a misspelt
// name would otherwise be ignored silently). Every template must parse and
// render sample data; errors name the file.
func Load(dir string) (*Set, error) {
	mailFS, err := fs.Sub(embedded, "mail")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	srcs := map[string]source{}
	for _, k := range Kinds {
		for _, name := range fileNames(k) {
			b, err := fs.ReadFile(mailFS, name)
			if err != nil {
				return nil, fmt.Errorf("templates: embedded %s: %w", name, err)
			}
			srcs[name] = source{path: "embedded " + name, text: string(b)}
		}
	}
	if dir != "" {
		if err := readOverrides(dir, srcs); err != nil {
			return nil, err
		}
	}
	txtBase, err := fs.ReadFile(mailFS, textPartials)
	if err != nil {
		return nil, fmt.Errorf("templates: embedded %s: %w", textPartials, err)
	}
	htmlBase, err := fs.ReadFile(mailFS, htmlPartials)
	if err != nil {
		return nil, fmt.Errorf("templates: embedded %s: %w", htmlPartials, err)
	}
	textRoot, err := texttemplate.New(textPartials).Funcs(textFuncs).Parse(string(txtBase))
	if err != nil {
		return nil, fmt.Errorf("templates: embedded %s: %w", textPartials, err)
	}
	htmlRoot, err := htmltemplate.New(htmlPartials).Funcs(htmlFuncs).Parse(string(htmlBase))
	if err != nil {
		return nil, fmt.Errorf("templates: embedded %s: %w", htmlPartials, err)
	}

	s := &Set{kinds: map[Kind]*kindSet{}}
	for _, k := range Kinds {
		ks := &kindSet{}
		names := fileNames(k)
		if ks.subject, err = parseText(textRoot, names[0], srcs[names[0]]); err != nil {
			return nil, err
		}
		if ks.text, err = parseText(textRoot, names[1], srcs[names[1]]); err != nil {
			return nil, err
		}
		if ks.html, err = parseHTML(htmlRoot, names[2], srcs[names[2]]); err != nil {
			return nil, err
		}
		s.kinds[k] = ks
		// Fail at start-up, not at 3 a.m.: each template must render both
		// a full and an empty Data.
		for _, d := range []Data{sampleData(), {}} {
			if err := ks.check(k, d, srcs); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Render renders kind k for d. d is first made safe: one-line fields are
// made one line, and every email address other than d.Address is hidden.
func (s *Set) Render(k Kind, d Data) (Rendered, error) {
	ks, ok := s.kinds[k]
	if !ok {
		return Rendered{}, fmt.Errorf("%w: %q", ErrUnknownKind, k)
	}
	d = safeData(d)
	var subj, text, html strings.Builder
	if err := ks.subject.Execute(&subj, d); err != nil {
		return Rendered{}, fmt.Errorf("templates: render %s: %w", ks.subject.Name(), err)
	}
	if err := ks.text.Execute(&text, d); err != nil {
		return Rendered{}, fmt.Errorf("templates: render %s: %w", ks.text.Name(), err)
	}
	if err := ks.html.Execute(&html, d); err != nil {
		return Rendered{}, fmt.Errorf("templates: render %s: %w", ks.html.Name(), err)
	}
	return Rendered{
		Subject: finishSubject(subj.String(), k, d),
		Text:    tidyText(text.String()),
		HTML:    strings.TrimSpace(html.String()) + "\n",
	}, nil
}

type source struct {
	path string // for error messages: a file path, or "embedded <name>"
	text string
}

func fileNames(k Kind) [3]string {
	return [3]string{string(k) + ".subject.txt", string(k) + ".txt", string(k) + ".html"}
}

func readOverrides(dir string, srcs map[string]source) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("templates: override dir: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if !strings.HasSuffix(name, ".txt") && !strings.HasSuffix(name, ".html") {
			continue
		}
		path := filepath.Join(dir, name)
		if _, known := srcs[name]; !known {
			return fmt.Errorf("templates: %s: not a template name (want <kind>.subject.txt, <kind>.txt or <kind>.html; kinds: %s)", path, kindList())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("templates: %w", err)
		}
		srcs[name] = source{path: path, text: string(b)}
	}
	return nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func parseText(root *texttemplate.Template, name string, src source) (*texttemplate.Template, error) {
	t, err := root.Clone()
	if err == nil {
		t, err = t.New(name).Parse(src.text)
	}
	if err != nil {
		return nil, fmt.Errorf("templates: %s: %w", src.path, err)
	}
	return t, nil
}

func parseHTML(root *htmltemplate.Template, name string, src source) (*htmltemplate.Template, error) {
	t, err := root.Clone()
	if err == nil {
		t, err = t.New(name).Parse(src.text)
	}
	if err != nil {
		return nil, fmt.Errorf("templates: %s: %w", src.path, err)
	}
	return t, nil
}

// check executes each of the kind's templates with d; an error names the file.
func (ks *kindSet) check(k Kind, d Data, srcs map[string]source) error {
	d = safeData(d)
	names := fileNames(k)
	var b strings.Builder
	if err := ks.subject.Execute(&b, d); err != nil {
		return fmt.Errorf("templates: %s: %w", srcs[names[0]].path, err)
	}
	if err := ks.text.Execute(&b, d); err != nil {
		return fmt.Errorf("templates: %s: %w", srcs[names[1]].path, err)
	}
	if err := ks.html.Execute(&b, d); err != nil {
		return fmt.Errorf("templates: %s: %w", srcs[names[2]].path, err)
	}
	return nil
}

// sampleData fills every field, so that a template naming a field that does
// not exist fails at Load.
func sampleData() Data {
	return Data{
		OrgName:       "Facilities Maintenance",
		Address:       "maintenance@example.org",
		RequestNumber: 1001,
		Tag:           "[REQ-1001]",
		Subject:       "Radiator leaking in room 204",
		State:         "open",
		Location:      "Building A / Floor 2 / Room 204",
		Priority:      "high",
		Labels:        []string{"heating", "water"},
		StatusURL:     "https://tikkit.example.org/r/1001/k3y",
		RecipientName: "Alice Example",
		AuthorName:    "Bob Builder",
		Text:          "The radiator is dripping.\nThere is a puddle under it.",
		OldState:      "open",
		NewState:      "closed",
		Reason:        "we only take requests from people registered with us",
		Notes:         []string{"survey-data.bin (240,000 bytes) was not stored: too large"},
		Pending:       true,
	}
}
