package mailout

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"golang.org/x/net/idna"
)

// Address is a mailbox: an address and an optional display name.
type Address struct{ Email, Name string }

// Mail is one outbound message to one recipient. There is one Mail per
// recipient: no address of anyone else ever appears in it.
type Mail struct {
	Kind          string   // template kind; "ack" is auto-replied, everything else auto-generated
	MessageID     string   // stable, without brackets, e.g. "req-1001.7f3a9c@maint.example.com"
	To            Address  // the one recipient
	RequestNumber int64    // 0: not about a request (welcome, pending, approved, denied, refusal)
	PersonID      int64    // recipient's person id; carried for the caller, Compose does not read it
	InReplyTo     string   // without brackets
	References    []string // without brackets: the request's root message first, then the last ones

	Subject, Text, HTML string // rendered already; HTML "" sends text/plain only

	ListUnsubscribe string // https URL or mailto that unfollows; "" = none
}

// Options are the composer's per-daemon settings.
type Options struct {
	From Address // our address and display name
	// ReplyTo returns the Reply-To address (address+token@domain) for a mail
	// about a request; nil, or an empty result, means From.
	ReplyTo  func(number int64, recipient string) string
	SMTPUTF8 bool             // the relay offered SMTPUTF8: IDN domains may stay Unicode
	Date     func() time.Time // nil: time.Now
}

// ReplyTokener is the part of the rules token signer the composer needs.
type ReplyTokener interface {
	ReplyToken(number int64, email string) string
}

// TokenReplyTo returns an Options.ReplyTo that puts the signed token of
// t into base as a sub-address: maintenance@d → maintenance+<token>@d.
func TokenReplyTo(base string, t ReplyTokener) func(number int64, recipient string) string {
	return func(number int64, recipient string) string {
		at := strings.LastIndexByte(base, '@')
		tok := t.ReplyToken(number, recipient)
		if at <= 0 || tok == "" {
			return base
		}
		return base[:at] + "+" + tok + base[at:]
	}
}

// ErrNeedsSMTPUTF8 means an address cannot be written without SMTPUTF8
// (a non-ASCII local part) and the relay did not offer it. Permanent.
var ErrNeedsSMTPUTF8 = errors.New("mailout: address needs SMTPUTF8")

const (
	maxReferences = 20  // root + the last 19
	maxMsgIDLen   = 250 // keeps every folded References line far below 998 octets
	maxNameLen    = 200
	maxSubjectLen = 900
)

// Compose builds the RFC 5322 message (CRLF line ends) for m.
func Compose(m Mail, opt Options) ([]byte, error) {
	fs, err := headerFields(m, opt)
	if err != nil {
		return nil, fmt.Errorf("mailout: compose: %w", err)
	}
	parts := bodyParts(m.Text, m.HTML)
	if len(parts) == 1 {
		fs = append(fs, field{"Content-Type", parts[0].h.Get("Content-Type")},
			field{"Content-Transfer-Encoding", "quoted-printable"})
	} else {
		fs = append(fs, field{"Content-Type", mime.FormatMediaType("multipart/alternative",
			map[string]string{"boundary": boundary(m.MessageID)})})
	}
	var h message.Header
	// textproto writes fields in reverse order of Add.
	for i := len(fs) - 1; i >= 0; i-- {
		f, err := foldField(fs[i].k, fs[i].v)
		if err != nil {
			return nil, fmt.Errorf("mailout: compose: %w", err)
		}
		h.AddRaw(f)
	}
	var buf bytes.Buffer
	if err := writeBody(&buf, h, parts); err != nil {
		return nil, fmt.Errorf("mailout: compose: %w", err)
	}
	return buf.Bytes(), nil
}

type field struct{ k, v string }

// headerFields checks m and returns its header fields but the body's, in
// the order they are written, every value cleaned of CR and LF.
func headerFields(m Mail, opt Options) ([]field, error) {
	from, err := formatMailbox(opt.From, opt.SMTPUTF8)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	to, err := formatMailbox(m.To, opt.SMTPUTF8)
	if err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	replyTo := from
	if opt.ReplyTo != nil && m.RequestNumber != 0 {
		if a := opt.ReplyTo(m.RequestNumber, strings.TrimSpace(m.To.Email)); a != "" {
			replyTo, err = formatMailbox(Address{Email: a, Name: opt.From.Name}, opt.SMTPUTF8)
			if err != nil {
				return nil, fmt.Errorf("reply-to: %w", err)
			}
		}
	}
	if !validMsgID(m.MessageID) {
		return nil, fmt.Errorf("invalid Message-ID %q", m.MessageID)
	}
	subject := cleanText(m.Subject, maxSubjectLen)
	if subject == "" {
		return nil, errors.New("empty subject")
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("empty body")
	}
	unsub, err := listUnsubscribe(m.ListUnsubscribe)
	if err != nil {
		return nil, err
	}
	date := time.Now
	if opt.Date != nil {
		date = opt.Date
	}

	fs := []field{
		{"Date", date().Format(time.RFC1123Z)},
		{"From", from.String()},
		{"To", to.String()},
		{"Reply-To", replyTo.String()},
		{"Subject", encodeText(subject)},
		{"Message-ID", "<" + m.MessageID + ">"},
	}
	inReplyTo := cleanMsgID(m.InReplyTo)
	if inReplyTo != "" {
		fs = append(fs, field{"In-Reply-To", "<" + inReplyTo + ">"})
	}
	if refs := references(m.References, inReplyTo, m.MessageID); len(refs) > 0 {
		fs = append(fs, field{"References", "<" + strings.Join(refs, "> <") + ">"})
	}
	// RFC 3834 §5: auto-replied for responses to a message, auto-generated
	// for notices; a staff member's reply relayed to occupants is a person's
	// answer and carries neither.
	if as := autoSubmitted(m.Kind); as != "" {
		fs = append(fs, field{"Auto-Submitted", as})
	}
	// Exchange/Outlook: no out-of-office or read receipts for this mail.
	fs = append(fs, field{"X-Auto-Response-Suppress", "All"})
	if unsub != "" {
		fs = append(fs, field{"List-Unsubscribe", "<" + unsub + ">"})
		// RFC 8058 §3.1: one-click only for an HTTPS URI.
		if strings.HasPrefix(strings.ToLower(unsub), "https:") {
			fs = append(fs, field{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
		}
	}
	// Names our own address so our mail coming back is recognised (mailin/classify.go).
	return append(fs, field{"X-Tikkit-Loop", from.Address}, field{"MIME-Version", "1.0"}), nil
}

type part struct {
	h    message.Header
	body string
}

// bodyParts returns the text and HTML parts that are not empty, each UTF-8
// and quoted-printable.
func bodyParts(text, html string) []part {
	var ps []part
	for _, p := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html}} {
		if p.body == "" {
			continue
		}
		var h message.Header
		h.SetContentType(p.typ, map[string]string{"charset": "utf-8"})
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		ps = append(ps, part{h, p.body})
	}
	return ps
}

// writeBody writes h and the body: the one part itself, or the parts as
// multipart/alternative (plain text first, RFC 2046 §5.1.4).
func writeBody(w io.Writer, h message.Header, parts []part) error {
	mw, err := message.CreateWriter(w, h)
	if err != nil {
		return err
	}
	if len(parts) == 1 {
		if _, err := io.WriteString(mw, parts[0].body); err != nil {
			return err
		}
		return mw.Close()
	}
	for _, p := range parts {
		pw, err := mw.CreatePart(p.h)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(pw, p.body); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
	}
	return mw.Close()
}

// foldLen is the longest header line we write when the words allow it:
// RFC 2047 §2 limits a line with an encoded-word to 76 characters.
const foldLen = 76

// foldField formats "k: v" folded at the spaces of v (RFC 5322 §2.2.3). A
// word that does not fit the first line goes to the next one, so no line
// is longer than foldLen unless one word is. go-message folds only when
// the first piece fits, which leaves long encoded subjects unfolded.
func foldField(k, v string) ([]byte, error) {
	if strings.ContainsAny(v, "\r\n") {
		return nil, fmt.Errorf("header %s: value contains CR or LF", k)
	}
	b := []byte(k + ":")
	line := len(b)
	for _, w := range strings.Fields(v) {
		if line > 0 && line+1+len(w) > foldLen {
			b = append(b, "\r\n"...)
			line = 0
		}
		b = append(b, ' ')
		b = append(b, w...)
		line += 1 + len(w)
	}
	return append(b, "\r\n"...), nil
}

// boundary is derived from the Message-ID so that composing the same mail
// twice gives the same bytes. "=_" cannot occur in quoted-printable text
// (RFC 2045 §6.7), so the boundary never collides with a body line.
func boundary(msgID string) string {
	sum := sha256.Sum256([]byte(msgID))
	return "=_tikkit_" + hex.EncodeToString(sum[:12])
}

// autoSubmitted returns the RFC 3834 §5 keyword for a template kind.
func autoSubmitted(kind string) string {
	switch kind {
	case "ack":
		return "auto-replied"
	case "reply":
		return ""
	}
	return "auto-generated"
}

// formatMailbox checks a's address, converts an IDN domain to punycode
// unless SMTPUTF8, and cleans the display name. The result's String()
// quotes names with specials and encodes non-ASCII ones (RFC 5322 §3.4,
// RFC 2047 §5(3)).
func formatMailbox(a Address, smtputf8 bool) (*mail.Address, error) {
	email := strings.TrimSpace(a.Email)
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return nil, fmt.Errorf("invalid address %q", a.Email)
	}
	local, domain := email[:at], email[at+1:]
	for _, r := range email {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == '"' || r == ',' ||
			r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			return nil, fmt.Errorf("invalid address %q", a.Email)
		}
	}
	if !smtputf8 {
		if !isASCII(local) {
			return nil, fmt.Errorf("%w: %q", ErrNeedsSMTPUTF8, a.Email)
		}
		if !isASCII(domain) {
			d, err := idna.Lookup.ToASCII(domain)
			if err != nil {
				return nil, fmt.Errorf("domain of %q: %w", a.Email, err)
			}
			domain = d
		}
	}
	return &mail.Address{Name: cleanText(a.Name, maxNameLen), Address: local + "@" + domain}, nil
}

// cleanText makes s safe for one header field: control characters (CR and
// LF above all: header injection) become spaces, runs of white space one
// space, invalid UTF-8 is replaced, and the result is cut at max bytes.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// encodeText encodes an unstructured field value (RFC 2047 §5(1)). Only
// the span from the first to the last word that needs it is encoded, so a
// leading "[REQ-1001]" stays readable in the raw header. A word that looks
// like an encoded-word is encoded too, so it decodes to itself.
func encodeText(s string) string {
	words := strings.Split(s, " ")
	first, last := -1, -1
	for i, w := range words {
		if !isASCII(w) || strings.Contains(w, "=?") {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return s
	}
	span := strings.Join(words[first:last+1], " ")
	enc := mime.QEncoding.Encode("utf-8", span)
	if enc == span {
		enc = qWords(span) // ASCII: mime leaves it alone
	}
	out := append(append(words[:first:first], enc), words[last+1:]...)
	return strings.Join(out, " ")
}

// qWords Q-encodes ASCII s (RFC 2047 §4.2, §5(1)) in words of at most
// 20 input octets, 75 characters encoded.
func qWords(s string) string {
	var words []string
	for len(s) > 0 {
		n := min(20, len(s))
		var b strings.Builder
		b.WriteString("=?utf-8?q?")
		for i := 0; i < n; i++ {
			switch c := s[i]; {
			case c == ' ':
				b.WriteByte('_')
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
				b.WriteByte(c)
			default:
				fmt.Fprintf(&b, "=%02X", c)
			}
		}
		b.WriteString("?=")
		words = append(words, b.String())
		s = s[n:]
	}
	return strings.Join(words, " ")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// validMsgID reports whether id can go between angle brackets: printable
// ASCII, no white space or brackets, not too long (RFC 5322 §3.6.4).
func validMsgID(id string) bool {
	if id == "" || len(id) > maxMsgIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// cleanMsgID trims brackets and space from an id taken from stored mail;
// an id that still is not valid is dropped ("").
func cleanMsgID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if !validMsgID(id) {
		return ""
	}
	return id
}

// references returns the References list: ids cleaned and deduplicated,
// inReplyTo appended when missing (RFC 5322 §3.6.4), self excluded, and
// capped at maxReferences keeping the root and the newest.
func references(ids []string, inReplyTo, self string) []string {
	all := append(append([]string(nil), ids...), inReplyTo)
	var out []string
	seen := map[string]bool{self: true, "": true}
	for _, id := range all {
		id = cleanMsgID(id)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	if len(out) > maxReferences {
		out = append(out[:1], out[len(out)-maxReferences+1:]...)
	}
	return out
}

// listUnsubscribe checks the unfollow URI (RFC 2369 §3.2): https, http or
// mailto, printable ASCII without white space or angle brackets.
func listUnsubscribe(u string) (string, error) {
	u = strings.TrimSpace(u)
	u = strings.TrimSuffix(strings.TrimPrefix(u, "<"), ">")
	if u == "" {
		return "", nil
	}
	lu := strings.ToLower(u)
	if !strings.HasPrefix(lu, "https://") && !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "mailto:") {
		return "", fmt.Errorf("List-Unsubscribe %q: want https:, http: or mailto:", u)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return "", fmt.Errorf("List-Unsubscribe %q: invalid character", u)
		}
	}
	return u, nil
}
