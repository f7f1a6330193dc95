package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
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

// imap test against a working account: OK, the mailboxes with their
// counts, and a processed_mailbox that did not exist is created and said so;
// one the server refuses fails at step create with its hint.
func TestIMAPTestOK(t *testing.T) {
	dc := dovecottest.Start(t)
	dc.Save("INBOX", []byte("From: a@example.org\r\nSubject: x\r\nMessage-ID: <ok1@example.org>\r\n\r\nhi\r\n"))
	t.Setenv("TIKKIT_TEST_IMAP_PW", dc.Password)
	account := func(processed string) string {
		return writeConfig(t, fmt.Sprintf("[[imap]]\nhost = %q\ntls = \"none\"\nusername = %q\npassword_env = \"TIKKIT_TEST_IMAP_PW\"\nprocessed_mailbox = %q\n",
			dc.Addr, dc.User, processed))
	}
	code, out, errs := runCmd(t, "", "imap", "test", "-config", account("Done"))
	if code != exitOK || !strings.Contains(out, ": OK") || !regexp.MustCompile(`INBOX\s+1\s+1`).MatchString(out) ||
		!strings.Contains(out, `note: created processed_mailbox "Done"`) {
		t.Errorf("exit %d, output %q %q", code, out, errs)
	}
	if code, out, _ := runCmd(t, "", "imap", "test", "-config", account("Done")); code != exitOK || strings.Contains(out, "created") {
		t.Errorf("second run: exit %d, output %q; want OK, nothing created", code, out)
	}
	code, out, _ = runCmd(t, "", "imap", "test", "-config", account("Processed/2026"))
	if code != exitTempFail || !strings.Contains(out, "FAILED: imap: create ") || !strings.Contains(out, "hint: "+imapHints["create"]) {
		t.Errorf("refused name: exit %d, output %q", code, out)
	}
}
