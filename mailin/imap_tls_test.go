package mailin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a self-signed CA made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// serverFiles issues a certificate for 127.0.0.1 and writes it and its key
// as PEM files in dir, for Dovecot's ssl_cert and ssl_key.
func (ca *testCA) serverFiles(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Implicit TLS and STARTTLS against Dovecot with a certificate from a test
// CA: trusted, the poller ingests; with another CA it fails at step "tls",
// saying why, and ingests nothing.
func TestIMAPTLS(t *testing.T) {
	_, names := caseFiles(t)
	ca := newTestCA(t, "tikkit test CA")
	other := newTestCA(t, "some other CA")
	cert, key := ca.serverFiles(t, t.TempDir())
	dc := startDovecot(t, withTLS(cert, key))
	dc.save("INBOX", readCase(t, names[0]))
	for _, mode := range []string{"implicit", "starttls"} {
		acc := dc.account()
		acc.Existing = "all" // each subtest is a new tikkit reading the same, already read, message
		acc.TLS = mode
		if mode == "implicit" {
			acc.Host = dc.tlsAddr
		}
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, "imap", nil)
			acc.TLSConfig = &tls.Config{RootCAs: ca.pool}
			if n := pollOnce(t, newPoller(h, acc)); n != 1 {
				t.Errorf("committed %d, want 1", n)
			}
			if rs := h.requests(); len(rs) != 1 {
				t.Errorf("%d requests, want 1", len(rs))
			}
		})
		t.Run(mode+"/wrong CA", func(t *testing.T) {
			h := newHarness(t, "imap", nil)
			acc.TLSConfig = &tls.Config{RootCAs: other.pool}
			p := newPoller(h, acc)
			_, err := p.PollOnce(context.Background())
			var ie *IMAPError
			if !errors.As(err, &ie) || ie.Step != "tls" {
				t.Fatalf("PollOnce: %v; want an IMAPError at step tls", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "imap: tls "+acc.Host+": ") ||
				!strings.Contains(msg, "certificate signed by unknown authority") {
				t.Errorf("error %q does not say clearly that the certificate is not trusted", msg)
			}
			if rs := h.requests(); len(rs) != 0 {
				t.Errorf("%d requests over an untrusted connection", len(rs))
			}
			if st := p.Status(); st.Connected || st.Errors != 1 {
				t.Errorf("Status = %+v", st)
			}
			t.Logf("%v", err)
		})
	}
}
