package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/tikkit/tikkit/mailin"
	"github.com/tikkit/tikkit/mailin/dovecottest"
)

// The hint after a failed `imap test` follows the step, and at step "tls"
// tells a server that refuses STARTTLS from a certificate that fails.
func TestIMAPHint(t *testing.T) {
	tlsErr := func(err error) error { return &mailin.IMAPError{Step: "tls", Host: "imap.example.com:143", Err: err} }
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"starttls refused (go-imap server)", tlsErr(&imap.Error{Type: imap.StatusResponseTypeNo, Text: "STARTTLS not supported"}), imapHintNoStartTLS},
		{"starttls refused (Dovecot)", tlsErr(&imap.Error{Type: imap.StatusResponseTypeBad, Text: "TLS support isn't enabled."}), imapHintNoStartTLS},
		{"starttls refused, wrapped", fmt.Errorf("poll: %w", tlsErr(errors.New("imap: NO STARTTLS not supported"))), imapHintNoStartTLS},
		{"bad certificate", tlsErr(x509.HostnameError{Host: "imap.example.com", Certificate: &x509.Certificate{}}), imapHints["tls"]},
		{"login", &mailin.IMAPError{Step: "login", Err: &imap.Error{Type: imap.StatusResponseTypeNo, Text: "AUTHENTICATIONFAILED"}}, imapHints["login"]},
		{"no step", errors.New("something"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := imapHint(tc.err); got != tc.want {
				t.Errorf("imapHint(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// tls = "starttls" to a Dovecot that has no TLS: the hint says so rather
// than blaming the certificate.
func TestIMAPTestNoStartTLS(t *testing.T) {
	dc := dovecottest.Start(t)
	t.Setenv("TIKKIT_TEST_IMAP_PW", dc.Password)
	conf := writeConfig(t, fmt.Sprintf("[[imap]]\nhost = %q\ntls = \"starttls\"\nusername = %q\npassword_env = \"TIKKIT_TEST_IMAP_PW\"\n", dc.Addr, dc.User))
	code, out, errs := runCmd(t, "", "imap", "test", "-config", conf)
	if code != exitTempFail || !strings.Contains(out, "FAILED: imap: tls ") || !strings.Contains(out, "hint: "+imapHintNoStartTLS) {
		t.Errorf("exit %d, output %q %q; want step tls and the STARTTLS hint", code, out, errs)
	}
}
