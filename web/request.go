package web

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
)

// The request status pages: /r/{number}/{key} and
// /r/{number}/{key}/att/{sha256}. The key comes from the link in every
// mail; Config.VerifyKey says whose it is. Whatever goes wrong before the
// viewer is known to be allowed — a malformed path, a bad or revoked key,
// a request that does not exist, an attachment that is not public — is
// answered with one and the same 404, so the pages never reveal whether a
// request exists.

//go:embed request.html
var requestHTML string

var requestTmpl = template.Must(template.New("request.html").Parse(requestHTML))

// requestNotFound is the one 404 body of every /r/ path, rendered once.
var requestNotFound = func() []byte {
	var buf bytes.Buffer
	if err := requestTmpl.Execute(&buf, requestPage{NotFound: true}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}()

// maxKeyLen bounds the key segment handed to VerifyKey.
const maxKeyLen = 512

// requestPagePolicy is the CSP of the request pages and downloads.
const requestPagePolicy = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"

// imageTypes are the attachment types served as themselves (and shown
// inline on the page); everything else downloads as octet-stream.
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// requestPagesOn reports whether cmd wired the request pages.
func (h *handler) requestPagesOn() bool { return h.cfg.VerifyKey != nil && h.cfg.Store != nil }

// requestRoute is a parsed /r/ path.
type requestRoute struct {
	number int64
	key    string
	sha    string // "" for the page itself
}

// parseRequestPath accepts exactly /r/{number}/{key} and
// /r/{number}/{key}/att/{sha256}: a canonical positive decimal number, a
// non-empty key of bounded length, and 64 lower-case hex digits.
func parseRequestPath(p string) (requestRoute, bool) {
	rest, ok := strings.CutPrefix(p, "/r/")
	if !ok {
		return requestRoute{}, false
	}
	seg := strings.Split(rest, "/")
	if len(seg) != 2 && !(len(seg) == 4 && seg[2] == "att") {
		return requestRoute{}, false
	}
	n, err := strconv.ParseInt(seg[0], 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != seg[0] {
		return requestRoute{}, false
	}
	key := seg[1]
	if key == "" || len(key) > maxKeyLen || key == "." || key == ".." || !utf8.ValidString(key) {
		return requestRoute{}, false
	}
	for _, c := range key {
		if unicode.IsControl(c) || unicode.IsSpace(c) {
			return requestRoute{}, false
		}
	}
	rt := requestRoute{number: n, key: key}
	if len(seg) == 4 {
		if !isSHA256Hex(seg[3]) {
			return requestRoute{}, false
		}
		rt.sha = seg[3]
	}
	return rt, true
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// errNoAccess covers every reason to answer the shared 404.
var errNoAccess = errors.New("web: no access")

// requestPages serves GET/HEAD under /r/. ServeHTTP has checked the method.
func (h *handler) requestPages(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "private, no-store")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Security-Policy", requestPagePolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Robots-Tag", "noindex, nofollow")

	rt, ok := parseRequestPath(r.URL.Path)
	if !ok {
		h.requestNotFound(w, r)
		return
	}
	ctx := r.Context()
	req, viewer, err := h.authorize(ctx, rt)
	if err != nil {
		h.requestFailed(w, r, err)
		return
	}
	if rt.sha != "" {
		h.serveAttachment(w, r, req, rt.sha)
		return
	}
	page, err := h.buildRequestPage(ctx, req, viewer, rt.key)
	if err != nil {
		h.requestFailed(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := requestTmpl.Execute(&buf, page); err != nil {
		panic(err) // embedded and tested; recoverPanic answers 500
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// requestNotFound writes the shared 404: same body, same headers, whatever
// the reason.
func (h *handler) requestNotFound(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Del("Content-Disposition")
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(requestNotFound)))
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		w.Write(requestNotFound)
	}
}

// requestFailed answers errNoAccess and store.ErrNotFound with the shared
// 404 and anything else (the database failing) with a logged 500.
func (h *handler) requestFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNoAccess) || errors.Is(err, store.ErrNotFound) {
		h.requestNotFound(w, r)
		return
	}
	h.log.Error("web: request page", slog.Any("err", err))
	plain(w, http.StatusInternalServerError, "internal error\n")
}

// authorize checks the key and that its owner may still see the request:
// an active or pending person who is the requester, a follower, or staff.
// Blocked and denied people see nothing, whatever key they hold.
func (h *handler) authorize(ctx context.Context, rt requestRoute) (store.Request, store.Person, error) {
	pid, ok := h.cfg.VerifyKey(rt.number, rt.key)
	if !ok || pid <= 0 {
		return store.Request{}, store.Person{}, errNoAccess
	}
	st := h.cfg.Store
	req, err := st.RequestByNumber(ctx, rt.number)
	if err != nil {
		return req, store.Person{}, err
	}
	p, err := st.PersonByID(ctx, pid)
	if err != nil {
		return req, p, err
	}
	if p.Status == rules.StatusBlocked || p.Status == rules.StatusDenied {
		return req, p, errNoAccess
	}
	if p.Kind == rules.KindStaff || req.RequesterID == p.ID {
		return req, p, nil
	}
	if _, err := st.FollowerReason(ctx, req.ID, p.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return req, p, errNoAccess
		}
		return req, p, err
	}
	return req, p, nil
}

// isPublic says whether a message of a request shows on its page: not an
// internal note, not automatic, and actually filed (created or appended).
func isPublic(m store.Message) bool {
	return !m.Internal && !m.Auto && (m.Outcome == "created" || m.Outcome == "appended")
}

// publicMessage is a public message with its attachments.
type publicMessage struct {
	store.Message
	Attachments []store.Attachment
}

// publicMessages lists a request's public messages in order with their
// attachments. It would be one query in the store ("public messages and
// attachments of a request"); here it is composed of RequestMessages and
// Attachments.
func publicMessages(ctx context.Context, st *store.Store, request int64) ([]publicMessage, error) {
	ms, err := st.RequestMessages(ctx, request)
	if err != nil {
		return nil, err
	}
	var out []publicMessage
	for _, m := range ms {
		if !isPublic(m) {
			continue
		}
		as, err := st.Attachments(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, publicMessage{Message: m, Attachments: as})
	}
	return out, nil
}

// publicAttachment finds a stored attachment with this sha256 on one of the
// request's public messages.
func publicAttachment(ctx context.Context, st *store.Store, request int64, sha string) (store.Attachment, error) {
	pms, err := publicMessages(ctx, st, request)
	if err != nil {
		return store.Attachment{}, err
	}
	for _, pm := range pms {
		for _, a := range pm.Attachments {
			if a.Stored && a.SHA256 == sha {
				return a, nil
			}
		}
	}
	return store.Attachment{}, errNoAccess
}

// serveAttachment streams a public attachment from the blob store. Images
// of the four safe types are served as themselves; anything else as an
// octet-stream download. Range requests work (phones resume downloads).
func (h *handler) serveAttachment(w http.ResponseWriter, r *http.Request, req store.Request, sha string) {
	st := h.cfg.Store
	a, err := publicAttachment(r.Context(), st, req.ID, sha)
	if err != nil {
		h.requestFailed(w, r, err)
		return
	}
	f, err := st.Blobs.Open(sha)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.log.Warn("web: attachment blob missing", slog.Int64("request", req.Number), slog.String("sha256", sha))
		}
		h.requestFailed(w, r, err)
		return
	}
	defer f.Close()
	name := safeFilename(a.Name)
	hdr := w.Header()
	if ct, ok := imageType(a.ContentType); ok {
		hdr.Set("Content-Type", ct)
		hdr.Set("Content-Disposition", "inline; filename*=UTF-8''"+rfc5987(name))
	} else {
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Disposition", "attachment; filename*=UTF-8''"+rfc5987(name))
	}
	http.ServeContent(w, r, "", time.Time{}, f)
}

// imageType returns the normalised media type when it is one served inline.
func imageType(ct string) (string, bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	mt = strings.ToLower(mt)
	return mt, imageTypes[mt]
}

// safeFilename keeps the last path element of an attachment name, without
// control characters or addresses; "attachment" when nothing is left.
func safeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || c == utf8.RuneError {
			return -1
		}
		return c
	}, name)
	name = strings.TrimSpace(redactAddresses(name))
	if name == "" || name == "." || name == ".." {
		return "attachment"
	}
	return name
}

// rfc5987 percent-encodes s as an ext-value's value-chars (RFC 5987 §3.2):
// everything outside attr-char, byte by byte of its UTF-8.
func rfc5987(s string) string {
	const attrChar = "!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(attrChar, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// addressRE matches anything that looks like an email address: a run of
// non-separators on both sides of an at sign.
var addressRE = regexp.MustCompile(`[^\s<>()\[\]{},;:"'@]+@[^\s<>()\[\]{},;:"'@]+`)

// redactAddresses replaces email addresses in free text: the pages show no
// one's address, not even the viewer's.
func redactAddresses(s string) string {
	if !strings.ContainsRune(s, '@') {
		return s
	}
	return addressRE.ReplaceAllString(s, "[address hidden]")
}

// requestPage is the template's data; every field is preformatted.
type requestPage struct {
	NotFound bool
	Title    string // "[REQ-1001] Leak under the sink"
	Tag      string
	Subject  string
	State    string // open | closed
	Location string
	Priority string
	Labels   []string
	Messages []pageMessage
	Now      string
}

type pageMessage struct {
	Author      string
	Staff       bool
	Date        string
	Text        string
	Attachments []pageAttachment
}

type pageAttachment struct {
	Name   string
	Size   string
	Href   string // "" when the attachment was not stored
	Image  bool
	Inline bool
}

// buildRequestPage collects what the page shows. Only public messages are
// read further than their flags; no address leaves this function.
func (h *handler) buildRequestPage(ctx context.Context, req store.Request, viewer store.Person, key string) (requestPage, error) {
	st := h.cfg.Store
	prefix := h.cfg.TagPrefix
	if prefix == "" {
		prefix = "REQ-"
	}
	now := h.now()
	p := requestPage{
		Tag:      "[" + prefix + strconv.FormatInt(req.Number, 10) + "]",
		Subject:  redactAddresses(req.Subject),
		State:    req.State,
		Priority: req.Priority,
		Now:      now.Format("2006-01-02 15:04 MST"),
	}
	if strings.TrimSpace(p.Subject) == "" {
		p.Subject = "(no subject)"
	}
	p.Title = p.Tag + " " + p.Subject
	if req.LocationID.Valid {
		loc, err := st.LocationByID(ctx, req.LocationID.Int64)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return p, err
		}
		p.Location = redactAddresses(loc.Path)
	}
	labels, err := st.Labels(ctx, req.ID)
	if err != nil {
		return p, err
	}
	for _, l := range labels {
		p.Labels = append(p.Labels, redactAddresses(l))
	}
	pms, err := publicMessages(ctx, st, req.ID)
	if err != nil {
		return p, err
	}
	authors := map[int64]store.Person{viewer.ID: viewer}
	base := "./" + strings.ReplaceAll(url.PathEscape(key), "@", "%40") + "/att/"
	for _, pm := range pms {
		var author store.Person
		if pm.AuthorID.Valid {
			a, ok := authors[pm.AuthorID.Int64]
			if !ok {
				a, err = st.PersonByID(ctx, pm.AuthorID.Int64)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return p, err
				}
				authors[pm.AuthorID.Int64] = a
			}
			author = a
		}
		m := pageMessage{
			Author: displayName(author, pm.FromName, req.RequesterID),
			Staff:  author.Kind == rules.KindStaff,
			Date:   pm.ReceivedAt.In(now.Location()).Format("2006-01-02 15:04 MST"),
			Text:   redactAddresses(strings.TrimSpace(pm.VisibleText)),
		}
		for _, a := range pm.Attachments {
			pa := pageAttachment{Name: safeFilename(a.Name), Size: humanSize(a.Size), Inline: a.Inline}
			if a.Stored && isSHA256Hex(a.SHA256) {
				pa.Href = base + a.SHA256
				_, pa.Image = imageType(a.ContentType)
			}
			m.Attachments = append(m.Attachments, pa)
		}
		p.Messages = append(p.Messages, m)
	}
	return p, nil
}

// displayName is the author's name as shown: the person's name, else the
// name in the From header, never anything with an at sign in it; failing
// those, the author's role.
func displayName(author store.Person, fromName string, requester int64) string {
	for _, n := range []string{author.Name, fromName} {
		n = strings.Join(strings.Fields(n), " ")
		if n != "" && !strings.ContainsRune(n, '@') {
			return n
		}
	}
	switch {
	case author.Kind == rules.KindStaff:
		return "Facilities team"
	case author.ID != 0 && author.ID == requester:
		return "Requester"
	default:
		return "Occupant"
	}
}

// humanSize formats a byte count: "512 B", "14 KB", "2.5 MB".
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"KB", "MB", "GB"} {
		v /= unit
		if v < unit || u == "GB" {
			if v < 10 {
				return fmt.Sprintf("%.1f %s", v, u)
			}
			return fmt.Sprintf("%.0f %s", v, u)
		}
	}
	return "" // not reached
}
