package mailout

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/idna"
)

// DKIMOptions configure signing of outbound mail (RFC 6376).
type DKIMOptions struct {
	Domain   string        // d=; an IDN is written as punycode
	Selector string        // s=
	Signer   crypto.Signer // from LoadDKIMKey: *rsa.PrivateKey or ed25519.PrivateKey
}

// dkimHeaders are the fields signed. RFC 6376 §5.4: a listed field that is
// absent is signed as absent, so it cannot be added later. RFC 8058 §4:
// List-Unsubscribe and List-Unsubscribe-Post must be signed.
var dkimHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
	"Reply-To", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Auto-Submitted", "List-Unsubscribe", "List-Unsubscribe-Post",
}

// minRSABits is the smallest RSA key RFC 8301 §3.2 lets a signer use.
const minRSABits = 1024

// LoadDKIMKey reads a PEM private key: PKCS#1 RSA ("RSA PRIVATE KEY") or
// PKCS#8 RSA or Ed25519 ("PRIVATE KEY").
func LoadDKIMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mailout: dkim key: %w", err)
	}
	k, err := parseDKIMKey(b)
	if err != nil {
		return nil, fmt.Errorf("mailout: dkim key %s: %w", path, err)
	}
	return k, nil
}

func parseDKIMKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block (want a PEM \"PRIVATE KEY\" or \"RSA PRIVATE KEY\")")
	}
	var key any
	var err error
	switch blk.Type {
	case "RSA PRIVATE KEY":
		if _, enc := blk.Headers["DEK-Info"]; enc {
			return nil, errors.New("encrypted PEM keys are not supported; store the key unencrypted with mode 0600")
		}
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted PKCS#8 keys are not supported; store the key unencrypted with mode 0600")
	case "EC PRIVATE KEY":
		return nil, errors.New("ECDSA keys cannot sign DKIM (RFC 6376, RFC 8463): use RSA or Ed25519")
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("PEM block %q is not a private key", blk.Type)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", blk.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too short (RFC 8301 §3.2: at least %d, 2048 recommended)", n, minRSABits)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("key type %T cannot sign DKIM: use RSA or Ed25519", key)
	}
}

// Sign returns msg with a DKIM-Signature field prepended, relaxed/relaxed
// canonicalization, SHA-256.
func Sign(msg []byte, o DKIMOptions) ([]byte, error) {
	if o.Domain == "" || o.Selector == "" || o.Signer == nil {
		return nil, errors.New("mailout: dkim: domain, selector and key are required")
	}
	domain, err := idna.Lookup.ToASCII(o.Domain)
	if err != nil {
		return nil, fmt.Errorf("mailout: dkim: domain %q: %w", o.Domain, err)
	}
	var out bytes.Buffer
	err = dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain:                 domain,
		Selector:               o.Selector,
		Signer:                 o.Signer,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             dkimHeaders,
	})
	if err != nil {
		return nil, fmt.Errorf("mailout: dkim: %w", err)
	}
	return out.Bytes(), nil
}
