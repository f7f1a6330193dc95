package mailin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"
)

// walkCtx is what a part inherits from its parent multipart.
type walkCtx struct {
	defType  string // media type when the part has no Content-Type (RFC 2046 §5.1.5: message/rfc822 in a digest)
	inReport bool   // inside multipart/report (RFC 6522)
	related  bool   // inside multipart/related (RFC 2387)
}

func pathLabel(path string) string {
	if path == "" {
		return "body"
	}
	return "part " + path
}

func childPath(path string, n int) string {
	if path == "" {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%s.%d", path, n)
}

// contentType returns the lower-case media type of h and its parameters,
// repairing a missing or broken value.
func (p *parser) contentType(h textproto.Header, label, def string) (string, map[string]string) {
	raw := h.Get("Content-Type")
	ct, params := parseParams(raw)
	switch {
	case ct == "":
		if strings.TrimSpace(raw) != "" {
			p.problem("%s: empty media type in Content-Type, %s assumed", label, def)
		}
		ct = def
	case !strings.Contains(ct, "/"):
		fix := "application/octet-stream"
		if ct == "text" {
			fix = "text/plain"
		}
		p.problem("%s: Content-Type %s has no subtype, %s assumed", label, quoteShort(ct), fix)
		ct = fix
	}
	ct = strings.Join(strings.Fields(ct), "")
	return ct, params
}

// walk handles one entity whose header h has been read; its body is next
// in p.m and is consumed completely.
func (p *parser) walk(h textproto.Header, path string, depth int, acc *bodyAcc, ctx walkCtx) {
	label := pathLabel(path)
	p.nParts++
	if p.nParts > maxParts {
		if p.nParts == maxParts+1 {
			p.problem("more than %d parts, the rest skipped", maxParts)
		}
		drain(p.m.body())
		return
	}
	def := ctx.defType
	if def == "" {
		def = "text/plain"
	}
	ct, params := p.contentType(h, label, def)
	disp, dparams := parseParams(h.Get("Content-Disposition"))
	cte := h.Get("Content-Transfer-Encoding")
	if strings.HasPrefix(ct, "multipart/") {
		p.multipart(ct, params, cte, path, depth, acc, ctx)
		return
	}
	raw := p.m.body()
	defer drain(raw)
	body := decodeCTE(raw, cte, func(s string) { p.problem("%s: %s", label, s) })
	base64ed := strings.EqualFold(strings.TrimSpace(cte), "base64")

	att := Attachment{
		ContentType: ct,
		ContentID:   strings.TrimSpace(strings.Trim(strings.TrimSpace(h.Get("Content-Id")), "<>")),
		Inline:      disp == "inline" || (ctx.related && disp != "attachment"),
	}
	att.Name = p.fileName(params, dparams)

	switch {
	case ct == "message/rfc822" || ct == "message/global":
		p.message(body, att, base64ed, label, ctx)
	case ct == "message/delivery-status" || ct == "message/global-delivery-status":
		s := p.decodeText(p.readText(body, label), "text/plain", params, label)
		p.out.DeliveryStatus = joinNonEmpty(p.out.DeliveryStatus, s)
	case ct == "text/rfc822-headers" || ct == "message/rfc822-headers" || ct == "message/global-headers":
		s := p.decodeText(p.readText(body, label), "text/plain", params, label)
		p.out.ReturnedHeaders = joinNonEmpty(p.out.ReturnedHeaders, s)
	case isTNEF(ct, att.Name):
		p.tnef(body, att, base64ed, label)
	case (ct == "text/plain" || ct == "text/html") && disp != "attachment":
		s := p.decodeText(p.readText(body, label), ct, params, label)
		if ct == "text/html" {
			acc.html = append(acc.html, s)
		} else {
			acc.plain = append(acc.plain, s)
		}
	case ct == "text/calendar" || ct == "application/ics":
		buf := p.readUpTo(body, p.opt.MaxTextBytes)
		if int64(len(buf)) <= p.opt.MaxTextBytes {
			if s := calendarSummary(p.decodeText(buf, ct, params, label)); s != "" {
				acc.cal = append(acc.cal, s)
			}
		}
		p.attach(io.MultiReader(bytes.NewReader(buf), body), att, base64ed)
	default:
		p.attach(body, att, base64ed)
	}
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "\n" + b
}

func drain(r io.Reader) { _, _ = io.Copy(io.Discard, r) }

// multipart walks the parts of a multipart entity (RFC 2046 §5.1).
func (p *parser) multipart(ct string, params map[string]string, cte, path string, depth int, acc *bodyAcc, ctx walkCtx) {
	label := pathLabel(path)
	m := p.m
	if depth >= maxMultipartDeep {
		p.problem("%s: multipart nested deeper than %d, skipped", label, maxMultipartDeep)
		drain(m.body())
		return
	}
	boundary := params["boundary"]
	if boundary == "" {
		p.problem("%s: %s without boundary, read as text", label, ct)
		body := decodeCTE(m.body(), cte, func(s string) { p.problem("%s: %s", label, s) })
		acc.plain = append(acc.plain, p.decodeText(p.readText(body, label), "text/plain", params, label))
		drain(body)
		return
	}
	m.bounds = append(m.bounds, boundary)
	idx := len(m.bounds) - 1
	pre := m.body()
	preamble := p.readUpTo(pre, p.opt.MaxTextBytes)
	drain(pre)
	if m.hit != idx {
		m.bounds = m.bounds[:idx]
		p.problem("%s: boundary %s not found, body read as text", label, quoteShort(boundary))
		body := decodeCTE(bytes.NewReader(preamble), cte, func(s string) { p.problem("%s: %s", label, s) })
		acc.plain = append(acc.plain, p.decodeText(p.readText(body, label), "text/plain", params, label))
		return
	}
	child := walkCtx{
		inReport: ctx.inReport || ct == "multipart/report",
		related:  ct == "multipart/related",
	}
	if ct == "multipart/digest" {
		child.defType = "message/rfc822"
	}
	if ct == "multipart/report" && p.out.ReportType == "" {
		p.out.ReportType = strings.ToLower(strings.TrimSpace(params["report-type"]))
	}
	var kids []bodyAcc
	for n := 1; m.hit == idx && !m.final; n++ {
		cp := childPath(path, n)
		h, _, probs := m.readHeader(false)
		for _, s := range probs {
			p.problem("%s: %s", pathLabel(cp), s)
		}
		var ka bodyAcc
		p.walk(h, cp, depth+1, &ka, child)
		kids = append(kids, ka)
	}
	if m.hit == idx && m.final {
		m.bounds = m.bounds[:idx]
		drain(m.body()) // epilogue
	} else {
		m.bounds = m.bounds[:idx]
		p.problem("%s: missing closing boundary", label)
	}
	if ct != "multipart/alternative" {
		for _, k := range kids {
			acc.add(k)
		}
		return
	}
	// RFC 2046 §5.1.4: alternatives in increasing faithfulness. Text
	// prefers the plain one, HTML the last HTML one.
	var merged bodyAcc
	for _, k := range kids {
		if merged.plain == nil && strings.TrimSpace(strings.Join(k.plain, "")) != "" {
			merged.plain = k.plain
		}
		if strings.TrimSpace(strings.Join(k.html, "")) != "" {
			merged.html = k.html
		}
		merged.cal = append(merged.cal, k.cal...)
	}
	acc.add(merged)
}

// readUpTo reads at most max+1 bytes of r (so the caller can tell that
// there was more).
func (p *parser) readUpTo(r io.Reader, max int64) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, max+1))
	return b
}

// readText reads a text part up to MaxTextBytes and discards the rest.
func (p *parser) readText(r io.Reader, label string) []byte {
	b := p.readUpTo(r, p.opt.MaxTextBytes)
	if int64(len(b)) > p.opt.MaxTextBytes {
		b = b[:p.opt.MaxTextBytes]
		p.problem("%s: text cut at %d bytes", label, p.opt.MaxTextBytes)
		drain(r)
	}
	return b
}

// decodeText turns the bytes of a text part into clean UTF-8 with LF line
// ends. A missing charset is passed on as "" so DecodeCharset can detect it.
func (p *parser) decodeText(b []byte, ct string, params map[string]string, label string) string {
	cs := strings.TrimSpace(params["charset"])
	if cs == "" && ct == "text/html" {
		cs = metaCharset(b)
	}
	if l := strings.ToLower(cs); l == "" || l == "utf-8" || l == "utf8" {
		b = trimPartialRune(b) // a text cut at MaxTextBytes may end mid-character
	}
	s, nul := cleanText(DecodeCharset(cs, b))
	if nul || (bytes.IndexByte(b, 0) >= 0 && !isWideCharset(cs)) {
		p.problem("%s: NUL bytes removed", label)
	}
	if ct == "text/plain" && strings.EqualFold(params["format"], "flowed") {
		s = unflow(s, strings.EqualFold(params["delsp"], "yes"))
	}
	return s
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b,
// when b is otherwise valid UTF-8.
func trimPartialRune(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	for k := 1; k <= 3 && k <= len(b); k++ {
		if utf8.Valid(b[:len(b)-k]) && utf8.RuneStart(b[len(b)-k]) {
			return b[:len(b)-k]
		}
	}
	return b
}

// attach streams r into the sink and records the attachment. Content of
// parts not in base64 enters ContentHash without CRs, so the same message
// with LF or CRLF line ends hashes alike.
func (p *parser) attach(r io.Reader, a Attachment, base64ed bool) int {
	var kh hash.Hash
	if !base64ed {
		kh = sha256.New()
		r = io.TeeReader(r, crStripWriter{kh})
	}
	sha, size, stored, err := p.sink.Put(r, p.opt.MaxAttachmentBytes)
	if err != nil {
		panic(sinkFailure{err})
	}
	drain(r)
	a.SHA256, a.Size, a.Stored = sha, size, stored
	if a.Name == "" {
		a.Name = p.derivedName(a)
	}
	key := sha
	if kh != nil {
		key = "n:" + hex.EncodeToString(kh.Sum(nil))
	}
	return p.record(a, key)
}

func (p *parser) record(a Attachment, key string) int {
	p.out.Attachments = append(p.out.Attachments, a)
	p.hashKey = append(p.hashKey, key)
	i := len(p.out.Attachments) - 1
	if cid := strings.ToLower(a.ContentID); cid != "" {
		if p.byCID == nil {
			p.byCID = map[string]int{}
		}
		if _, dup := p.byCID[cid]; !dup {
			p.byCID[cid] = i
		}
	}
	return i
}

// crStripWriter writes everything but CR bytes to w.
type crStripWriter struct{ w io.Writer }

func (c crStripWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			_, _ = c.w.Write(b)
			break
		}
		_, _ = c.w.Write(b[:i])
		b = b[i+1:]
	}
	return n, nil
}

// isWideCharset reports charsets whose encoding has NUL bytes in ordinary text.
func isWideCharset(cs string) bool {
	cs = strings.ToLower(cs)
	return strings.HasPrefix(cs, "utf-16") || strings.HasPrefix(cs, "utf-32") || strings.HasPrefix(cs, "ucs")
}
