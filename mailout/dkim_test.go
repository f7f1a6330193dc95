package mailout

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimRecord returns the DNS TXT record publishing k's public key.
func dkimRecord(t *testing.T, k crypto.Signer) string {
	t.Helper()
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	t.Fatalf("key type %T", k)
	return ""
}

func verify(t *testing.T, msg []byte, record string) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "tk1._domainkey.example.com" {
				return nil, fmt.Errorf("no TXT for %s", domain)
			}
			return []string{record}, nil
		},
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return vs
}

func TestSignVerify(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"rsa": rsaKey, "ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			m := testMail()
			m.Subject = "[REQ-1001] Heizung im Büro defekt"
			m.To = Address{Email: "anna.mueller@example.org", Name: "Müller, Anna"}
			msg := compose(t, m, testOptions())
			signed, err := Sign(msg, DKIMOptions{Domain: "example.com", Selector: "tk1", Signer: key})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(signed, []byte("DKIM-Signature: ")) || !bytes.HasSuffix(signed, msg) {
				t.Fatalf("signed message is not the signature plus the message")
			}
			vs := verify(t, signed, dkimRecord(t, key))
			if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.com" {
				t.Fatalf("verification %+v", vs[0])
			}
			signedKeys := strings.ToLower(strings.Join(vs[0].HeaderKeys, ":"))
			for _, k := range []string{"from", "to", "subject", "date", "message-id", "in-reply-to",
				"references", "reply-to", "mime-version", "content-type", "list-unsubscribe", "list-unsubscribe-post"} {
				if !strings.Contains(":"+signedKeys+":", ":"+k+":") {
					t.Errorf("%s not signed (h=%s)", k, signedKeys)
				}
			}
			sig := string(signed[:bytes.Index(signed, []byte("\r\nDate:"))])
			if !strings.Contains(sig, "c=relaxed/relaxed") {
				t.Errorf("canonicalization not relaxed/relaxed: %s", sig)
			}

			// A changed subject or recipient no longer verifies.
			for what, tampered := range map[string][]byte{
				"subject": bytes.Replace(signed, []byte("Subject:"), []byte("Subject: x"), 1),
				"to":      bytes.Replace(signed, []byte("anna.mueller@"), []byte("eve.mueller@"), 1),
			} {
				if bytes.Equal(tampered, signed) {
					t.Fatalf("%s: nothing replaced", what)
				}
				if vs := verify(t, tampered, dkimRecord(t, key)); vs[0].Err == nil {
					t.Errorf("tampered %s still verifies", what)
				}
			}
		})
	}
}

func TestSignTamperedBody(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signed, err := Sign(compose(t, testMail(), testOptions()), DKIMOptions{Domain: "example.com", Selector: "tk1", Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(signed, []byte("plumber"), []byte("plunder"), 1)
	if vs := verify(t, tampered, dkimRecord(t, key)); vs[0].Err == nil {
		t.Error("tampered body still verifies")
	}
}

func TestSignErrors(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	msg := compose(t, testMail(), testOptions())
	for name, o := range map[string]DKIMOptions{
		"no domain":   {Selector: "s", Signer: key},
		"no selector": {Domain: "example.com", Signer: key},
		"no key":      {Domain: "example.com", Selector: "s"},
	} {
		if _, err := Sign(msg, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDKIMKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())

	for _, tc := range []struct {
		name    string
		path    string
		want    crypto.PublicKey
		wantErr string
	}{
		{"pkcs1 rsa", writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaKey.Public(), ""},
		{"pkcs8 rsa", writePEM(t, "PRIVATE KEY", pkcs8(rsaKey)), rsaKey.Public(), ""},
		{"pkcs8 ed25519", writePEM(t, "PRIVATE KEY", pkcs8(edKey)), edKey.Public(), ""},
		{"pkcs8 ecdsa", writePEM(t, "PRIVATE KEY", pkcs8(ecKey)), nil, "use RSA or Ed25519"},
		{"sec1 ecdsa", writePEM(t, "EC PRIVATE KEY", ecDER), nil, "ECDSA"},
		{"public key", writePEM(t, "PUBLIC KEY", pubDER), nil, "not a private key"},
		{"encrypted", writePEM(t, "ENCRYPTED PRIVATE KEY", []byte{1}), nil, "encrypted"},
		{"garbage der", writePEM(t, "PRIVATE KEY", []byte("nope")), nil, "dkim key"},
		{"not pem", func() string {
			p := filepath.Join(t.TempDir(), "k")
			os.WriteFile(p, []byte("hello"), 0o600)
			return p
		}(), nil, "no PEM block"},
		{"missing", filepath.Join(t.TempDir(), "absent.pem"), nil, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadDKIMKey(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(tc.want) {
				t.Errorf("loaded key does not match")
			}
		})
	}
}
