package mailin

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// signForTest DKIM-signs raw for domain/selector with key (relaxed/relaxed,
// From, To, Subject, Date and Message-ID signed) and returns the message with
// the DKIM-Signature header on top. The header uses the line ending of raw,
// so an LF-only message stays LF-only. Serve the key with txtRecordForTest
// from a fake LookupTXT at selector+"._domainkey."+domain.
func signForTest(t testing.TB, raw []byte, domain, selector string, key crypto.Signer) []byte {
	t.Helper()
	return signForTestCanon(t, raw, domain, selector, key, dkim.CanonicalizationRelaxed)
}

func signForTestCanon(t testing.TB, raw []byte, domain, selector string, key crypto.Signer, can dkim.Canonicalization) []byte {
	t.Helper()
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 domain,
		Selector:               selector,
		Signer:                 key,
		HeaderCanonicalization: can,
		BodyCanonicalization:   can,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sig := s.Signature()
	if !bytes.Contains(raw, []byte("\r\n")) {
		sig = strings.ReplaceAll(sig, "\r\n", "\n")
	}
	return append([]byte(sig), raw...)
}

// txtRecordForTest is the DKIM key record ("v=DKIM1; k=…; p=…") for an RSA
// or Ed25519 public key.
func txtRecordForTest(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k)
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			panic(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
}

// authFakeDNS is a LookupTXT serving fixed records; unknown names are NXDOMAIN.
type authFakeDNS map[string][]string

func (f authFakeDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if txt, ok := f[strings.ToLower(name)]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func authTestMail(from, body string, crlf bool) []byte {
	s := "From: Alice <" + from + ">\n" +
		"To: maintenance@tikkit.example\n" +
		"Subject: Leaking tap in room 12\n" +
		"Date: Mon, 2 Mar 2026 09:00:00 +0100\n" +
		"Message-ID: <a1@" + from[strings.LastIndexByte(from, '@')+1:] + ">\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: text/plain; charset=utf-8\n" +
		"\n" + body
	if crlf {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	return []byte(s)
}

func authPrepend(hdr string, raw []byte) []byte {
	if bytes.Contains(raw, []byte("\r\n")) {
		hdr = strings.ReplaceAll(hdr, "\n", "\r\n")
	}
	return append([]byte(hdr), raw...)
}

func TestAuthenticate(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A 512-bit modulus is enough to publish; nobody can sign with it here.
	weakN := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 511), big.NewInt(0x1235))
	weakRec := txtRecordForTest(&rsa.PublicKey{N: weakN, E: 65537})

	const campus = "campus.example.edu"
	dns := authFakeDNS{
		"s1._domainkey.campus.example.edu":      {txtRecordForTest(rsaKey.Public())},
		"ed._domainkey.campus.example.edu":      {txtRecordForTest(edKey.Public())},
		"s1._domainkey.other.example":           {txtRecordForTest(rsaKey.Public())},
		"s1._domainkey.mail.campus.example.edu": {txtRecordForTest(rsaKey.Public())},
		"s1._domainkey.b.campus.example.edu":    {txtRecordForTest(rsaKey.Public())},
		"s1._domainkey.example.edu":             {txtRecordForTest(rsaKey.Public())},
		"s1._domainkey.co.uk":                   {txtRecordForTest(rsaKey.Public())},
		"s1._domainkey.xn--bcher-kva.example":   {txtRecordForTest(rsaKey.Public())},
		"weak._domainkey.campus.example.edu":    {weakRec},
	}
	trusted := []string{"MX.Campus.Example.EDU"}

	body := "Hello,\n\nthe tap in room 12 is leaking.\n\nAlice\n"
	crlfMail := authTestMail("alice@campus.example.edu", body, true)
	lfMail := authTestMail("alice@campus.example.edu", body, false)
	signed := signForTest(t, crlfMail, campus, "s1", rsaKey)
	unsigned := crlfMail

	// Domain-level mutations of a signed message.
	bodyChanged := append(append([]byte{}, signed...), []byte("P.S. also send the keys to mallory@evil.example\r\n")...)
	fromChanged := bytes.Replace(signed, []byte("alice@campus.example.edu>"), []byte("bob@campus.example.edu>"), 1)
	twoFroms := authPrepend("From: Dean <dean@campus.example.edu>\n", signed)
	withL := bytes.Replace(signed, []byte("DKIM-Signature: "), []byte("DKIM-Signature: l=10; "), 1)

	tempDNS := func(ctx context.Context, name string) ([]string, error) {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	hangIgnoringCtx := func(ctx context.Context, name string) ([]string, error) {
		time.Sleep(5 * time.Second)
		return nil, errors.New("too late")
	}
	hangWithCtx := func(ctx context.Context, name string) ([]string, error) {
		<-ctx.Done()
		return nil, &net.DNSError{Err: ctx.Err().Error(), Name: name, IsTimeout: true}
	}
	panicDNS := func(ctx context.Context, name string) ([]string, error) { panic("resolver bug") }

	arDMARCPass := "Authentication-Results: mx.campus.example.edu;\n\tdkim=none;\n\tspf=pass smtp.mailfrom=campus.example.edu;\n\tdmarc=pass (p=reject dis=none) header.from=campus.example.edu\n"

	tests := []struct {
		name       string
		raw        []byte
		from       string
		lookup     func(context.Context, string) ([]string, error)
		timeout    time.Duration
		maxSigs    int
		wantDKIM   bool
		wantPass   bool
		wantDetail string // substring of Detail
	}{
		{name: "valid aligned signature", raw: signed, from: campus, wantDKIM: true, wantDetail: "dkim=pass d=campus.example.edu"},
		{name: "from domain given in upper case and with dot", raw: signed, from: "Campus.Example.EDU.", wantDKIM: true},
		{name: "ed25519 signature", raw: signForTest(t, crlfMail, campus, "ed", edKey), from: campus, wantDKIM: true},
		{name: "CRLF simple/simple", raw: signForTestCanon(t, crlfMail, campus, "s1", rsaKey, dkim.CanonicalizationSimple), from: campus, wantDKIM: true},
		{name: "LF-only relaxed/relaxed", raw: signForTest(t, lfMail, campus, "s1", rsaKey), from: campus, wantDKIM: true},
		{name: "LF-only simple/simple", raw: signForTestCanon(t, lfMail, campus, "s1", rsaKey, dkim.CanonicalizationSimple), from: campus, wantDKIM: true},
		{name: "mbox From_ line before signed message", raw: append([]byte("From alice@campus.example.edu Mon Mar  2 09:00:00 2026\r\n"), signed...), from: campus, wantDKIM: true},
		{name: "body modified after signing", raw: bodyChanged, from: campus, wantDetail: "body hash did not verify"},
		{name: "From changed after signing", raw: fromChanged, from: campus, wantDetail: "signature did not verify"},
		{name: "second From header prepended", raw: twoFroms, from: campus, wantDetail: "2 From headers"},
		{name: "From header domain differs from fromDomain", raw: signed, from: "other.example", wantDetail: "From header domain campus.example.edu is not other.example"},
		{name: "signature by another domain", raw: signForTest(t, crlfMail, "other.example", "s1", rsaKey), from: campus, wantDetail: "dkim=pass d=other.example (not aligned with campus.example.edu)"},
		{name: "From subdomain of d=", raw: signForTest(t, authTestMail("alice@mail.campus.example.edu", body, true), campus, "s1", rsaKey), from: "mail.campus.example.edu", wantDKIM: true},
		{name: "d= subdomain of From", raw: signForTest(t, crlfMail, "mail.campus.example.edu", "s1", rsaKey), from: campus, wantDKIM: true},
		{name: "d= two-label parent", raw: signForTest(t, crlfMail, "example.edu", "s1", rsaKey), from: campus, wantDKIM: true},
		{name: "sibling domains do not align", raw: signForTest(t, authTestMail("alice@a.campus.example.edu", body, true), "b.campus.example.edu", "s1", rsaKey), from: "a.campus.example.edu", wantDetail: "not aligned"},
		{name: "public suffix d= does not align", raw: signForTest(t, authTestMail("alice@shop.co.uk", body, true), "co.uk", "s1", rsaKey), from: "shop.co.uk", wantDetail: "not aligned"},
		{name: "IDN From domain, punycode d=", raw: signForTest(t, authTestMail("alice@bücher.example", body, true), "xn--bcher-kva.example", "s1", rsaKey), from: "Bücher.example", wantDKIM: true, wantDetail: "d=xn--bcher-kva.example"},
		{name: "unaligned then aligned signature", raw: signForTest(t, signForTest(t, crlfMail, campus, "s1", rsaKey), "other.example", "s1", rsaKey), from: campus, wantDKIM: true},
		{name: "aligned signature beyond MaxSignatures", raw: signForTest(t, signForTest(t, crlfMail, campus, "s1", rsaKey), "other.example", "s1", rsaKey), from: campus, maxSigs: 1, wantDetail: "signatures after the first 1 ignored"},
		{name: "l= body length tag", raw: withL, from: campus, wantDetail: "body length"},
		{name: "RSA key under 1024 bits", raw: signForTest(t, crlfMail, campus, "weak", rsaKey), from: campus, wantDetail: "shorter than 1024 bits"},
		{name: "no signature", raw: unsigned, from: campus, wantDetail: "no signature"},
		{name: "key not in DNS", raw: signForTest(t, crlfMail, campus, "nokey", rsaKey), from: campus, wantDetail: "dkim=permerror d=campus.example.edu (no key for signature"},
		{name: "DNS temporary error", raw: signed, from: campus, lookup: tempDNS, wantDetail: "dkim=temperror d=campus.example.edu (key unavailable"},
		{name: "DNS hangs, ignores context", raw: signed, from: campus, lookup: hangIgnoringCtx, timeout: 150 * time.Millisecond, wantDetail: "timed out"},
		{name: "DNS hangs until context ends", raw: signed, from: campus, lookup: hangWithCtx, timeout: 150 * time.Millisecond, wantDetail: "temperror"},
		{name: "resolver panics", raw: signed, from: campus, lookup: panicDNS, wantDetail: "panicked"},

		{name: "trusted topmost AR dmarc=pass", raw: authPrepend(arDMARCPass, unsigned), from: campus, wantPass: true, wantDetail: "trusted Authentication-Results from mx.campus.example.edu"},
		{name: "trusted AR with version and aligned dkim=pass", raw: authPrepend("Authentication-Results: mx.campus.example.edu 1; dkim=pass (2048-bit key; unprotected) header.d=campus.example.edu header.s=s1\n", unsigned), from: campus, wantPass: true},
		{name: "trusted AR dkim=pass header.i only", raw: authPrepend("Authentication-Results: mx.campus.example.edu; dkim=pass header.i=@mail.campus.example.edu\n", unsigned), from: campus, wantPass: true},
		{name: "same AR from untrusted authserv-id", raw: authPrepend(strings.Replace(arDMARCPass, "mx.campus.example.edu", "mx.evil", 1), unsigned), from: campus, wantDetail: "untrusted Authentication-Results from mx.evil"},
		{name: "forged trusted AR below the real one", raw: authPrepend("Authentication-Results: mx.campus.example.edu; dkim=none; dmarc=none header.from=campus.example.edu\n"+arDMARCPass, unsigned), from: campus, wantDetail: "dmarc=none"},
		{name: "trusted AR below an untrusted topmost one", raw: authPrepend("Authentication-Results: mx.evil; dmarc=pass\n"+arDMARCPass, unsigned), from: campus, wantDetail: "untrusted"},
		{name: "trusted AR dkim=pass for another domain", raw: authPrepend("Authentication-Results: mx.campus.example.edu; dkim=pass header.d=other.example\n", unsigned), from: campus, wantDetail: "not a pass for campus.example.edu"},
		{name: "trusted AR dmarc=pass for another From domain", raw: authPrepend("Authentication-Results: mx.campus.example.edu; dmarc=pass header.from=other.example\n", unsigned), from: campus, wantDetail: "not a pass"},
		{name: "trusted AR dmarc=fail vetoes aligned dkim=pass", raw: authPrepend("Authentication-Results: mx.campus.example.edu; dkim=pass header.d=campus.example.edu; dmarc=fail header.from=campus.example.edu\n", unsigned), from: campus, wantDetail: "not a pass"},
		{name: "pass hidden in a comment", raw: authPrepend("Authentication-Results: mx.campus.example.edu; dmarc=fail (forged; dmarc=pass) header.from=campus.example.edu\n", unsigned), from: campus, wantDetail: "dmarc=fail"},
		{name: "garbage AR", raw: authPrepend("Authentication-Results: mx.campus.example.edu; %%%garbage;;; ===\n", unsigned), from: campus, wantDetail: "unparseable"},
		{name: "AR with unsupported version", raw: authPrepend("Authentication-Results: mx.campus.example.edu 2; dmarc=pass\n", unsigned), from: campus, wantDetail: "unparseable"},
		{name: "empty AR", raw: authPrepend("Authentication-Results:\n", unsigned), from: campus, wantDetail: "unparseable"},
		{name: "AR in the body does not count", raw: append(append([]byte{}, unsigned...), []byte("\r\n"+arDMARCPass)...), from: campus, wantDetail: "no signature"},

		{name: "empty message", raw: nil, from: campus},
		{name: "header only, no blank line", raw: []byte("From: alice@campus.example.edu"), from: campus},
		{name: "binary junk", raw: []byte("\x00\xff\r\n\r\n\x00"), from: campus, wantDetail: "no From header"},
		{name: "no from domain", raw: signed, from: "", wantDetail: "no usable From domain"},
		{name: "bad from domain", raw: signed, from: "a@b", wantDetail: "no usable From domain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := AuthOptions{
				TrustedAuthservIDs: trusted,
				LookupTXT:          dns.LookupTXT,
				Timeout:            tc.timeout,
				MaxSignatures:      tc.maxSigs,
			}
			if tc.lookup != nil {
				opt.LookupTXT = tc.lookup
			}
			limit := 5 * time.Second
			if tc.timeout > 0 {
				limit = tc.timeout + time.Second
			}
			start := time.Now()
			res := Authenticate(context.Background(), bytes.NewReader(tc.raw), tc.from, opt)
			if d := time.Since(start); d > limit {
				t.Errorf("took %v, want under %v", d, limit)
			}
			t.Logf("%+v", res)
			if res.DKIMAligned != tc.wantDKIM || res.TrustedPass != tc.wantPass {
				t.Errorf("DKIMAligned=%v TrustedPass=%v, want %v %v (detail %q)", res.DKIMAligned, res.TrustedPass, tc.wantDKIM, tc.wantPass, res.Detail)
			}
			if res.Authenticated() != (tc.wantDKIM || tc.wantPass) {
				t.Errorf("Authenticated()=%v", res.Authenticated())
			}
			if res.Detail == "" {
				t.Errorf("empty Detail")
			}
			if !strings.Contains(res.Detail, tc.wantDetail) {
				t.Errorf("Detail %q, want it to contain %q", res.Detail, tc.wantDetail)
			}
		})
	}
}

func TestAuthenticateFromDomainNormalised(t *testing.T) {
	res := Authenticate(context.Background(), strings.NewReader(""), "BÜCHER.example.", AuthOptions{})
	if res.FromDomain != "xn--bcher-kva.example" {
		t.Errorf("FromDomain = %q", res.FromDomain)
	}
}

// A cancelled parent context ends verification at once.
func TestAuthenticateCancelledContext(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	raw := signForTest(t, authTestMail("alice@campus.example.edu", "hi\n", true), "campus.example.edu", "s1", key)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Authenticate(ctx, bytes.NewReader(raw), "campus.example.edu", AuthOptions{
		LookupTXT: func(ctx context.Context, name string) ([]string, error) {
			return []string{txtRecordForTest(key.Public())}, nil
		},
	})
	if res.Authenticated() {
		t.Fatalf("authenticated with a cancelled context: %+v", res)
	}
}

// The read is capped; the headers of an oversize message are still checked.
func TestAuthenticateOversize(t *testing.T) {
	head := "Authentication-Results: mx.campus.example.edu; dmarc=pass header.from=campus.example.edu\r\n" +
		string(authTestMail("alice@campus.example.edu", "", true))
	r := &authCountingReader{r: io.MultiReader(strings.NewReader(head), io.LimitReader(authFiller{}, 2*MaxAuthBytes))}
	res := Authenticate(context.Background(), r, "campus.example.edu", AuthOptions{TrustedAuthservIDs: []string{"mx.campus.example.edu"}})
	if !res.TrustedPass || res.DKIMAligned || !strings.Contains(res.Detail, "DKIM not verified") {
		t.Errorf("%+v", res)
	}
	if r.n > MaxAuthBytes+1 {
		t.Errorf("read %d bytes, cap is %d", r.n, MaxAuthBytes)
	}
}

type authFiller struct{}

func (authFiller) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

type authCountingReader struct {
	r io.Reader
	n int
}

func (c *authCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestDomainAligned(t *testing.T) {
	for _, tc := range []struct {
		d, from string
		want    bool
	}{
		{"campus.example.edu", "campus.example.edu", true},
		{"CAMPUS.example.edu.", "campus.example.edu", true},
		{"campus.example.edu", "mail.campus.example.edu", true},
		{"mail.campus.example.edu", "campus.example.edu", true},
		{"example.edu", "campus.example.edu", true},
		{"edu", "campus.example.edu", false},
		{"co.uk", "shop.co.uk", false},
		{"evil.co.uk", "co.uk", false},
		{"a.campus.example.edu", "b.campus.example.edu", false},
		{"xcampus.example.edu", "campus.example.edu", false},
		{"other.example", "campus.example.edu", false},
		{"", "campus.example.edu", false},
	} {
		if got := domainAligned(tc.d, tc.from); got != tc.want {
			t.Errorf("domainAligned(%q, %q) = %v, want %v", tc.d, tc.from, got, tc.want)
		}
	}
}
