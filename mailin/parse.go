package mailin

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// ParseOptions bounds what Parse keeps.
type ParseOptions struct {
	// MaxAttachmentBytes: attachments over it are hashed and sized but not
	// stored (Stored=false). <0: no limit. 0 is taken as no limit too, so
	// that the zero ParseOptions stores everything.
	MaxAttachmentBytes int64
	// MaxTextBytes caps the decoded text/html kept in memory per part
	// (default 4 MiB when 0); the rest is cut off with a Problem.
	MaxTextBytes int64
	// NoAttachments keeps no attachment at all (each is still listed with
	// its size and hash): for a message over the per-message limit.
	NoAttachments bool
}

const (
	defaultMaxText   = 4 << 20
	maxMultipartDeep = 20       // nested multiparts followed
	maxMessageDeep   = 5        // nested message/rfc822 parsed
	maxTNEFBytes     = 32 << 20 // TNEF parts unpacked in memory up to this
	maxParts         = 10000    // parts walked per message
)

// Parse reads one message from r, streaming attachment bodies into sink.
// It never panics: an internal failure marks the result Unparseable. It
// returns an error only when the sink fails (I/O; the caller retries
// later); every input problem is a Problem or Unparseable.
func Parse(r io.Reader, sink BlobSink, opt ParseOptions) (*Parsed, error) {
	if opt.MaxTextBytes <= 0 {
		opt.MaxTextBytes = defaultMaxText
	}
	if opt.MaxAttachmentBytes == 0 {
		opt.MaxAttachmentBytes = -1
	}
	if opt.NoAttachments {
		opt.MaxAttachmentBytes = 0 // hashed and sized, never kept
	}
	p := &parser{opt: opt, sink: sink, m: newMimeReader(r), out: &Parsed{}}
	defer p.m.release()
	if err := p.run(true); err != nil {
		return nil, fmt.Errorf("mailin: parse: store attachment: %w", err)
	}
	return p.out, nil
}

// sinkFailure carries a sink error up through the walk (as a panic value,
// caught in run).
type sinkFailure struct{ err error }

type parser struct {
	opt   ParseOptions
	sink  BlobSink
	m     *mimeReader
	out   *Parsed
	depth int // message/rfc822 nesting of this parser

	acc     bodyAcc
	hashKey []string // per attachment: what enters ContentHash
	byCID   map[string]int
	nParts  int
	inner   bool // parsing a message/rfc822 part: no attachments stored
}

// bodyAcc collects body candidates of a subtree.
type bodyAcc struct {
	plain []string
	html  []string
	cal   []string
}

func (a *bodyAcc) add(b bodyAcc) {
	a.plain = append(a.plain, b.plain...)
	a.html = append(a.html, b.html...)
	a.cal = append(a.cal, b.cal...)
}

func (p *parser) problem(format string, args ...any) {
	if len(p.out.Problems) < 200 {
		p.out.Problems = append(p.out.Problems, fmt.Sprintf(format, args...))
	}
}

// run parses the whole message and fills p.out. The error is a sink error.
func (p *parser) run(top bool) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if sf, ok := v.(sinkFailure); ok {
				err = sf.err
				return
			}
			p.out.Unparseable = fmt.Sprintf("internal error while parsing: %v", v)
			p.out.Text, p.out.TextFrom = "", ""
		}
		if err == nil {
			// Leave the input consumed, whatever happened.
			_, _ = io.Copy(io.Discard, p.m.br)
		}
	}()
	if top {
		if why := binaryGarbage(p.m.br); why != "" {
			p.out.Unparseable = why
			return nil
		}
	}
	h, n, probs := p.m.readHeader(true)
	for _, s := range probs {
		if s != "no header" {
			p.problem("header: %s", s)
		}
	}
	p.out.Header = h
	if n == 0 {
		p.out.Unparseable = "no header"
		return nil
	}
	p.fillHeader(h)
	p.walk(h, "", 0, &p.acc, walkCtx{})
	if p.m.readErr != nil {
		p.problem("input read error, message may be truncated: %v", p.m.readErr)
	}
	p.finish()
	return nil
}

// binaryGarbage reports why the start of the input cannot be a message.
func binaryGarbage(br *bufio.Reader) string {
	head, _ := br.Peek(1024)
	if len(head) == 0 {
		return "empty input"
	}
	bad := 0
	for _, c := range head {
		if c == 0 || (c < 0x20 && c != '\r' && c != '\n' && c != '\t' && c != 0x1b && c != 0x0c) {
			bad++
		}
	}
	if bad*10 > len(head) || (len(head) >= 2 && head[0] == 0) {
		return "binary data, not a message"
	}
	return ""
}

func (p *parser) fillHeader(h textproto.Header) {
	o := p.out
	if n := len(h.Values("Subject")); n > 1 {
		p.problem("header: %d Subject fields, first used", n)
	}
	o.Subject = DecodeHeaderValue(h.Get("Subject"))
	o.HeaderFrom = ParseAddressList(h.Get("From"))
	if s := ParseAddressList(h.Get("Sender")); len(s) > 0 {
		o.Sender = &s[0]
	}
	o.ReplyTo = ParseAddressList(h.Get("Reply-To"))
	o.To = ParseAddressList(strings.Join(h.Values("To"), ", "))
	o.Cc = ParseAddressList(strings.Join(h.Values("Cc"), ", "))
	seen := map[string]bool{}
	for _, k := range []string{"Delivered-To", "X-Original-To"} {
		for _, v := range h.Values(k) {
			addrs := ParseAddressList(v)
			if len(addrs) == 0 {
				addrs = []Address{{Email: NormalizeEmail(strings.Trim(v, "<> \t"))}}
			}
			for _, a := range addrs {
				if a.Email != "" && !seen[a.Email] {
					seen[a.Email] = true
					o.DeliveredTo = append(o.DeliveredTo, a.Email)
				}
			}
		}
	}
	if d := h.Get("Date"); d != "" {
		o.Date = ParseDate(d)
		if o.Date.IsZero() {
			p.problem("header: unparseable Date %s", quoteShort(d))
		}
	}
	if ids := ParseMessageIDs(h.Get("Message-Id")); len(ids) > 0 {
		o.MessageID = ids[0]
	}
	o.InReplyTo = ParseMessageIDs(h.Get("In-Reply-To"))
	o.References = ParseMessageIDs(strings.Join(h.Values("References"), " "))
	o.ThreadIndex = strings.TrimSpace(h.Get("Thread-Index"))
	o.ThreadTopic = DecodeHeaderValue(h.Get("Thread-Topic"))
	o.From = effectiveFrom(o.HeaderFrom, o.Sender, o.ReplyTo)
}

// noReplyLocal matches the local part of relay addresses nobody reads.
var noReplyLocal = regexp.MustCompile(`^(no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?)([-_.+=].*)?$`)

// IsNoReply reports whether addr is a no-reply/bounce relay address
// (noreply@, no-reply@, donotreply@, do-not-reply@, bounce@ …).
func IsNoReply(addr string) bool {
	local, _, ok := strings.Cut(strings.ToLower(addr), "@")
	return ok && noReplyLocal.MatchString(local)
}

// effectiveFrom picks the author: the first From with an address; Sender
// when there is none; the single Reply-To when From is a no-reply relay
// (web forms).
func effectiveFrom(from []Address, sender *Address, replyTo []Address) Address {
	var a Address
	for _, f := range from {
		if strings.Contains(f.Email, "@") {
			a = f
			break
		}
	}
	if a.Email == "" && sender != nil && strings.Contains(sender.Email, "@") {
		a = *sender
	}
	if a.Email != "" && IsNoReply(a.Email) && len(replyTo) == 1 &&
		strings.Contains(replyTo[0].Email, "@") && replyTo[0].Email != a.Email {
		a = replyTo[0]
	}
	return a
}

// finish chooses Text and HTML, rewrites inline references and computes
// ContentHash and the synthetic Message-ID.
func (p *parser) finish() {
	o := p.out
	byCID := map[string]string{}
	for cid, i := range p.byCID {
		byCID[cid] = o.Attachments[i].SHA256
	}
	if html := joinHTML(p.acc.html); html != "" {
		refs := map[string]bool{}
		html = rewriteCIDs(html, byCID, refs)
		for cid := range refs {
			o.Attachments[p.byCID[cid]].Inline = true
		}
		html = sanitizeHTML(html)
		if int64(len(html)) > p.opt.MaxTextBytes {
			html = strings.ToValidUTF8(html[:p.opt.MaxTextBytes], "")
			p.problem("sanitised HTML cut at %d bytes", p.opt.MaxTextBytes)
		}
		o.HTML = html
	}
	switch {
	case strings.TrimSpace(joinTexts(p.acc.plain)) != "":
		o.Text, o.TextFrom = joinTexts(p.acc.plain), "plain"
	case o.HTML != "" && strings.TrimSpace(htmlToText(o.HTML)) != "":
		t, _ := cleanText(htmlToText(o.HTML))
		o.Text, o.TextFrom = strings.TrimRight(t, " \n")+"\n", "html"
	case len(o.Forwarded) > 0 && strings.TrimSpace(o.Forwarded[0].Text) != "":
		o.Text, o.TextFrom = o.Forwarded[0].Text, "forwarded"
	case strings.TrimSpace(strings.Join(p.acc.cal, "")) != "":
		o.Text, o.TextFrom = joinTexts(p.acc.cal), "calendar"
	default:
		o.Text, o.TextFrom = joinTexts(p.acc.plain), ""
	}

	h := sha256.New()
	for _, k := range []string{"From", "To", "Cc", "Subject", "Date"} {
		fmt.Fprintf(h, "%s:%s\n", k, collapseSpace(strings.Join(o.Header.Values(k), " ")))
	}
	fmt.Fprintf(h, "\n%s\n", o.Text)
	for _, k := range p.hashKey {
		fmt.Fprintf(h, "%s\n", k)
	}
	o.ContentHash = hex.EncodeToString(h.Sum(nil))
	if o.MessageID == "" {
		o.SyntheticID = true
		o.MessageID = "sha256-" + o.ContentHash[:32] + "@tikkit.invalid"
	}
}

func joinHTML(parts []string) string {
	var keep []string
	for _, s := range parts {
		if strings.TrimSpace(s) != "" {
			keep = append(keep, s)
		}
	}
	return strings.Join(keep, "\n")
}
