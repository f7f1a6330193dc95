package mailout

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// relayConfig describes a test relay: a real go-smtp server on loopback.
type relayConfig struct {
	tls      string // "" (plain), "starttls" or "implicit"
	user     string // AUTH required when set
	pass     string
	mechs    []string // default PLAIN
	smtputf8 bool
	onData   func(n int) error // after the n-th DATA is read; nil accepts (and records)
}

type gotMsg struct {
	from, to string
	data     []byte
}

type testRelay struct {
	cfg       relayConfig
	addr      string
	done      chan struct{} // closed at cleanup: blocked handlers give up
	dataCalls atomic.Int32
	mu        sync.Mutex
	got       []gotMsg
}

func (r *testRelay) messages() []gotMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gotMsg(nil), r.got...)
}

// count is how many accepted messages carry this Message-ID.
func (r *testRelay) count(msgid string) int {
	n := 0
	for _, m := range r.messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.data))
		if err == nil && strings.Trim(msg.Header.Get("Message-Id"), "<>") == msgid {
			n++
		}
	}
	return n
}

type testSession struct {
	r        *testRelay
	authed   bool
	from, to string
}

func (s *testSession) AuthMechanisms() []string {
	if s.r.cfg.user == "" {
		return nil
	}
	if len(s.r.cfg.mechs) == 0 {
		return []string{sasl.Plain}
	}
	return s.r.cfg.mechs
}

func (s *testSession) check(user, pass string) error {
	if user != s.r.cfg.user || pass != s.r.cfg.pass {
		return smtp.ErrAuthFailed
	}
	s.authed = true
	return nil
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return s.check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: s.check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if resp != nil {
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.cfg.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }

func (s *testSession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	n := int(s.r.dataCalls.Add(1))
	if s.r.cfg.onData != nil {
		if err := s.r.cfg.onData(n); err != nil {
			return err
		}
	}
	s.r.mu.Lock()
	s.r.got = append(s.r.got, gotMsg{from: s.from, to: s.to, data: b})
	s.r.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.from, s.to = "", "" }
func (s *testSession) Logout() error { return nil }

// startRelay runs a relay on 127.0.0.1:0 and returns it with a client TLS
// config that trusts its self-signed certificate.
func startRelay(t *testing.T, cfg relayConfig) (*testRelay, *tls.Config) {
	t.Helper()
	r := &testRelay{cfg: cfg, done: make(chan struct{})}
	serverTLS, clientTLS := testCerts(t)
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &testSession{r: r}, nil }))
	s.Domain = "relay.test"
	s.AllowInsecureAuth = cfg.tls == ""
	s.EnableSMTPUTF8 = cfg.smtputf8
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	switch cfg.tls {
	case "starttls":
		s.TLSConfig = serverTLS
	case "implicit":
		l = tls.NewListener(l, serverTLS)
	}
	go s.Serve(l)
	t.Cleanup(func() {
		close(r.done)
		s.Close()
	})
	return r, clientTLS
}

// testCerts makes a self-signed certificate for 127.0.0.1.
func testCerts(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tikkit test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
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
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}

func testMsg(msgid string) []byte {
	return []byte("From: Help <help@tikkit.test>\r\nTo: jane@example.org\r\nSubject: [REQ-1001] Leak\r\n" +
		"Message-ID: <" + msgid + ">\r\n\r\nWe have your request.\r\n")
}

func newRelay(t *testing.T, o RelayOptions) *Relay {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	r, err := NewRelay(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRelayAuthPlainPasswordFile(t *testing.T) {
	tr, _ := startRelay(t, relayConfig{user: "tikkit", pass: "s3cret pass"})
	pwFile := filepath.Join(t.TempDir(), "relay-password")
	if err := os.WriteFile(pwFile, []byte("s3cret pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none", Username: "tikkit", PasswordFile: pwFile})
	if err := r.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg("a@tikkit.test")); err != nil {
		t.Fatal(err)
	}
	got := tr.messages()
	if len(got) != 1 || got[0].from != "help@tikkit.test" || got[0].to != "jane@example.org" || tr.count("a@tikkit.test") != 1 {
		t.Errorf("relay got %+v", got)
	}
}

func TestRelayAuthLoginPasswordEnv(t *testing.T) {
	tr, _ := startRelay(t, relayConfig{user: "tikkit", pass: "from-env", mechs: []string{sasl.Login}})
	t.Setenv("TIKKIT_TEST_RELAY_PASSWORD", "from-env")
	r := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none", Username: "tikkit", PasswordEnv: "TIKKIT_TEST_RELAY_PASSWORD"})
	if err := r.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg("b@tikkit.test")); err != nil {
		t.Fatal(err)
	}
	if tr.count("b@tikkit.test") != 1 {
		t.Error("not delivered")
	}
}

func TestRelayWrongPasswordIsPermanent(t *testing.T) {
	tr, _ := startRelay(t, relayConfig{user: "tikkit", pass: "right"})
	t.Setenv("TIKKIT_TEST_RELAY_PASSWORD", "wrong")
	r := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none", Username: "tikkit", PasswordEnv: "TIKKIT_TEST_RELAY_PASSWORD"})
	err := r.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg("c@tikkit.test"))
	if err == nil || Temporary(err) {
		t.Fatalf("err = %v, want a permanent failure", err)
	}
	for _, want := range []string{"AUTH PLAIN", `authentication as "tikkit" failed`, "TIKKIT_TEST_RELAY_PASSWORD", "535"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q shows the password", err)
	}
	if len(tr.messages()) != 0 {
		t.Error("delivered without authentication")
	}
}

func TestRelayStartTLSRequiredButNotOffered(t *testing.T) {
	tr, _ := startRelay(t, relayConfig{})
	r := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "starttls"})
	err := r.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg("d@tikkit.test"))
	if err == nil || !Temporary(err) {
		t.Fatalf("err = %v, want a temporary failure", err)
	}
	if !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Errorf("unclear error: %v", err)
	}
	if len(tr.messages()) != 0 {
		t.Error("sent in clear text")
	}
}

func TestRelayStartTLS(t *testing.T) {
	tr, clientTLS := startRelay(t, relayConfig{tls: "starttls", user: "tikkit", pass: "pw"})
	t.Setenv("TIKKIT_TEST_RELAY_PASSWORD", "pw")
	r := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "starttls", Username: "tikkit", PasswordEnv: "TIKKIT_TEST_RELAY_PASSWORD", TLSConfig: clientTLS})
	if err := r.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg("e@tikkit.test")); err != nil {
		t.Fatal(err)
	}
	if tr.count("e@tikkit.test") != 1 {
		t.Error("not delivered")
	}
	// Without the test CA the certificate is not trusted: temporary (fix the set-up, keep the mail).
	r = newRelay(t, RelayOptions{Addr: tr.addr, TLS: "starttls"})
	err := r.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg("e2@tikkit.test"))
	if err == nil || !Temporary(err) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
}

func TestRelayImplicitTLS(t *testing.T) {
	tr, clientTLS := startRelay(t, relayConfig{tls: "implicit", smtputf8: true})
	r := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "implicit", TLSConfig: clientTLS, HeloName: "tikkit.test"})
	caps, err := r.Capabilities(context.Background())
	if err != nil || !caps.SMTPUTF8 {
		t.Errorf("Capabilities = %+v, %v; want SMTPUTF8", caps, err)
	}
	if err := r.Send(context.Background(), "help@tikkit.test", "jörg@bücher.example", testMsg("f@tikkit.test")); err != nil {
		t.Fatal(err)
	}
	if got := tr.messages(); len(got) != 1 || got[0].to != "jörg@xn--bcher-kva.example" {
		t.Errorf("relay got %+v", got)
	}
}

func TestRelayEnvelopeWithoutSMTPUTF8(t *testing.T) {
	tr, _ := startRelay(t, relayConfig{})
	r := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none"})
	if caps, err := r.Capabilities(context.Background()); err != nil || caps.SMTPUTF8 {
		t.Errorf("Capabilities = %+v, %v; want no SMTPUTF8", caps, err)
	}
	if err := r.Send(context.Background(), "help@tikkit.test", "jane@bücher.example", testMsg("g@tikkit.test")); err != nil {
		t.Fatal(err)
	}
	if got := tr.messages(); len(got) != 1 || got[0].to != "jane@xn--bcher-kva.example" {
		t.Errorf("relay got %+v", got)
	}
	err := r.Send(context.Background(), "help@tikkit.test", "jörg@example.org", testMsg("h@tikkit.test"))
	if err == nil || Temporary(err) || !strings.Contains(err.Error(), "SMTPUTF8") {
		t.Errorf("non-ASCII local part without SMTPUTF8: %v", err)
	}
}

func TestRelayReplies(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		temp bool
	}{
		{"451 greylisted", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try later"}, true},
		{"452 full", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}, true},
		{"550 unknown user", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, false},
		{"554 rejected", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "spam"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := startRelay(t, relayConfig{onData: func(int) error { return tc.err }})
			r := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none"})
			err := r.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg("i@tikkit.test"))
			if err == nil || Temporary(err) != tc.temp {
				t.Errorf("err = %v, temporary = %v; want %v", err, Temporary(err), tc.temp)
			}
		})
	}
}

func TestRelayConnectionRefusedIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := newRelay(t, RelayOptions{Addr: addr, TLS: "none"})
	err = r.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg("j@tikkit.test"))
	if err == nil || !Temporary(err) || !strings.Contains(err.Error(), "connect") {
		t.Errorf("err = %v", err)
	}
}

func TestNewRelayChecks(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("x\n"), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, tc := range []struct {
		name string
		o    RelayOptions
		want string // "" = accepted
	}{
		{"starttls by default", RelayOptions{Addr: "smtp.example.org:587"}, ""},
		{"implicit on 465", RelayOptions{Addr: "smtp.example.org:465"}, ""},
		{"none on loopback", RelayOptions{Addr: "127.0.0.1:25", TLS: "none"}, ""},
		{"none on localhost", RelayOptions{Addr: "localhost:25", TLS: "none"}, ""},
		{"none elsewhere", RelayOptions{Addr: "smtp.example.org:25", TLS: "none"}, "loopback"},
		{"unknown tls", RelayOptions{Addr: "smtp.example.org:25", TLS: "ssl"}, "starttls, implicit or none"},
		{"no port", RelayOptions{Addr: "smtp.example.org"}, "host:port"},
		{"user without password", RelayOptions{Addr: "smtp.example.org:587", Username: "u"}, "password_file or password_env"},
		{"both password sources", RelayOptions{Addr: "smtp.example.org:587", Username: "u", PasswordFile: pw, PasswordEnv: "X"}, "not both"},
		{"password without user", RelayOptions{Addr: "smtp.example.org:587", PasswordFile: pw}, "without a username"},
		{"missing file", RelayOptions{Addr: "smtp.example.org:587", Username: "u", PasswordFile: pw + ".nope"}, "no such file"},
		{"empty file", RelayOptions{Addr: "smtp.example.org:587", Username: "u", PasswordFile: empty}, "empty"},
		{"unset env", RelayOptions{Addr: "smtp.example.org:587", Username: "u", PasswordEnv: "TIKKIT_TEST_UNSET_VARIABLE"}, "not set"},
		{"password file", RelayOptions{Addr: "smtp.example.org:587", Username: "u", PasswordFile: pw}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRelay(tc.o)
			if tc.want == "" {
				if err != nil {
					t.Errorf("rejected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			_ = r
		})
	}
	r, _ := NewRelay(RelayOptions{Addr: "smtp.example.org:465"})
	if r.o.TLS != "implicit" {
		t.Errorf("port 465 tls = %q", r.o.TLS)
	}
}

func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"4xx", &smtp.SMTPError{Code: 421}, true},
		{"5xx", &smtp.SMTPError{Code: 550}, false},
		{"wrapped 5xx", errors.Join(errors.New("x"), &smtp.SMTPError{Code: 554}), false},
		{"connection", &net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{"timeout", context.DeadlineExceeded, true},
		{"unknown", errors.New("disk full"), true},
		{"marked permanent", Permanent(errors.New("compose")), false},
		{"permanent over 4xx", Permanent(&smtp.SMTPError{Code: 451}), false},
		{"temporary over 5xx", temporary(&smtp.SMTPError{Code: 550}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Temporary(tc.err); got != tc.want {
				t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
