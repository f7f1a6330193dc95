package mailin

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// VisibleText returns the new contribution of a plain-text mail body (LF line
// ends): quoted history folded away. The full body stays the caller's ("show
// quoted text"); this only decides what to show first.
//
// Folded, from the first marker on: an attribution ("On … wrote:" in many
// languages, wrapped over up to three lines), an "-----Original Message-----"
// separator, an Outlook header block ("From:/Sent:/To:/Subject:" in many
// languages, with or without the rule of underscores above it). Then a
// trailing block of ">" lines, a "-- " signature (RFC 3676 §4.3) and mobile
// footers ("Sent from my iPhone").
//
// Kept: inline answers between ">" quotes (the whole text is returned when new
// text follows a quote), and forwarded messages ("Begin forwarded message:"),
// which are content. Lines lose trailing white space; leading and trailing
// blank lines go. When everything would be folded, the body is returned
// trimmed, so a body with text never yields "".
func VisibleText(body string) string {
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	whole := quoteJoin(lines)

	cut, forwarded, interleaved := quoteHistoryStart(lines)
	head := lines[:cut]
	if forwarded || interleaved {
		if s := quoteJoin(head); s != "" {
			return s
		}
		return whole
	}
	if !quoteInterleaved(head) {
		head = quoteFoldTrailingQuote(head)
		head = quoteFoldSignature(head)
		head = quoteFoldFooters(head)
		if s := quoteJoin(head); s != "" {
			return s
		}
	}
	// Only a footer or signature was new: show it rather than the history.
	if s := quoteJoin(lines[:cut]); s != "" {
		return s
	}
	return whole
}

// quoteHistoryStart scans the unquoted lines top-down for the first marker of
// quoted history and returns where it starts (len(lines) when none). It stops
// at a forward marker (forwarded = true). interleaved reports that an
// attribution was followed by ">" quotes with answers between them.
func quoteHistoryStart(lines []string) (cut int, forwarded, interleaved bool) {
	inter := quoteInterleavedFrom(lines)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" || quoteIsQuoted(l) {
			continue
		}
		if quoteMaySeparate(l) && quoteForwardRe.MatchString(l) {
			return len(lines), true, interleaved
		}
		if quoteMaySeparate(l) && quoteSeparatorRe.MatchString(l) {
			return i, false, interleaved
		}
		if quoteRuleRe.MatchString(l) {
			if j := quoteNextNonBlank(lines, i+1, 1); j >= 0 && quoteHeaderBlock(lines, j, true) {
				return i, false, interleaved
			}
		}
		if quoteHeaderBlock(lines, i, false) {
			return i, false, interleaved
		}
		end, strong := -1, false
		if quoteMayEndAttribution(lines, i) {
			end, strong = quoteAttribution(lines, i)
		}
		if end < 0 {
			continue
		}
		next := quoteNextNonBlank(lines, end+1, len(lines))
		switch {
		case next < 0:
			return i, false, interleaved
		case quoteIsQuoted(lines[next]):
			if inter[next] {
				// Answers between quotes: keep all of it, but keep looking
				// for unquoted history (an Outlook block) further down.
				interleaved = true
				i = end
				continue
			}
			return i, false, interleaved
		case quoteSeparatorRe.MatchString(lines[next]) || quoteHeaderBlock(lines, next, true) ||
			quoteRuleRe.MatchString(lines[next]):
			return i, false, interleaved
		case strong:
			// Unquoted history (HTML converted without ">", Yahoo, Outlook).
			return i, false, interleaved
		}
		i = end
	}
	return len(lines), false, interleaved
}

// quoteMaySeparate is a cheap test before quoteForwardRe and
// quoteSeparatorRe: both match a short phrase framed only by punctuation
// ("-----Original Message-----"), or "Forwarded by <someone>".
func quoteMaySeparate(l string) bool {
	if len(l) > 200 {
		return false
	}
	core := strings.Trim(l, " \t\u00a0\u3000-_=*>:：")
	const longestPhrase = 72 // bytes: "начало переадресованного сообщения"
	return len(core) <= longestPhrase || (len(core) >= 12 && strings.EqualFold(core[:12], "forwarded by"))
}

// quoteMayEndAttribution is a cheap test before quoteAttribution: an
// attribution (wrapped over at most three lines) ends with ":", "：" or
// dashes ("---- On … wrote ----"), invisible direction marks aside.
func quoteMayEndAttribution(lines []string, i int) bool {
	for e := i; e < len(lines) && e < i+3; e++ {
		l := strings.TrimRight(lines[e], " \t\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
		if strings.HasSuffix(l, ":") || strings.HasSuffix(l, "：") || strings.HasSuffix(l, "-") {
			return true
		}
		if l == "" {
			return false
		}
	}
	return false
}

// quoteIsQuoted reports a ">" quoted line (RFC 3676 §4.5 quote depth > 0).
func quoteIsQuoted(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">")
}

// quoteIsSigDelim reports the "-- " signature separator (RFC 3676 §4.3);
// trailing white space is already gone, and many clients drop it anyway.
func quoteIsSigDelim(l string) bool { return l == "--" || l == "-- " }

// quoteIsAnswer reports a line of new text: not blank, not quoted, no footer.
func quoteIsAnswer(l string) bool {
	return l != "" && !quoteIsQuoted(l) && !quoteIsFooter(l)
}

func quoteIsFooter(l string) bool {
	l = strings.TrimSpace(l)
	return utf8.RuneCountInString(l) <= 100 && quoteMayBeFooter(l) && quoteFooterRe.MatchString(l)
}

// quoteFooterWords holds a word of every quoteFooterRe branch, lower-cased:
// a line with none of them is no footer, and most lines of a mail have none.
// TestQuoteFooterWords keeps the two in step.
var quoteFooterWords = []string{
	"sent", "outlook", "gesendet", "envoy", "envia", "inviato", "verzonden", "verstuurd",
	"skickat", "sendt", "lähetetty", "wysła", "отправлено", "odesláno", "gönderildi",
	"から送信", "发自我的", "从我的", "來自我的", "에서 보냄",
}

// quoteMayBeFooter is a cheap test before quoteFooterRe.
func quoteMayBeFooter(l string) bool {
	l = strings.ToLower(l)
	for _, w := range quoteFooterWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// quoteInterleavedFrom[i] reports that from line i on (up to a signature
// delimiter) a ">" line is followed by new text: an inline answer.
func quoteInterleavedFrom(lines []string) []bool {
	n := len(lines)
	inter := make([]bool, n+1)
	answer := false // new text after the current position, before a signature
	for i := n - 1; i >= 0; i-- {
		l := lines[i]
		if quoteIsSigDelim(l) {
			answer, inter[i] = false, false
			continue
		}
		inter[i] = inter[i+1] || (quoteIsQuoted(l) && answer)
		answer = answer || quoteIsAnswer(l)
	}
	return inter
}

// quoteInterleaved reports a ">" line followed by new text anywhere in lines.
func quoteInterleaved(lines []string) bool {
	return len(lines) > 0 && quoteInterleavedFrom(lines)[0]
}

// quoteNextNonBlank returns the index of the first non-blank line at or after
// from, looking at most max lines ahead of from; -1 when none.
func quoteNextNonBlank(lines []string, from, max int) int {
	for j := from; j < len(lines) && j <= from+max; j++ {
		if lines[j] != "" {
			return j
		}
	}
	return -1
}

// quoteHeaderKindOf returns the role of a header-like line ("Von: …",
// "*From:*", French "De :"): the label before the first colon, ASCII or
// full-width, looked up in quoteHeaderKeys.
func quoteHeaderKindOf(l string) quoteHeaderKind {
	c := quoteColon(l, 0)
	if c < 0 || c > 64 {
		return qhNone
	}
	return quoteLabelKind(l[:c], true)
}

// quoteColon returns the index of the first ':' or '：' in l at or after from.
func quoteColon(l string, from int) int {
	for i := from; i < len(l); i++ {
		if l[i] == ':' {
			return i
		}
		if l[i] == 0xEF && strings.HasPrefix(l[i:], "：") {
			return i
		}
	}
	return -1
}

// quoteLabelKind looks up the label that ends pre (the text before a colon).
// whole: pre must be the label alone; otherwise its last one or two words.
func quoteLabelKind(pre string, whole bool) quoteHeaderKind {
	pre = strings.TrimRight(pre, " \t\u00a0\u202f")
	pre = strings.TrimRight(pre, "*")
	if whole {
		pre = strings.TrimLeft(strings.TrimLeft(pre, " \t"), "*")
		if strings.IndexFunc(pre, unicode.IsSpace) >= 0 && len(strings.Fields(pre)) > 2 {
			return qhNone
		}
		return quoteHeaderKeys[strings.ToLower(pre)]
	}
	f := strings.Fields(pre)
	for n := 1; n <= 2 && n <= len(f); n++ {
		label := strings.TrimLeft(strings.Join(f[len(f)-n:], " "), "*")
		if k := quoteHeaderKeys[strings.ToLower(label)]; k != qhNone {
			return k
		}
	}
	return qhNone
}

// quoteInlineKinds returns the roles of all labels on one line
// ("From: X Sent: Y To: Z Subject: W", Outlook for Mac and web).
func quoteInlineKinds(l string) map[quoteHeaderKind]bool {
	seen := map[quoteHeaderKind]bool{}
	start := 0
	for n := 0; n < 12; n++ {
		c := quoteColon(l, start)
		if c < 0 {
			break
		}
		if k := quoteLabelKind(l[start:c], start == 0); k != qhNone {
			seen[k] = true
		}
		start = c + 1
	}
	return seen
}

// quoteHeaderBlock reports whether lines[i] starts a block of header lines of
// quoted history. Without a rule above it the block must begin with a From
// label and carry three roles (or From plus a date), so that prose such as
// "From: the 3rd floor" followed by "To: …" is not taken for history. A
// wrapped value (a long To: list) may continue on one following line.
// Outlook for Mac and web print the block on one line.
func quoteHeaderBlock(lines []string, i int, ruled bool) bool {
	if i < 0 || i >= len(lines) {
		return false
	}
	first := quoteHeaderKindOf(lines[i])
	if first == qhNone || (!ruled && first != qhFrom) {
		return false
	}
	if first == qhFrom {
		if seen := quoteInlineKinds(lines[i]); len(seen) >= 3 && (seen[qhDate] || seen[qhSubject]) {
			return true
		}
	}
	seen := map[quoteHeaderKind]bool{}
	cont := 0
scan:
	for j := i; j < len(lines) && j < i+10; j++ {
		k := quoteHeaderKindOf(lines[j])
		switch {
		case k != qhNone:
			seen[k] = true
			cont = 0
		case lines[j] == "":
			break scan
		default:
			if cont++; cont > 1 {
				break scan
			}
		}
	}
	if ruled {
		return len(seen) >= 2
	}
	return len(seen) >= 3 || (len(seen) == 2 && seen[qhDate])
}

// quoteAttribution reports whether an attribution line ("On <date>, <name>
// <addr> wrote:") starts at lines[i], possibly wrapped over up to three lines
// (Gmail breaks after "<"). It returns the index of its last line (-1 when
// none) and whether it is strong: verb plus address or date, which marks
// history even when no ">" quote follows.
func quoteAttribution(lines []string, i int) (end int, strong bool) {
	wrapStart := quoteLeaderRe.MatchString(lines[i]) || strings.HasSuffix(lines[i], "<")
	var b strings.Builder
	for e := i; e < len(lines) && e < i+3; e++ {
		l := lines[e]
		if l == "" || quoteIsQuoted(l) || b.Len()+len(l) > 400 {
			break
		}
		if e > i {
			// A wrapped attribution begins like one, and its lines are not
			// finished sentences.
			prev := lines[e-1]
			if !wrapStart || strings.HasSuffix(prev, "!") || strings.HasSuffix(prev, "?") ||
				(strings.HasSuffix(prev, ".") && !quoteDateRe.MatchString(prev)) {
				break
			}
			if !strings.HasSuffix(prev, "<") && !strings.HasSuffix(prev, "(") {
				b.WriteByte(' ')
			}
		}
		b.WriteString(strings.TrimSpace(l))
		if ok, s := quoteIsAttribution(b.String()); ok {
			return e, s
		}
	}
	return -1, false
}

// quoteIsAttribution classifies one (unwrapped) candidate attribution line.
func quoteIsAttribution(t string) (ok, strong bool) {
	if len(t) > 1200 || !strings.ContainsAny(t, ":：-") {
		return false, false
	}
	t = strings.TrimSpace(quoteBidiRe.ReplaceAllString(t, ""))
	if strings.HasSuffix(t, "---") { // Zoho/Yahoo "---- On … wrote ----"
		t = strings.TrimRight(t, "- ")
		if !strings.HasSuffix(t, ":") {
			t += ":"
		}
	}
	if !strings.HasSuffix(t, ":") && !strings.HasSuffix(t, "：") {
		return false, false
	}
	if utf8.RuneCountInString(t) > 300 {
		return false, false
	}
	addr, date := quoteAddrRe.MatchString(t), quoteDateRe.MatchString(t)
	verbEnd := quoteVerbEndRe.MatchString(t)
	switch {
	case verbEnd && (addr || date):
		return true, true
	case quoteVerbAnyRe.MatchString(t) && addr && date:
		return true, true
	case quoteAddrEndRe.MatchString(t) && date:
		return true, false
	case quoteVerbAnyRe.MatchString(t) && (addr || date) && len(strings.Fields(t)) <= 20:
		return true, false // "Am 16.11.2026 schrieb Jane:", "Jane wrote on 2026/11/16 8:12:"
	case verbEnd && len(strings.Fields(t)) <= 10:
		return true, false
	case quoteQuotingRe.MatchString(t) && (addr || date):
		return true, false
	}
	return false, false
}

// quoteFoldTrailingQuote drops a block of ">" lines at the end, with the
// attribution above it when there is one.
func quoteFoldTrailingQuote(lines []string) []string {
	end := len(lines)
	for end > 0 && (lines[end-1] == "" || quoteIsQuoted(lines[end-1])) {
		end--
	}
	if end == len(lines) || !quoteHasQuote(lines[end:]) {
		return lines
	}
	for s := max(0, end-3); s < end; s++ {
		if e, _ := quoteAttribution(lines, s); e == end-1 {
			return lines[:s]
		}
	}
	return lines[:end]
}

func quoteHasQuote(lines []string) bool {
	for _, l := range lines {
		if quoteIsQuoted(l) {
			return true
		}
	}
	return false
}

// quoteFoldSignature drops everything from the first "-- " line on
// (RFC 3676 §4.3), unless nothing would remain above it.
func quoteFoldSignature(lines []string) []string {
	for i, l := range lines {
		if quoteIsSigDelim(l) {
			if quoteJoin(lines[:i]) == "" {
				return lines
			}
			return lines[:i]
		}
	}
	return lines
}

// quoteFoldFooters drops mobile/webmail footers at the end.
func quoteFoldFooters(lines []string) []string {
	for {
		end := len(lines)
		for end > 0 && lines[end-1] == "" {
			end--
		}
		if end == 0 || !quoteIsFooter(lines[end-1]) {
			return lines[:end]
		}
		lines = lines[:end-1]
	}
}

// quoteJoin joins lines with LF, without leading and trailing blank lines.
func quoteJoin(lines []string) string {
	s, e := 0, len(lines)
	for s < e && strings.TrimSpace(lines[s]) == "" {
		s++
	}
	for e > s && strings.TrimSpace(lines[e-1]) == "" {
		e--
	}
	return strings.Join(lines[s:e], "\n")
}
