package mailin

import (
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/inbucket/html2text"
	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTML bodies: inline image references are rewritten to our attachment
// URLs, then the HTML is sanitised; a plain-text rendering is made when the
// message has no text/plain part.

var (
	htmlPolicyOnce sync.Once
	htmlPolicy     *bluemonday.Policy
)

// sanitizer is bluemonday's user-generated-content policy: it keeps
// relative URLs (our "att/<sha256>" image links) and http(s)/mailto links,
// and drops every other scheme, so no cid: or data: URL survives.
func sanitizer() *bluemonday.Policy {
	htmlPolicyOnce.Do(func() {
		htmlPolicy = bluemonday.UGCPolicy()
	})
	return htmlPolicy
}

// srcAttr matches src and background attributes with their value, quoted
// or not.
var srcAttr = regexp.MustCompile(`(?i)(\s(?:src|srcset|background|poster|lowsrc|dynsrc)\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)`)

// rewriteCIDs replaces references to parts by Content-ID with
// "att/<sha256>": `src="cid:X"` (RFC 2392) and, as some clients write, a
// bare `src="X"` where X is a Content-ID. An unresolved cid: reference is
// removed, and so is every other image source (remote images are tracking
// pixels). referenced receives every Content-ID (lower-case) that was used.
func rewriteCIDs(doc string, byCID map[string]string, referenced map[string]bool) string {
	return srcAttr.ReplaceAllStringFunc(doc, func(m string) string {
		sub := srcAttr.FindStringSubmatch(m)
		prefix, v := sub[1], sub[2]
		v = strings.Trim(v, `"'`)
		key := strings.TrimSpace(v)
		if len(key) >= 4 && strings.EqualFold(key[:4], "cid:") {
			key = key[4:]
		}
		if u, err := url.PathUnescape(key); err == nil {
			key = u
		}
		key = strings.ToLower(strings.Trim(key, "<> "))
		if sha, ok := byCID[key]; ok && key != "" {
			referenced[key] = true
			return prefix + `"att/` + sha + `"`
		}
		// Anything else is dropped: an unresolved cid:, and remote images,
		// which would tell a tracker that staff opened the request.
		return " "
	})
}

// sanitizeHTML returns html safe to show.
func sanitizeHTML(s string) string {
	return sanitizer().Sanitize(s)
}

// htmlToText renders sanitised HTML as plain text: paragraphs in order,
// quotes marked with ">", emphasis without markers (html2text would write
// "*bold*", or "bold." in its text-only mode).
func htmlToText(src string) string {
	var s string
	doc, err := html.Parse(strings.NewReader(src))
	if err == nil {
		unbold(doc)
		s, err = html2text.FromHTMLNode(doc)
	}
	if err != nil || strings.TrimSpace(s) == "" {
		// Last resort: strip every tag.
		s = bluemonday.StrictPolicy().Sanitize(src)
	}
	return s
}

func unbold(n *html.Node) {
	if n.Type == html.ElementNode && (n.DataAtom == atom.B || n.DataAtom == atom.Strong) {
		n.DataAtom, n.Data = atom.Span, "span"
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		unbold(c)
	}
}

// metaCharset finds a charset declared in the first bytes of an HTML
// document (<meta charset=…> or http-equiv Content-Type).
var metaCharsetRe = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_.:-]+)`)

func metaCharset(b []byte) string {
	if len(b) > 2048 {
		b = b[:2048]
	}
	if m := metaCharsetRe.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}
