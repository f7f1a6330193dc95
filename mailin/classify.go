package mailin

import (
	"mime"
	"regexp"
	"strings"
)

// EnvelopeUnknown is passed to Classify as envelopeFrom when the SMTP
// envelope sender is not known (IMAP poll, `tikkitd ingest` of a file).
//
// The envelopeFrom convention of Classify:
//
//	"" or "<>"        the envelope sender is known to be null (MAIL FROM:<>), as go-smtp reports it
//	"a@b.example"     the envelope sender is known (angle brackets are stripped)
//	EnvelopeUnknown   not known: the topmost Return-Path header, written by the delivering MTA, is used instead
//
// A caller that does not know the envelope must pass EnvelopeUnknown, never "".
const EnvelopeUnknown = "unknown"

// Classify decides, before anything else, whether p is a person's mail
// (ClassNormal) or an auto-reply, a bounce, our own mail, or a system notice.
// envelopeFrom follows the EnvelopeUnknown convention. Classify never sends
// or stores anything and never panics; it reads p.Header and the decoded
// fields of p.
//
// Order, first match wins:
//
//  1. multipart/report: delivery-status → bounce; disposition-notification → auto-reply "read receipt".
//  2. our own mail: From/Sender/effective From is ours, the Message-ID is ours, X-Tikkit-Loop or X-Loop names us.
//  3. legacy bounce: mailer-daemon sender, postmaster with a null sender, or an MTA's bounce subject.
//  4. system notice: Exchange "could not be retrieved over IMAP4".
//  5. auto-reply: see classifyAutoReply.
//  6. no usable sender address at all → system notice "no_sender".
func Classify(p *Parsed, envelopeFrom string, id Identity) Class {
	if p == nil {
		p = &Parsed{}
	}
	nullSender := classifyNullSender(p, envelopeFrom)

	switch classifyReportType(p) {
	case "delivery-status":
		// RFC 3464 §2: a DSN is a multipart/report of report-type delivery-status.
		return Class{Kind: ClassBounce, Reason: "DSN multipart/report", Bounce: bounceFromReport(p, id)}
	case "disposition-notification":
		// RFC 8098 §3: an MDN (read receipt) is never a person's answer.
		return Class{Kind: ClassAutoReply, Reason: "read receipt"}
	}
	if c, ok := classifyOwn(p, id); ok {
		return c
	}
	if reason := legacyBounceReason(p, nullSender); reason != "" {
		return Class{Kind: ClassBounce, Reason: reason, Bounce: bounceFromText(p, id)}
	}
	if n := exchangeIMAPNotice(p); n != nil {
		return Class{Kind: ClassSystem, Reason: "Exchange IMAP4 retrieval failure notice", Notice: n}
	}
	auto := classifyAutoReply(p, nullSender, id)
	if auto.Kind == ClassAutoReply {
		return auto
	}
	if !classifyHasSender(p) {
		return Class{Kind: ClassSystem, Reason: "no sender address", Notice: &SystemNotice{
			What: "no_sender", OriginalSubject: classifySubject(p),
		}}
	}
	return auto // ClassNormal, with a Reason when the form-relay exception applied
}

// classifyReportType returns p.ReportType, or the report-type parameter of
// a multipart/report Content-Type header when Parse left it empty.
func classifyReportType(p *Parsed) string {
	if p.ReportType != "" {
		return strings.ToLower(p.ReportType)
	}
	v, ok := classifyHeader(p, "Content-Type")
	if !ok {
		return ""
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || mt != "multipart/report" {
		return ""
	}
	return strings.ToLower(params["report-type"])
}

// classifyNullSender reports whether the envelope sender is null (RFC 5321
// §4.5.5: used by DSNs, MDNs and, per RFC 3834 §3.3, auto-responders).
func classifyNullSender(p *Parsed, envelopeFrom string) bool {
	if envelopeFrom == EnvelopeUnknown {
		rp, ok := classifyHeader(p, "Return-Path")
		if !ok {
			return false
		}
		envelopeFrom = rp
	}
	s := strings.TrimSpace(envelopeFrom)
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">"))
	return s == ""
}

// classifyOwn finds mail that we sent or that claims our own address.
func classifyOwn(p *Parsed, id Identity) (Class, bool) {
	from := append([]Address{p.From}, p.HeaderFrom...)
	if p.Sender != nil {
		from = append(from, *p.Sender)
	}
	for _, a := range from {
		if a.Email != "" && id.IsOwn(a.Email) {
			return Class{Kind: ClassOwn, Reason: "mail from our own address"}, true
		}
	}
	msgid := p.MessageID
	if msgid == "" || p.SyntheticID {
		// A synthetic id is ours by construction; only a real header counts.
		msgid = ""
		if v, ok := classifyHeader(p, "Message-Id"); ok {
			msgid = v
		}
	}
	if msgid != "" && id.IsOwnMessageID(msgid) {
		return Class{Kind: ClassOwn, Reason: "our own outgoing mail"}, true
	}
	for _, k := range []string{"X-Tikkit-Loop", "X-Loop"} {
		for _, v := range p.Header.Values(k) {
			for _, a := range classifyAddrRe.FindAllString(v, -1) {
				if id.IsOwn(a) {
					return Class{Kind: ClassOwn, Reason: k + " names our address"}, true
				}
			}
		}
	}
	return Class{}, false
}

// classifyHasSender reports whether any header gives an address to answer.
func classifyHasSender(p *Parsed) bool {
	if p.From.Email != "" || (p.Sender != nil && p.Sender.Email != "") {
		return true
	}
	for _, a := range append(append([]Address(nil), p.HeaderFrom...), p.ReplyTo...) {
		if a.Email != "" {
			return true
		}
	}
	// Safety net: an address-like token in a raw header that Parse could not
	// read still is a sender; holding such mail as "no_sender" would lose it.
	for _, k := range []string{"From", "Sender", "Reply-To"} {
		if v, ok := classifyHeader(p, k); ok && classifyAddrRe.MatchString(v) {
			return true
		}
	}
	return false
}

// classifyFormRelay reports whether p was sent by a no-reply relay (a web
// form, a portal) on behalf of the person named in Reply-To. Such relays
// often add Precedence: bulk, yet a human filled in the form (case 23).
// It holds when Reply-To names an address that is not ours, not a no-reply
// address, and not among the From addresses, and either the From address is
// a no-reply address or Parse already chose Reply-To as the effective author.
func classifyFormRelay(p *Parsed, id Identity) bool {
	if len(p.HeaderFrom) == 0 || len(p.ReplyTo) == 0 {
		return false
	}
	rt := p.ReplyTo[0].Email
	if rt == "" || id.IsOwn(rt) || classifyNoReplyAddr(rt) {
		return false
	}
	for _, a := range p.HeaderFrom {
		if strings.EqualFold(a.Email, rt) || id.IsOwn(a.Email) {
			return false
		}
	}
	parseChoseReplyTo := strings.EqualFold(p.From.Email, rt)
	return classifyNoReplyAddr(p.HeaderFrom[0].Email) || parseChoseReplyTo
}

var classifyNoReplyRe = regexp.MustCompile(`^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|noreply[-_.+].*|.*[-_.]no[-_.]?reply)$`)

// classifyNoReplyAddr reports whether addr's local part says "do not reply".
func classifyNoReplyAddr(addr string) bool {
	local, _, ok := strings.Cut(strings.ToLower(addr), "@")
	return ok && classifyNoReplyRe.MatchString(local)
}

// classifyHeader returns the first value of header k, unfolded and trimmed.
func classifyHeader(p *Parsed, k string) (string, bool) {
	if !p.Header.Has(k) {
		return "", false
	}
	return strings.Join(strings.Fields(p.Header.Get(k)), " "), true
}

// classifySubject returns the decoded subject, from p or the raw header.
func classifySubject(p *Parsed) string {
	if p.Subject != "" {
		return strings.TrimSpace(p.Subject)
	}
	v, _ := classifyHeader(p, "Subject")
	return DecodeHeaderValue(v)
}

var classifyAddrRe = regexp.MustCompile(`[A-Za-z0-9!#$%&'*+/=?^_{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?`)

// Exchange replaces a message it cannot convert for IMAP4 by a notice from
// "Microsoft Exchange Server" (no address) with the subject
// "Message could not be retrieved over IMAP4: <UID>" (older servers:
// "Retrieval using the IMAP4 protocol failed for the following message"),
// and names the lost message's subject and sender in the body. The term
// "IMAP4" is not translated in localised servers, so the rule keys on it plus
// the missing sender address rather than on one language's wording.
var (
	exchangeUIDRe     = regexp.MustCompile(`(?i)IMAP4?\b[^0-9\n]*?(\d+)\s*$`)
	exchangeSubjectRe = regexp.MustCompile(`(?im)^\s*(?:subject|betreff|objet|asunto|oggetto|onderwerp|assunto|ämne|emne)\s*:\s*(.*?)\s*$`)
	exchangeFromRe    = regexp.MustCompile(`(?im)^\s*(?:from|sender|von|absender|de|da|van|remetente|från|fra)\s*:\s*(.*?)\s*$`)
)

// exchangeIMAPNotice returns the notice when p is Exchange's IMAP4
// retrieval-failure placeholder, else nil.
func exchangeIMAPNotice(p *Parsed) *SystemNotice {
	subj := classifySubject(p)
	head := p.Text
	if len(head) > 600 {
		head = head[:600]
	}
	fromName := ""
	if len(p.HeaderFrom) > 0 {
		fromName = p.HeaderFrom[0].Name + " " + p.HeaderFrom[0].Email
	} else if v, ok := classifyHeader(p, "From"); ok {
		fromName = v
	}
	exchangeSender := !classifyHasSender(p) || strings.Contains(strings.ToLower(fromName), "exchange")
	inSubject := strings.Contains(strings.ToUpper(subj), "IMAP4")
	if !exchangeSender || !(inSubject || (!classifyHasSender(p) && strings.Contains(strings.ToUpper(head), "IMAP4"))) {
		return nil
	}
	n := &SystemNotice{What: "exchange_imap_retrieval_failed"}
	if m := exchangeUIDRe.FindStringSubmatch(subj); m != nil {
		n.IMAPUID = m[1]
	}
	if m := exchangeSubjectRe.FindStringSubmatch(p.Text); m != nil {
		n.OriginalSubject = strings.Trim(m[1], `"“”`)
	}
	if m := exchangeFromRe.FindStringSubmatch(p.Text); m != nil {
		if a := classifyAddrRe.FindString(m[1]); a != "" {
			n.OriginalFrom = strings.ToLower(a)
		} else {
			n.OriginalFrom = strings.Trim(m[1], `"“” `)
		}
	}
	return n
}
