package mailin

import (
	"regexp"
	"strconv"
	"strings"
)

// bounceFromReport reads an RFC 3464 DSN: the per-recipient fields of the
// message/delivery-status part, and the returned message's Message-ID and
// Subject. When the delivery-status part gives no recipient, the
// human-readable part is scanned like a legacy bounce.
func bounceFromReport(p *Parsed, id Identity) *Bounce {
	b := &Bounce{Recipients: parseDeliveryStatus(p.DeliveryStatus, id)}
	if len(b.Recipients) == 0 {
		b.Recipients = bounceTextRecipients(bounceNotice(p.Text), classifySubject(p), id)
	}
	bounceOriginal(b, p)
	return b
}

// bounceFromText reads a legacy (non-RFC 3464) bounce heuristically.
func bounceFromText(p *Parsed, id Identity) *Bounce {
	b := &Bounce{}
	if p.DeliveryStatus != "" {
		b.Recipients = parseDeliveryStatus(p.DeliveryStatus, id)
	}
	if len(b.Recipients) == 0 {
		b.Recipients = bounceTextRecipients(bounceNotice(p.Text), classifySubject(p), id)
	}
	bounceOriginal(b, p)
	return b
}

// parseDeliveryStatus parses a message/delivery-status body (RFC 3464 §2.1):
// header-like groups separated by blank lines, folded lines, field names and
// address types case-insensitive, "rfc822;addr" with or without space. A
// group is per-recipient when it has Final-Recipient or Original-Recipient.
func parseDeliveryStatus(s string, id Identity) []BounceRecipient {
	var out []BounceRecipient
	seen := map[string]bool{}
	for _, group := range dsnGroups(s) {
		email := dsnAddress(group["final-recipient"])
		if email == "" {
			email = dsnAddress(group["original-recipient"])
		}
		if email == "" || seen[email] || id.IsOwn(email) {
			continue
		}
		seen[email] = true
		r := BounceRecipient{
			Email:      email,
			Action:     strings.ToLower(autoReplyKeyword(group["action"])),
			Status:     dsnStatusRe.FindString(group["status"]),
			Diagnostic: dsnTypedValue(group["diagnostic-code"]),
		}
		if r.Status == "" {
			r.Status = dsnStatusRe.FindString(r.Diagnostic)
		}
		if r.Action == "" {
			r.Action = dsnActionFor(r.Status, false)
		}
		out = append(out, r)
	}
	return out
}

// dsnGroups splits s into blank-line separated groups of unfolded fields,
// keyed by lower-case name; the first occurrence of a name in a group wins.
func dsnGroups(s string) []map[string]string {
	var groups []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			groups = append(groups, cur)
		}
		cur, last = map[string]string{}, ""
	}
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				last = ""
				continue
			}
			k = strings.ToLower(strings.TrimSpace(k))
			if _, dup := cur[k]; dup {
				last = ""
				continue
			}
			cur[k], last = strings.TrimSpace(v), k
		}
	}
	flush()
	return groups
}

// dsnTypedValue drops the type of "type; value" (RFC 3464 §2.1.2), e.g. "smtp; 550 ...".
func dsnTypedValue(v string) string {
	if t, rest, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(t, " <@") {
		return strings.TrimSpace(rest)
	}
	return strings.TrimSpace(v)
}

// dsnAddress returns the lower-cased address of an address field
// ("rfc822; <a@b>", "RFC822;a@b", "utf-8; a@b"), decoding RFC 3461 xtext.
func dsnAddress(v string) string {
	v = strings.Trim(dsnTypedValue(v), "<> \t")
	if strings.Contains(v, "+") {
		v = dsnXtext(v)
	}
	if !strings.Contains(v, "@") {
		return ""
	}
	return strings.ToLower(v)
}

// dsnXtext decodes "+XX" hex escapes (RFC 3461 §4); invalid ones stay as given.
func dsnXtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '+' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// dsnActionFor derives an action from a status code (RFC 3463 class) when
// the report has none: 5 failed, 4 delayed, 2 delivered.
func dsnActionFor(status string, delayText bool) string {
	switch {
	case strings.HasPrefix(status, "5."):
		return "failed"
	case strings.HasPrefix(status, "4."):
		return "delayed"
	case strings.HasPrefix(status, "2."):
		return "delivered"
	case delayText:
		return "delayed"
	}
	return "failed"
}

var dsnStatusRe = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

// Legacy bounces: what MTAs put in the subject of a non-delivery report
// (Postfix, Exim, Gmail/Exchange DSN notices, Exchange NDR in English, German
// and French, Sendmail, qmail, Domino/other). Matched at the start only: a
// person's "Re: Undeliverable: ..." or "FW: ..." is not a bounce.
var legacyBounceSubjectRe = regexp.MustCompile(`(?i)^\s*(` +
	`undelivered mail returned to sender|mail delivery failed|` +
	`delivery status notification \((failure|delay)\)|` +
	`undeliverable\s*:|unzustellbar\s*:|non remis\s*:|non recapitabile\s*:|onbestelbaar\s*:|no se puede entregar\s*:|` +
	`returned mail\s*:|failure notice|mail system error - returned mail|` +
	`delivery failure\s*:|undeliverable mail|mail delivery (failure|system)|` +
	`warning: could not send message|delayed mail \(still being retried\)` +
	`)`)

var legacyBounceSenderRe = regexp.MustCompile(`(?i)^(mailer[-_]?daemon|postmaster)$`)

// legacyBounceReason returns why p is a non-RFC 3464 bounce, or "".
func legacyBounceReason(p *Parsed, nullSender bool) string {
	for _, a := range append([]Address{p.From}, p.HeaderFrom...) {
		local, _, _ := strings.Cut(a.Email, "@")
		if !legacyBounceSenderRe.MatchString(local) {
			continue
		}
		if strings.HasPrefix(strings.ToLower(local), "mailer") {
			return "From: " + a.Email // mailer-daemon is never a person
		}
		if nullSender {
			return "null sender from " + a.Email
		}
	}
	if m := legacyBounceSubjectRe.FindString(classifySubject(p)); m != "" {
		return `bounce subject "` + strings.TrimSpace(m) + `"`
	}
	return ""
}

// The returned message in a legacy bounce starts after one of these lines.
var bounceCopyRe = regexp.MustCompile(`(?im)^.*(below this line is a copy of the message|this is a copy of the message|original message follows|original message headers|^-+\s*original message\s*-+|^-+ the original message was received|^-+ original message -+|undelivered message attached).*$`)

// bounceNotice returns the notice part of a bounce text, without the copy
// of the returned message.
func bounceNotice(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if loc := bounceCopyRe.FindStringIndex(text); loc != nil {
		return text[:loc[0]]
	}
	return text
}

var (
	// "<addr>: reason" (Postfix) and "<addr>:" followed by reason lines (qmail).
	bounceAngleLineRe = regexp.MustCompile(`^<([^<>\s]+@[^<>\s]+)>(?:\s*\([^)]*\))?:\s*(.*)$`)
	// Lines that introduce a list of failed addresses (Exim, Gmail, Exchange, Sendmail).
	bounceListMarkerRe = regexp.MustCompile(`(?i)(following address(es|\(es\))? failed|following recipients? failed|` +
		`failed to these recipients|could not be delivered to the following recipients|` +
		`following addresses had permanent fatal errors|following addresses had transient non-fatal errors|` +
		`wasn't able to deliver your message to the following addresses)`)
	// A line that is only an address: "  bob@x", "<bob@x>", "bob@x (bob@x)", "bob@x:".
	bounceAddrOnlyRe = regexp.MustCompile(`^<?([^<>\s:]+@[^<>\s:]+?)>?(?:\s*\([^)]*\))?:?$`)
	// Sentences naming the recipient (Exchange Online, Gmail).
	bounceSentenceRe = regexp.MustCompile(`(?i)(?:your message to\s+<?([^<>\s]+@[^<>\s]+?)>?\s+(?:couldn't|could not|wasn't|was not|can't|cannot) be delivered|` +
		`(?:wasn't|was not|couldn't be|could not be) delivered to\s+<?([^<>\s]+@[^<>\s]+?)>?[\s.,;])`)
	bounceDelayRe = regexp.MustCompile(`(?i)(delay|will (continue|keep) trying|still being retried|not yet been delivered|warning: could not send)`)
)

// bounceTextRecipients extracts failed recipients from a bounce notice text.
func bounceTextRecipients(notice, subject string, id Identity) []BounceRecipient {
	var out []BounceRecipient
	idx := map[string]int{}
	add := func(email, diag string) int {
		email = strings.ToLower(strings.Trim(email, "<>.,;: "))
		local, _, _ := strings.Cut(email, "@")
		if !strings.Contains(email, "@") || id.IsOwn(email) || legacyBounceSenderRe.MatchString(local) {
			return -1
		}
		if i, ok := idx[email]; ok {
			if out[i].Diagnostic == "" {
				out[i].Diagnostic = diag
			}
			return i
		}
		idx[email] = len(out)
		out = append(out, BounceRecipient{Email: email, Diagnostic: diag})
		return len(out) - 1
	}
	cur, gap, inList := -1, false, false
	for _, raw := range strings.Split(notice, "\n") {
		trimmed := strings.TrimSpace(raw)
		if m := bounceAngleLineRe.FindStringSubmatch(trimmed); m != nil {
			cur, gap = add(m[1], m[2]), false
			continue
		}
		if bounceListMarkerRe.MatchString(trimmed) {
			inList, cur, gap = true, -1, false
			continue
		}
		switch {
		case trimmed == "":
			gap = cur >= 0
		case inList && (cur < 0 || gap) && classifyAddrRe.MatchString(trimmed):
			// A list entry: "bob@x", "Bob Smith (bob@x)", "<bob@x>".
			cur, gap = add(classifyAddrRe.FindString(trimmed), ""), false
		case inList && bounceAddrOnlyRe.MatchString(trimmed):
			cur, gap = add(bounceAddrOnlyRe.FindStringSubmatch(trimmed)[1], ""), false
		case cur >= 0 && !gap:
			d := &out[cur].Diagnostic
			*d = strings.TrimSpace(*d + " " + trimmed)
		case cur >= 0 && gap:
			cur, inList = -1, false // the list (or the block) ended
		}
	}
	for _, m := range bounceSentenceRe.FindAllStringSubmatch(notice, -1) {
		add(m[1]+m[2], "")
	}
	delay := bounceDelayRe.MatchString(subject)
	for i := range out {
		r := &out[i]
		r.Status = dsnStatusRe.FindString(r.Diagnostic)
		if r.Status == "" && len(out) == 1 {
			r.Status = dsnStatusRe.FindString(notice)
		}
		r.Action = dsnActionFor(r.Status, delay || (r.Status == "" && bounceDelayRe.MatchString(notice)))
	}
	return out
}

// bounceOriginal fills the returned message's Message-ID and Subject from the
// returned headers, a returned message/rfc822 part, or a header block in the
// bounce text.
func bounceOriginal(b *Bounce, p *Parsed) {
	for _, block := range []string{p.ReturnedHeaders, bounceHeaderBlock(p.Text)} {
		if block == "" {
			continue
		}
		f := dsnGroups(block)
		for _, g := range f {
			if v, ok := g["message-id"]; ok && b.OriginalMessageID == "" {
				b.OriginalMessageID = bounceMsgID(v)
				b.OriginalSubject = DecodeHeaderValue(g["subject"])
			}
		}
		if b.OriginalMessageID != "" {
			return
		}
	}
	if len(p.Forwarded) > 0 {
		b.OriginalMessageID = strings.Trim(p.Forwarded[0].MessageID, "<> ")
		b.OriginalSubject = p.Forwarded[0].Subject
	}
}

// bounceHeaderBlock returns the header block around the first "Message-ID:"
// line of text (the copy of the returned message), or "".
func bounceHeaderBlock(text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, l := range lines {
		if !bounceMsgIDLineRe.MatchString(l) {
			continue
		}
		start, end := i, i
		for start > 0 && strings.TrimSpace(lines[start-1]) != "" {
			start--
		}
		for end+1 < len(lines) && strings.TrimSpace(lines[end+1]) != "" {
			end++
		}
		block := lines[start : end+1]
		for j := range block { // indented copies (Exchange) lose their indent
			if bounceHeaderNameRe.MatchString(strings.TrimLeft(block[j], " \t")) {
				block[j] = strings.TrimLeft(block[j], " \t")
			}
		}
		return strings.Join(block, "\n")
	}
	return ""
}

var (
	bounceMsgIDLineRe  = regexp.MustCompile(`(?i)^\s*message-id\s*:\s*<?[^\s<>]+@[^\s<>]+>?`)
	bounceHeaderNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*\s*:`)
)

// bounceMsgID returns the first message id of v without angle brackets.
func bounceMsgID(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	f := strings.Fields(v)
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(f[0], "<>")
}
