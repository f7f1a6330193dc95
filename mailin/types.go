package mailin

import (
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// Address is one mailbox from a header: Email is lower-cased with an IDN
// domain in punycode; Name is the decoded display name ("" when absent).
type Address struct {
	Email string
	Name  string
}

// String formats the address for logs, quoting the name as RFC 5322 requires.
func (a Address) String() string {
	if a.Name == "" {
		return "<" + a.Email + ">"
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a.Name) + `" <` + a.Email + ">"
}

// Attachment is one stored (or refused) part of a message. Contents live in
// the blob store under SHA256; Stored is false when a size limit refused them.
type Attachment struct {
	Name        string // decoded file name; derived when the part has none
	ContentType string // lower-case media type, e.g. "image/png"
	Size        int64  // decoded bytes
	SHA256      string // hex of the decoded bytes
	ContentID   string // without angle brackets; "" when none
	Inline      bool   // referenced from the HTML body or disposition inline
	Stored      bool   // false when over the attachment limit (bytes discarded)
	FromTNEF    bool   // unpacked from an application/ms-tnef part
}

// Forwarded is a message carried inside another: a message/rfc822 part or
// (later) an inline forward block.
type Forwarded struct {
	From      Address
	Subject   string
	Date      time.Time
	MessageID string
	Text      string
}

// Parsed is everything the ingest path needs from one message. Parse fills
// it leniently: problems it worked around are listed in Problems, and
// Unparseable is set (with a reason) only when nothing useful could be read.
type Parsed struct {
	Header textproto.Header // raw header, for classification and DKIM

	MessageID   string // without angle brackets; synthetic when the mail had none
	SyntheticID bool   // MessageID was made from ContentHash
	ContentHash string // hex sha256 over normalised significant headers + decoded bodies (LF/CRLF-independent)

	Subject     string  // decoded, unfolded, trimmed
	From        Address // the effective author (From; Sender when From is missing or has no address; Reply-To when From is a no-reply relay)
	HeaderFrom  []Address
	Sender      *Address
	ReplyTo     []Address
	To          []Address
	Cc          []Address
	DeliveredTo []string  // Delivered-To / X-Original-To addresses, lower-cased
	Date        time.Time // zero when missing or unparseable
	InReplyTo   []string  // message ids without brackets
	References  []string  // message ids without brackets, in header order
	ThreadIndex string    // Outlook Thread-Index header, as given (base64)
	ThreadTopic string

	Text        string // full decoded plain-text body (LF line ends); from HTML, forwarded message or calendar when needed
	TextFrom    string // "plain", "html", "forwarded", "calendar", "" (empty body)
	HTML        string // sanitised HTML (bluemonday); cid: and bare Content-ID references rewritten to "att/<sha256>"
	Attachments []Attachment
	Forwarded   []Forwarded // message/rfc822 parts, in order

	// Report parts, raw (decoded) text, for bounce classification.
	DeliveryStatus  string // message/delivery-status (or message/global-delivery-status) part
	ReturnedHeaders string // text/rfc822-headers part, or the header of a message/rfc822 part inside multipart/report
	ReportType      string // report-type parameter of multipart/report, lower-case

	Problems    []string // lenient fixes applied ("bad base64 padding in part 2", ...)
	Unparseable string   // non-empty: why the message could not be read at all
}

// BlobSink stores attachment contents by their sha256. Put reads r to EOF,
// always returning the sha256 and size of everything read; it keeps the bytes
// only when limit < 0 or size <= limit (stored reports which).
type BlobSink interface {
	Put(r io.Reader, limit int64) (sha256hex string, size int64, stored bool, err error)
}

// Identity is the daemon's own mailbox: its address, aliases and the domain
// of the Message-IDs it generates.
type Identity struct {
	Address         string   // e.g. maintenance@example.com
	Aliases         []string // e.g. facilities@example.com
	MessageIDDomain string   // e.g. maint.example.com
}

// IsOwn reports whether addr is our address, an alias, or a plus-address of
// either, compared case-insensitively.
func (id Identity) IsOwn(addr string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return false
	}
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	base := local + "@" + domain
	for _, own := range append([]string{id.Address}, id.Aliases...) {
		if strings.EqualFold(base, strings.TrimSpace(own)) {
			return true
		}
	}
	return false
}

// IsOwnDomain reports whether addr is in the domain of one of our addresses.
func (id Identity) IsOwnDomain(addr string) bool {
	_, dom, ok := strings.Cut(strings.ToLower(addr), "@")
	if !ok {
		return false
	}
	for _, own := range append([]string{id.Address}, id.Aliases...) {
		if _, d, _ := strings.Cut(strings.ToLower(own), "@"); d == dom {
			return true
		}
	}
	return false
}

// IsPostmaster reports postmaster@ one of our domains (RFC 5321 §4.5.1
// requires accepting it).
func (id Identity) IsPostmaster(addr string) bool {
	local, _, _ := strings.Cut(addr, "@")
	return strings.EqualFold(local, "postmaster") && id.IsOwnDomain(addr)
}

// PlusTag returns the sub-address tag of one of our addresses ("urgent" for
// maintenance+urgent@…), or "".
func (id Identity) PlusTag(addr string) string {
	if !id.IsOwn(addr) {
		return ""
	}
	local, _, _ := strings.Cut(addr, "@")
	_, tag, _ := strings.Cut(local, "+")
	return tag
}

// IsOwnMessageID reports whether msgid was generated by this daemon.
func (id Identity) IsOwnMessageID(msgid string) bool {
	if id.MessageIDDomain == "" {
		return false
	}
	msgid = strings.Trim(msgid, "<> ")
	i := strings.LastIndexByte(msgid, '@')
	return i >= 0 && strings.EqualFold(msgid[i+1:], id.MessageIDDomain)
}

// Class is what Classify decides about a message before anything else.
type Class struct {
	Kind   ClassKind
	Reason string // short human reason, e.g. "Auto-Submitted: auto-replied"
	Bounce *Bounce
	Notice *SystemNotice
}

// ClassKind names the kinds of mail that never become a request from a customer.
type ClassKind string

const (
	ClassNormal    ClassKind = ""           // a person's mail
	ClassAutoReply ClassKind = "auto_reply" // RFC 3834 auto-replies, vacation, list/bulk mail
	ClassBounce    ClassKind = "bounce"     // DSN or legacy non-delivery report
	ClassOwn       ClassKind = "own"        // our own outgoing mail or mail from our own addresses
	ClassSystem    ClassKind = "system"     // server notices, e.g. Exchange "could not be retrieved over IMAP4"
)

// Bounce is the content of a non-delivery report.
type Bounce struct {
	Recipients        []BounceRecipient
	OriginalMessageID string // from the returned headers, without brackets
	OriginalSubject   string
}

// BounceRecipient is one per-recipient block of a DSN (RFC 3464 §2.3).
type BounceRecipient struct {
	Email      string // Final-Recipient (or Original-Recipient), lower-cased
	Action     string // failed | delayed | delivered | relayed | expanded
	Status     string // e.g. 5.1.1
	Diagnostic string
}

// Permanent reports whether the recipient failed for good (action failed, status 5.x.x).
func (r BounceRecipient) Permanent() bool {
	return r.Action == "failed" || strings.HasPrefix(r.Status, "5.")
}

// SystemNotice is a server-generated placeholder that stands for a message
// we did not get (Exchange IMAP conversion failures and the like).
type SystemNotice struct {
	What            string // e.g. "exchange_imap_retrieval_failed"
	IMAPUID         string // the UID the server names, when given
	OriginalSubject string
	OriginalFrom    string
}
