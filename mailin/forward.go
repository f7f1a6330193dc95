package mailin

import (
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Staff forwarding (DESIGN §3 step 5): the requester of a forwarded mail is
// the sender of the message it carries. The vocabulary (forward markers,
// "-----Original Message-----" separators, header labels in many languages)
// is the quote stripper's, in quote_patterns.go; this file only reads the
// block those markers introduce.

// FindForward returns the message a forward carries: the first
// message/rfc822 attachment (p.Forwarded[0]) or else an inline forward block
// in p.Text. ok is false when the mail is not a forward.
//
// An attached message counts when its From has an address; the first such
// part wins (its Text trimmed, like an inline block's). An inline block introduced only by an Outlook-style separator or
// header block (which replies use too) does not count when the subject's
// first prefix is a reply prefix ("RE:", "AW:", "SV:", "回复:" ...): that is
// reply history, not a forward. A forward prefix is not required.
func FindForward(p *Parsed) (fw Forwarded, ok bool) {
	if p == nil {
		return Forwarded{}, false
	}
	for _, f := range p.Forwarded {
		if f.From.Email != "" {
			f.Text = strings.TrimSpace(f.Text)
			return f, true
		}
	}
	if p.TextFrom == "forwarded" {
		return Forwarded{}, false // Text is the attached message's, which had no address
	}
	fw, explicit, ok := parseInlineForward(p.Text)
	if !ok || (!explicit && subjectIsReply(p.Subject)) {
		return Forwarded{}, false
	}
	return fw, true
}

// ParseInlineForward finds the first inline forward block in a plain-text
// body and parses its header block (From with name and address, Subject,
// Date, Message-ID if present) and the forwarded text below it.
//
// A block starts at an unquoted forward marker ("---------- Forwarded
// message ---------", "Begin forwarded message:", "-------- Weitergeleitete
// Nachricht --------", mutt's "----- Forwarded message from X -----" ...),
// an "-----Original Message-----" separator, an Outlook rule of underscores,
// or a bare Outlook header block ("From:/Sent:/To:/Subject:" in any language
// quoteHeaderKeys knows). The header lines may be separated by blank lines,
// quoted with "> " (Apple Mail), marked "*From:*" (HTML converted to text),
// and the From value may be wrapped onto the next line. Only the From value is
// parsed as an address (ParseAddressList, after rewriting Outlook's
// "[mailto:a]" and "a<mailto:a>"); nothing is decoded. Date is left zero
// unless ParseDate can read it safely (English words and numbers only).
//
// ok is false when the body has no such block, when reply history (an "On …
// wrote:" attribution with a quote) comes before it, or when the block's From
// has no address. Forward markers inside ">" quotes (a reply that quotes a
// forward) are ignored.
func ParseInlineForward(text string) (fw Forwarded, ok bool) {
	fw, _, ok = parseInlineForward(text)
	return fw, ok
}

// fwdMuttRe matches mutt's forward delimiters, which name the author.
var (
	fwdMuttRe    = regexp.MustCompile(`(?i)^-{3,}\s*forwarded message from\s.{1,200}?\s*-{3,}$`)
	fwdMuttEndRe = regexp.MustCompile(`(?i)^-{3,}\s*end (?:of )?forwarded message\s*-{3,}$`)
)

// fwdMaxHeaderLines bounds the header block of a forward.
const fwdMaxHeaderLines = 24

// parseInlineForward is ParseInlineForward; explicit reports that the block
// had a forward marker (as opposed to an Outlook separator, rule or bare
// header block, which replies use too).
func parseInlineForward(text string) (fw Forwarded, explicit, ok bool) {
	if text == "" {
		return Forwarded{}, false, false
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" || quoteIsQuoted(l) {
			continue
		}
		sep := quoteMaySeparate(l)
		switch {
		case sep && quoteForwardRe.MatchString(l), len(l) < 300 && fwdMuttRe.MatchString(l):
			fw, found, ok := fwdBlock(lines, i+1)
			if found {
				return fw, true, ok
			}
			continue
		case sep && quoteSeparatorRe.MatchString(l), quoteRuleRe.MatchString(l):
			fw, found, ok := fwdBlock(lines, i+1)
			if found {
				return fw, false, ok
			}
			continue
		case quoteHeaderBlock(lines, i, false):
			if fw, found, ok := fwdBlock(lines, i); found && ok {
				return fw, false, true
			}
			// Prose that looks like a header block ("From: the lobby"):
			// keep looking.
			continue
		}
		if !quoteMayEndAttribution(lines, i) {
			continue
		}
		end, strong := quoteAttribution(lines, i)
		if end < 0 {
			continue
		}
		next := quoteNextNonBlank(lines, end+1, len(lines))
		if next < 0 || strong || quoteIsQuoted(lines[next]) {
			return Forwarded{}, false, false // reply history comes first
		}
		i = end
	}
	return Forwarded{}, false, false
}

// fwdBlock reads the header block of a forward starting at or after lines[i]
// (blank lines skipped) and the text below it. found is false when no header
// line follows within a few lines; ok is false when the block has no From
// with an address.
func fwdBlock(lines []string, i int) (fw Forwarded, found, ok bool) {
	j := quoteNextNonBlank(lines, i, 3)
	if j < 0 {
		return Forwarded{}, false, false
	}
	quoted := quoteIsQuoted(lines[j])
	line := func(k int) string {
		if quoted {
			return fwdUnquote(lines[k])
		}
		return lines[k]
	}
	if fwdLabel(line(j)) == "" {
		return Forwarded{}, false, false
	}

	values := map[string]string{}
	last := ""      // label of the previous header line
	lastLine := j   // last header line (or continuation) of the block
	cont := 0       // continuation lines of the current value
	var from string // From value, joined when wrapped
	for k := j; k < len(lines) && k < j+fwdMaxHeaderLines; k++ {
		if quoted && !quoteIsQuoted(lines[k]) && lines[k] != "" {
			break
		}
		l := strings.TrimSpace(line(k))
		if l == "" {
			// Apple Mail and HTML conversions put blank lines between header
			// lines: the block goes on only with a label not seen yet.
			n := quoteNextNonBlank(lines, k+1, 2)
			if n < 0 || (quoted && !quoteIsQuoted(lines[n])) {
				break
			}
			if lb := fwdLabel(line(n)); lb == "" || values[lb] != "" || (lb == "from" && from != "") {
				break
			}
			continue
		}
		if lb := fwdLabel(l); lb != "" {
			v := fwdValue(l)
			if lb == "from" {
				if from != "" {
					break // a second From: the body (or a nested block) starts
				}
				from = v
			} else if values[lb] == "" {
				values[lb] = v
			}
			last, cont, lastLine = lb, 0, k
			continue
		}
		// A wrapped value: From without an address yet, or a value that
		// stops mid-list (a trailing "<", ",", ";").
		if cont < 2 && last != "" && fwdContinues(last, from, values[last], l) {
			if last == "from" {
				from = fwdJoin(from, l)
			} else {
				values[last] = fwdJoin(values[last], l)
			}
			cont++
			lastLine = k
			continue
		}
		break
	}
	list := ParseAddressList(fwdCleanFrom(from))
	if len(list) == 0 || list[0].Email == "" {
		return Forwarded{}, true, false
	}
	fw.From = list[0]
	fw.Subject = values["subject"]
	fw.MessageID = strings.Trim(values["message-id"], "<> \t")
	fw.Date = fwdDate(values["date"])
	fw.Text = fwdBody(lines, lastLine+1, quoted)
	return fw, true, true
}

// fwdLabel returns the role of a header line of a forward block as a short
// key ("from", "date", "subject", "to", "cc", "message-id", "other"), or "".
func fwdLabel(l string) string {
	l = strings.TrimSpace(l)
	if c := quoteColon(l, 0); c > 0 && strings.EqualFold(strings.Trim(l[:c], "* \t"), "message-id") {
		return "message-id"
	}
	switch quoteHeaderKindOf(l) {
	case qhFrom:
		return "from"
	case qhDate:
		return "date"
	case qhSubject:
		return "subject"
	case qhTo:
		return "to"
	case qhCc:
		return "cc"
	case qhOther:
		return "other"
	}
	return ""
}

// fwdValue returns what follows the label's colon, without the "*" of bold
// labels in HTML converted to text ("*From:* Jane").
func fwdValue(l string) string {
	l = strings.TrimSpace(l)
	c := quoteColon(l, 0)
	if c < 0 {
		return ""
	}
	v := l[c+1:]
	if l[c] != ':' {
		v = l[c+len("："):]
	}
	return strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(v), "*"))
}

// fwdContinues reports whether l continues the value of the header labelled
// last (a wrapped From, a To list broken after a comma).
func fwdContinues(last, from, value, l string) bool {
	if last == "from" {
		return !strings.Contains(from, "@") || strings.HasSuffix(from, "<") || strings.HasSuffix(from, "[") ||
			strings.HasPrefix(l, "<") || strings.HasPrefix(l, "[")
	}
	if last == "subject" || last == "date" || last == "message-id" {
		return false
	}
	return strings.HasSuffix(value, ",") || strings.HasSuffix(value, ";") || strings.HasSuffix(value, "<")
}

// fwdJoin joins a wrapped value, without a space after "<" or "[".
func fwdJoin(v, l string) string {
	if strings.HasSuffix(v, "<") || strings.HasSuffix(v, "[") || v == "" {
		return v + l
	}
	return v + " " + l
}

// fwdUnquote removes one level of "> " quoting.
func fwdUnquote(l string) string {
	t := strings.TrimLeft(l, " \t")
	if !strings.HasPrefix(t, ">") {
		return l
	}
	t = t[1:]
	if strings.HasPrefix(t, " ") {
		t = t[1:]
	}
	return t
}

// fwdBody returns the forwarded text from lines[from] on: to the end of the
// body, to mutt's end marker, or, when the block was quoted, to the first
// unquoted line.
func fwdBody(lines []string, from int, quoted bool) string {
	var out []string
	for k := from; k < len(lines); k++ {
		l := lines[k]
		if quoted {
			if l != "" && !quoteIsQuoted(l) {
				break
			}
			l = fwdUnquote(l)
		} else if fwdMuttEndRe.MatchString(l) {
			break
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

var (
	// fwdBracketMailtoRe: Outlook's "Name [mailto:a@b]" (and Notes' "[a@b]").
	fwdBracketMailtoRe = regexp.MustCompile(`(?i)\[\s*(?:mailto:)?([^\[\]\s]+@[^\[\]\s]+)\s*\]`)
	// fwdAngleMailtoRe: "<mailto:a@b>", as HTML converted to text writes links.
	fwdAngleMailtoRe = regexp.MustCompile(`(?i)<\s*mailto:([^<>\s]+)\s*>`)
	// fwdSpacedAngleRe: "< a@b >" from HTML converted to text.
	fwdSpacedAngleRe = regexp.MustCompile(`<\s+([^<>\s]+@[^<>\s]+)\s*>|<([^<>\s]+@[^<>\s]+)\s+>`)
)

// fwdCleanFrom rewrites the link forms mail clients print in a From value
// into a plain "Name <addr>" for ParseAddressList.
func fwdCleanFrom(v string) string {
	v = fwdBracketMailtoRe.ReplaceAllString(v, "<$1>")
	// "a@b<mailto:a@b>": the link repeats the address; drop it. Otherwise
	// the link is the address.
	for _, m := range fwdAngleMailtoRe.FindAllStringSubmatchIndex(v, 4) {
		addr := v[m[2]:m[3]]
		before := strings.TrimRight(v[:m[0]], " ")
		if strings.HasSuffix(strings.ToLower(before), strings.ToLower(addr)) {
			v = v[:m[0]] + strings.Repeat(" ", m[1]-m[0]) + v[m[1]:]
		} else {
			v = v[:m[0]] + "<" + addr + ">" + strings.Repeat(" ", m[1]-m[0]-len(addr)-2) + v[m[1]:]
		}
	}
	v = fwdSpacedAngleRe.ReplaceAllString(v, "<$1$2>")
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(v), ";,"))
}

// fwdDateWords are the words ParseDate reads correctly. Dates printed in
// other languages ("mardi 24 novembre", where "mar" would read as March) are
// left zero rather than guessed.
var fwdDateWords = map[string]bool{"at": true, "am": true, "pm": true, "a.m": true, "p.m": true, "t": true, "z": true}

func init() {
	for _, w := range strings.Fields("monday tuesday wednesday thursday friday saturday sunday " +
		"mon tue tues wed thu thur thurs fri sat sun january february march april may june july august " +
		"september october november december jan feb mar apr jun jul aug sep sept oct nov dec") {
		fwdDateWords[w] = true
	}
}

// fwdDate parses the Date value of a forward block when it is in English or
// numeric; zero otherwise.
func fwdDate(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	ok := true
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if fwdDateWords[strings.ToLower(w)] {
			continue
		}
		// Zone names ("CET", "GMT", "PST"): short upper-case ASCII.
		if len(w) >= 2 && len(w) <= 5 && strings.ToUpper(w) == w && isASCII(w) {
			continue
		}
		ok = false
		break
	}
	if !ok {
		return time.Time{}
	}
	v = strings.Join(strings.Fields(v), " ")
	v = strings.Replace(v, " at ", " ", 1)
	return ParseDate(v)
}

// fwdReplyPrefixes are the subject prefixes (see subjectPrefixes) that mark a
// reply rather than a forward. "VS" is left out: Finnish reply, Danish forward.
var fwdReplyPrefixes = map[string]bool{}

func init() {
	for _, w := range strings.Split("re|aw|antw|antwort|sv|r|réf|ref|rép|res|odp|ynt|vá|atb|ats|odg|"+
		"回复|答复|回覆|答覆|返信|회신|ответ|отв|απ|σχετ|תגובה|השב|رد", "|") {
		fwdReplyPrefixes[w] = true
	}
}

// subjectIsReply reports whether the first prefix of a subject ("RE:",
// "AW[2]:", "回复：") marks a reply. "FW: RE: x" is a forward.
func subjectIsReply(s string) bool {
	s = strings.TrimSpace(subjectCautionRe.ReplaceAllString(strings.TrimSpace(s), ""))
	m := subjectPrefixRe.FindString(s)
	if m == "" {
		return false
	}
	w := strings.TrimRightFunc(m, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsDigit(r) || strings.ContainsRune(":：[]()^", r)
	})
	return fwdReplyPrefixes[strings.ToLower(w)]
}
