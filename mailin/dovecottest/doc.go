// Package dovecottest starts a real Dovecot IMAP server for a test, as
// net/http/httptest starts an HTTP server: a temp config, a free loopback
// port, one user, and doveadm to fill and inspect its mailboxes.
package dovecottest
