package mailin

import (
	"testing"

	"github.com/tikkit/tikkit/mailin/dovecottest"
)

// dovecot is a real Dovecot for one test (see dovecottest), with the short
// names this package's tests use.
type dovecot struct {
	*dovecottest.Server
	t          testing.TB
	conf, addr string
	tlsAddr    string // the implicit-TLS (imaps) listener, with withTLS
	user, pass string
}

type dovecotOption = dovecottest.Option

// withTLS serves the certificate and key (PEM files) with ssl = yes: STARTTLS
// on the plain listener and implicit TLS on dovecot.tlsAddr.
func withTLS(certFile, keyFile string) dovecotOption { return dovecottest.WithTLS(certFile, keyFile) }

// startDovecot starts Dovecot or skips the test when it is not installed.
func startDovecot(t testing.TB, opts ...dovecotOption) *dovecot {
	t.Helper()
	s := dovecottest.Start(t, opts...)
	return &dovecot{Server: s, t: t, conf: s.Conf, addr: s.Addr, tlsAddr: s.TLSAddr, user: s.User, pass: s.Password}
}

// adm runs doveadm as the test user: cmd is the command ("save", "mailbox
// create"), args what follows -u USER.
func (d *dovecot) adm(stdin []byte, cmd string, args ...string) string {
	d.t.Helper()
	return d.Doveadm(stdin, cmd, args...)
}

func (d *dovecot) save(mbox string, msg []byte)        { d.t.Helper(); d.Save(mbox, msg) }
func (d *dovecot) create(mbox string)                  { d.t.Helper(); d.Create(mbox) }
func (d *dovecot) flags(mbox string) map[string]string { d.t.Helper(); return d.Flags(mbox) }
func (d *dovecot) count(mbox string) int               { d.t.Helper(); return d.Count(mbox) }
func (d *dovecot) messageIDs(mbox string) (seen, all map[string]bool) {
	d.t.Helper()
	return d.MessageIDs(mbox)
}

// seedMaildir writes n generated messages of about size bytes into INBOX
// (ingestBenchMessage), before anyone logs in.
func (d *dovecot) seedMaildir(n, size int) {
	d.t.Helper()
	d.SeedMaildir(n, func(i int) []byte { return ingestBenchMessage(i, size) })
}

func (d *dovecot) account() IMAPAccount {
	return IMAPAccount{Name: "test", Host: d.addr, TLS: "none", Username: d.user, Password: d.pass, IDLE: true}
}
