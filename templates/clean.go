package templates

import (
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	texttemplate "text/template"
	"unicode"
	"unicode/utf8"
)

// maxSubject is the longest subject we send, in runes (RFC 5322 §2.1.1
// asks for lines of at most 78 characters; folding handles the rest).
const maxSubject = 200

// hidden replaces an email address that is not ours.
const hidden = "[address hidden]"

var textFuncs = texttemplate.FuncMap{"join": strings.Join}

var htmlFuncs = htmltemplate.FuncMap{"join": strings.Join, "lines": htmlLines}

// htmlLines escapes s and turns its line breaks into <br>.
func htmlLines(s string) htmltemplate.HTML {
	esc := htmltemplate.HTMLEscapeString(s)
	return htmltemplate.HTML(strings.ReplaceAll(esc, "\n", "<br>\n"))
}

// kindWords is each kind in words, for a subject that came out empty.
var kindWords = map[Kind]string{
	Ack:      "request received",
	Update:   "request updated",
	Reply:    "reply to your request",
	Closed:   "request closed",
	Reopened: "request reopened",
	Refusal:  "message not accepted",
	Welcome:  "you were added to a request",
	Pending:  "waiting for approval",
	Approved: "access approved",
	Denied:   "access not approved",
}

// finishSubject makes the rendered subject one trimmed line, never empty,
// with the request tag first when there is a request, and at most
// maxSubject runes.
func finishSubject(s string, k Kind, d Data) string {
	s = oneLine(s)
	rest := s
	if d.Tag != "" {
		rest = strings.TrimSpace(strings.Replace(s, d.Tag, "", 1))
	}
	if rest == "" {
		words := kindWords[k]
		if d.OrgName != "" {
			s = d.OrgName + ": " + words
		} else {
			s = strings.ToUpper(words[:1]) + words[1:]
		}
	}
	if d.RequestNumber != 0 && !strings.Contains(s, d.Tag) {
		s = d.Tag + " " + s
	}
	return cut(s, maxSubject)
}

// cut shortens s to at most n runes, ending in "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:n-1]), unicode.IsSpace) + "…"
}

// oneLine turns every run of white space and control characters (CR, LF,
// tab, U+2028, …) into one space and trims. A subject or name can never
// carry a header line (no "\r\nBcc:").
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// tidyText gives LF line ends, no trailing blanks, at most one empty line
// in a row, and one final newline.
func tidyText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

// multiLine normalises line ends to LF for a text that keeps its lines.
func multiLine(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimSpace(strings.ReplaceAll(s, "\r", "\n"))
}

// addressRe matches anything address-like around an '@', including a bare
// "@domain" (a quoted local part may not match the left side).
var addressRe = regexp.MustCompile(`[^\s<>()\[\]{}"',;:@]*@[^\s<>()\[\]{}"',;:@]+`)

// hideAddresses replaces every address in s except own with hidden.
func hideAddresses(s, own string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return addressRe.ReplaceAllStringFunc(s, func(m string) string {
		addr := strings.TrimRight(m, ".")
		if own != "" && strings.EqualFold(addr, own) {
			return m
		}
		return hidden + m[len(addr):]
	})
}

// nameOnly keeps a display name and drops any address in it
// ("Bob <bob@x.org>" → "Bob"); a bare address becomes its local part.
func nameOnly(s, own string) string {
	s = oneLine(s)
	if !strings.Contains(s, "@") {
		return s
	}
	first := addressRe.FindString(s)
	name := addressRe.ReplaceAllString(s, "")
	name = strings.TrimSpace(strings.Trim(strings.TrimSpace(name), `<>"' `))
	name = strings.TrimSpace(strings.ReplaceAll(name, "<>", ""))
	if name == "" {
		name, _, _ = strings.Cut(first, "@")
	}
	return hideAddresses(name, own)
}

// safeData returns a copy of d fit to show: one-line fields on one line,
// multi-line fields with LF line ends, a tag whenever there is a request,
// and no email address other than d.Address.
func safeData(d Data) Data {
	own := oneLine(d.Address)
	line := func(s string) string { return hideAddresses(oneLine(s), own) }
	text := func(s string) string { return hideAddresses(multiLine(s), own) }
	list := func(in []string, f func(string) string) []string {
		var out []string
		for _, s := range in {
			if s = f(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	d.Address = own
	d.OrgName = nameOnly(d.OrgName, own)
	d.RecipientName = nameOnly(d.RecipientName, own)
	d.AuthorName = nameOnly(d.AuthorName, own)
	d.Tag = oneLine(d.Tag)
	if d.Tag == "" && d.RequestNumber != 0 {
		d.Tag = fmt.Sprintf("[REQ-%d]", d.RequestNumber) // callers set Tag; this only keeps the rule
	}
	d.Subject = line(d.Subject)
	d.State = line(d.State)
	d.OldState = line(d.OldState)
	d.NewState = line(d.NewState)
	d.Location = line(d.Location)
	d.Priority = line(d.Priority)
	d.StatusURL = oneLine(d.StatusURL)
	d.Labels = list(d.Labels, line)
	d.Text = text(d.Text)
	d.Reason = text(d.Reason)
	d.Notes = list(d.Notes, text)
	return d
}
