package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

func want[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// testDKIMKey makes a signing key and its DNS TXT record.
func testDKIMKey(t *testing.T) (crypto.Signer, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
}

// dkimSign signs a mail (LF line ends are turned into CRLF first, as ingest
// of the test mail will see them).
func dkimSign(t *testing.T, raw, domain, selector string, key crypto.Signer) string {
	t.Helper()
	raw = strings.ReplaceAll(strings.TrimLeft(raw, "\n"), "\n", "\r\n")
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(raw), &dkim.SignOptions{Domain: domain, Selector: selector, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// fakeTXT is a DNS stand-in serving the given TXT records.
func fakeTXT(records map[string]string) func(context.Context, string) ([]string, error) {
	return func(_ context.Context, name string) ([]string, error) {
		if r, ok := records[strings.TrimSuffix(name, ".")]; ok {
			return []string{r}, nil
		}
		return nil, fmt.Errorf("no TXT record for %s", name)
	}
}
