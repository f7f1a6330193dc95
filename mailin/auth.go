package mailin

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/publicsuffix"
)

// Sender authentication for domain auto-approval (DESIGN §3 step 5, issue 3).
//
// A domain in auto_approve_domains approves a new sender only when the mail
// proves it comes from that domain: a DKIM signature that verifies and whose
// d= aligns with the From domain, or an Authentication-Results header from
// our own, trusted MTA that says dmarc=pass or an aligned dkim=pass. A forged
// From header alone never authenticates.
//
// Decisions:
//   - Only the topmost Authentication-Results header counts, and only when its
//     authserv-id is trusted. RFC 8601 §5: the receiving MTA adds its own on top
//     and removes forged ones carrying its own id; anything below may be
//     forged by the sender. The MTA must be configured to do that removal.
//     A dmarc result other than pass in that header vetoes a dkim=pass; a
//     dmarc=pass whose header.from names another domain does not count.
//   - Alignment is relaxed but stricter than DMARC's organisational domain:
//     d= equals the From domain, or one is a subdomain of the other, where the
//     parent has at least two labels and is not a public suffix (so d=co.uk
//     never aligns with From x.co.uk). Siblings (d=a.x.org, From b.x.org) do
//     not align.
//   - Signatures with l= (body length) never verify: go-msgauth rejects them,
//     since text can be appended after the signed part. Detail says so.
//   - RSA keys shorter than 1024 bits are treated as absent (RFC 8301 §3.2);
//     rsa-sha1 is rejected by go-msgauth.
//   - A message with more than one From header (or a From header whose
//     domain is not fromDomain) is never authenticated: DKIM verifies the
//     bottom-most From, a reader may show the top one (RFC 7489 §6.6.1).
//   - At most MaxAuthBytes of raw are read. A larger message is not DKIM
//     verified (its body hash could not match anyway); the headers still are
//     checked for a trusted Authentication-Results.
//   - Timeout covers DNS and signature checks. Verification runs in a
//     goroutine; when the deadline passes Authenticate returns at once and a
//     LookupTXT that ignores its context may finish later in the background.
//     Reading raw is done first, synchronously: pass an in-memory or file
//     reader, not a slow network stream.

// MaxAuthBytes caps how much of a message Authenticate reads (64 MiB).
const MaxAuthBytes = 64 << 20

const (
	defaultAuthTimeout       = 10 * time.Second
	defaultAuthMaxSignatures = 5
)

// AuthOptions configures Authenticate.
type AuthOptions struct {
	// TrustedAuthservIDs: Authentication-Results from these authserv-ids are
	// believed (case-insensitive), and only in the topmost such header.
	TrustedAuthservIDs []string
	// LookupTXT does the DNS TXT lookup; nil = net.DefaultResolver.LookupTXT.
	LookupTXT func(ctx context.Context, domain string) ([]string, error)
	// Timeout bounds the whole verification; default 10s.
	Timeout time.Duration
	// MaxSignatures is how many DKIM-Signature headers are checked (the
	// topmost ones); default 5.
	MaxSignatures int
}

// AuthResult is the outcome of Authenticate.
type AuthResult struct {
	FromDomain  string // punycode, lower-case
	DKIMAligned bool   // a verified DKIM signature whose d= aligns with FromDomain
	TrustedPass bool   // the topmost Authentication-Results is trusted and says dmarc=pass or aligned dkim=pass
	Detail      string // human-readable reason, for logs and events
}

// Authenticated reports whether the From domain is proven.
func (r AuthResult) Authenticated() bool { return r.DKIMAligned || r.TrustedPass }

// Authenticate verifies raw (the message exactly as received) for
// fromDomain. It never panics and never blocks longer than opt.Timeout once
// raw is read; DNS errors give an unauthenticated result with Detail.
func Authenticate(ctx context.Context, raw io.Reader, fromDomain string, opt AuthOptions) (res AuthResult) {
	res.FromDomain = authDomain(fromDomain)
	defer func() {
		if p := recover(); p != nil {
			res = AuthResult{FromDomain: res.FromDomain, Detail: fmt.Sprintf("authentication failed internally: %v", p)}
		}
	}()
	if opt.Timeout <= 0 {
		opt.Timeout = defaultAuthTimeout
	}
	if opt.MaxSignatures <= 0 {
		opt.MaxSignatures = defaultAuthMaxSignatures
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()

	if res.FromDomain == "" {
		res.Detail = fmt.Sprintf("no usable From domain %q", fromDomain)
		return res
	}
	if raw == nil {
		res.Detail = "no message"
		return res
	}
	data, err := io.ReadAll(io.LimitReader(raw, MaxAuthBytes+1))
	if err != nil {
		res.Detail = "reading message: " + err.Error()
		return res
	}
	oversize := len(data) > MaxAuthBytes
	if oversize {
		data = data[:MaxAuthBytes]
	}
	data = stripMboxLine(data)
	fields := authHeaderFields(data)

	if problem := checkFromHeader(fields, res.FromDomain); problem != "" {
		res.Detail = problem
		return res
	}

	var details []string
	switch {
	case oversize:
		details = append(details, fmt.Sprintf("message over %d MiB: DKIM not verified", MaxAuthBytes>>20))
	default:
		aligned, d := verifyDKIMAligned(ctx, data, res.FromDomain, opt)
		res.DKIMAligned = aligned
		details = append(details, d)
	}
	pass, d := checkAuthResults(fields, res.FromDomain, opt.TrustedAuthservIDs)
	res.TrustedPass = pass
	if d != "" {
		details = append(details, d)
	}
	res.Detail = strings.Join(details, "; ")
	return res
}

// authDomain lower-cases a domain, drops a trailing dot and converts IDN
// labels to punycode; "" if it is not a usable domain.
func authDomain(d string) string {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" || strings.ContainsAny(d, " \t\r\n\"<>()[],;:\\@") || hasControl(d) {
		return ""
	}
	d = asciiDomain(d)
	for _, l := range strings.Split(d, ".") {
		if l == "" {
			return ""
		}
	}
	return d
}

// domainAligned is relaxed alignment of a signing (or reported) domain d with
// the From domain: equal, or one a subdomain of the other where the parent has
// at least two labels and is not a public suffix.
func domainAligned(d, from string) bool {
	d = authDomain(d)
	if d == "" || from == "" {
		return false
	}
	if d == from {
		return true
	}
	parent := ""
	switch {
	case strings.HasSuffix(from, "."+d):
		parent = d
	case strings.HasSuffix(d, "."+from):
		parent = from
	default:
		return false
	}
	if !strings.Contains(parent, ".") {
		return false
	}
	if ps, _ := publicsuffix.PublicSuffix(parent); ps == parent {
		return false
	}
	return true
}

// stripMboxLine drops a leading "From sender date" mbox separator.
func stripMboxLine(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("From ")) {
		return data
	}
	if rest := bytes.TrimLeft(data[4:], " \t"); len(rest) > 0 && rest[0] == ':' {
		return data // "From :" is an (obsolete-syntax) header field
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return data[i+1:]
	}
	return data
}

type authField struct {
	name  string // trimmed, as written
	value string // unfolded (line breaks removed), trimmed
}

// authHeaderFields splits the header section the way go-msgauth's verifier
// does: every line up to the first empty one, continuation lines joined.
// Lines without a colon are kept with an empty value (they name no field we
// look at). Over-long sections are not a concern: data is capped.
func authHeaderFields(data []byte) []authField {
	var fields []authField
	var cur []byte
	flush := func() {
		if cur == nil {
			return
		}
		name, value, _ := strings.Cut(string(cur), ":")
		fields = append(fields, authField{strings.TrimSpace(name), strings.TrimSpace(value)})
		cur = nil
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && cur != nil {
			cur = append(cur, line...)
			continue
		}
		flush()
		cur = append([]byte{}, line...)
	}
	flush()
	return fields
}

// checkFromHeader requires exactly one From header whose addresses are all in
// fromDomain; it returns the problem, or "".
func checkFromHeader(fields []authField, fromDomain string) string {
	var from []string
	for _, f := range fields {
		if strings.EqualFold(f.name, "From") {
			from = append(from, f.value)
		}
	}
	switch len(from) {
	case 0:
		return "no From header"
	case 1:
	default:
		return fmt.Sprintf("%d From headers", len(from))
	}
	addrs := ParseAddressList(from[0])
	if len(addrs) == 0 {
		return "no address in From header"
	}
	for _, a := range addrs {
		at := strings.LastIndexByte(a.Email, '@')
		if d := a.Email[at+1:]; d != fromDomain {
			return fmt.Sprintf("From header domain %s is not %s", d, fromDomain)
		}
	}
	return ""
}

// verifyDKIMAligned runs go-msgauth's verifier bounded by ctx and reports
// whether one signature verifies with d= aligned to fromDomain.
func verifyDKIMAligned(ctx context.Context, data []byte, fromDomain string, opt AuthOptions) (bool, string) {
	type outcome struct {
		verifs []*dkim.Verification
		err    error
	}
	lookup := opt.LookupTXT
	if lookup == nil {
		lookup = net.DefaultResolver.LookupTXT
	}
	done := make(chan outcome, 1) // buffered: a late goroutine never blocks
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: fmt.Errorf("verifier panicked: %v", p)}
			}
		}()
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
			LookupTXT:        func(domain string) ([]string, error) { return lookupDKIMKey(ctx, lookup, domain) },
			MaxVerifications: opt.MaxSignatures,
		})
		done <- outcome{vs, err}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-ctx.Done():
		return false, "dkim=temperror (verification timed out: " + ctx.Err().Error() + ")"
	}
	if out.err != nil && !errors.Is(out.err, dkim.ErrTooManySignatures) {
		return false, "dkim=permerror (" + out.err.Error() + ")"
	}
	if len(out.verifs) == 0 {
		return false, "no signature"
	}
	var notes []string
	for _, v := range out.verifs {
		if v == nil {
			continue
		}
		d := strings.ToLower(v.Domain)
		switch {
		case v.Err != nil:
			kind := "fail"
			if dkim.IsTempFail(v.Err) {
				kind = "temperror"
			} else if dkim.IsPermFail(v.Err) {
				kind = "permerror"
			}
			notes = append(notes, fmt.Sprintf("dkim=%s d=%s (%s)", kind, d, strings.TrimPrefix(v.Err.Error(), "dkim: ")))
		case !domainAligned(d, fromDomain):
			notes = append(notes, fmt.Sprintf("dkim=pass d=%s (not aligned with %s)", d, fromDomain))
		default:
			return true, "dkim=pass d=" + d
		}
	}
	if errors.Is(out.err, dkim.ErrTooManySignatures) {
		notes = append(notes, fmt.Sprintf("signatures after the first %d ignored", opt.MaxSignatures))
	}
	return false, strings.Join(notes, ", ")
}

// errLookupTimeout is a temporary net.Error so that go-msgauth reports a
// temperror when ctx runs out during a lookup.
type errLookupTimeout struct{ err error }

func (e errLookupTimeout) Error() string   { return "DNS lookup: " + e.err.Error() }
func (e errLookupTimeout) Timeout() bool   { return true }
func (e errLookupTimeout) Temporary() bool { return true }

// lookupDKIMKey looks up a key record with ctx and drops records holding RSA
// keys shorter than 1024 bits (RFC 8301 §3.2), which then count as no key.
func lookupDKIMKey(ctx context.Context, lookup func(context.Context, string) ([]string, error), domain string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, errLookupTimeout{err}
	}
	txts, err := lookup(ctx, domain)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errLookupTimeout{err}
		}
		return nil, err
	}
	var ok []string
	weak := false
	for _, t := range txts {
		if weakRSAKeyRecord(t) {
			weak = true
			continue
		}
		ok = append(ok, t)
	}
	if len(ok) == 0 && weak {
		return nil, errors.New("RSA key shorter than 1024 bits")
	}
	return ok, nil
}

// weakRSAKeyRecord reports whether a DKIM key record holds an RSA key shorter
// than 1024 bits. Unparseable records are left to go-msgauth.
func weakRSAKeyRecord(rec string) bool {
	var k, p string
	for _, tag := range strings.Split(rec, ";") {
		name, val, _ := strings.Cut(tag, "=")
		switch strings.TrimSpace(name) {
		case "k":
			k = strings.TrimSpace(val)
		case "p":
			p = strings.Join(strings.Fields(val), "")
		}
	}
	if (k != "" && k != "rsa") || p == "" {
		return false
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return false
	}
	var pub *rsa.PublicKey
	if key, err := x509.ParsePKIXPublicKey(der); err == nil {
		pub, _ = key.(*rsa.PublicKey)
	} else if key, err := x509.ParsePKCS1PublicKey(der); err == nil {
		pub = key
	}
	return pub != nil && pub.N.BitLen() < 1024
}

// checkAuthResults looks at the topmost Authentication-Results header only.
func checkAuthResults(fields []authField, fromDomain string, trusted []string) (bool, string) {
	var value string
	found := false
	for _, f := range fields {
		if strings.EqualFold(f.name, "Authentication-Results") {
			value, found = f.value, true
			break
		}
	}
	if !found {
		return false, ""
	}
	id, results, err := authres.Parse(stripARComments(value))
	id = strings.ToLower(strings.TrimSpace(id))
	isTrusted := false
	for _, t := range trusted {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" && t == id {
			isTrusted = true
			break
		}
	}
	if id == "" {
		return false, "unparseable Authentication-Results (no authserv-id)"
	}
	if !isTrusted {
		return false, "untrusted Authentication-Results from " + authClip(id, 80)
	}
	if err != nil {
		return false, fmt.Sprintf("unparseable Authentication-Results from %s: %v", id, err)
	}
	var dmarcPass, dmarcOther, dkimPass bool
	var seen []string
	for _, r := range results {
		switch r := r.(type) {
		case *authres.DMARCResult:
			seen = append(seen, "dmarc="+string(r.Value))
			hf := r.From
			if at := strings.LastIndexByte(hf, '@'); at >= 0 {
				hf = hf[at+1:]
			}
			if r.Value == authres.ResultPass && (hf == "" || authDomain(hf) == fromDomain) {
				dmarcPass = true
			} else {
				dmarcOther = true
			}
		case *authres.DKIMResult:
			d := r.Domain
			if d == "" {
				if at := strings.LastIndexByte(r.Identifier, '@'); at >= 0 {
					d = r.Identifier[at+1:]
				}
			}
			if d == "" {
				seen = append(seen, "dkim="+string(r.Value))
			} else {
				seen = append(seen, fmt.Sprintf("dkim=%s header.d=%s", r.Value, authClip(strings.ToLower(d), 80)))
			}
			if r.Value == authres.ResultPass && domainAligned(d, fromDomain) {
				dkimPass = true
			}
		}
	}
	summary := strings.Join(seen, " ")
	if summary == "" {
		summary = "no dkim or dmarc result"
	}
	pass := !dmarcOther && (dmarcPass || dkimPass)
	verdict := "not a pass for " + fromDomain
	if pass {
		verdict = "pass"
	}
	return pass, fmt.Sprintf("trusted Authentication-Results from %s: %s (%s)", id, authClip(summary, 200), verdict)
}

// stripARComments removes RFC 5322 comments (nested, outside quoted strings)
// so that a ";" or "=" inside a comment cannot confuse authres.Parse.
func stripARComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case quoted:
			b.WriteByte(c)
			if c == '"' {
				quoted = false
			}
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth > 0:
		case c == '"':
			quoted = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func authClip(s string, n int) string {
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
