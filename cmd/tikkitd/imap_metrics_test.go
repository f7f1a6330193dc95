package main

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tikkit/tikkit/mailin"
	"github.com/tikkit/tikkit/web"
)

func TestIMAPLabels(t *testing.T) {
	got := imapLabels([]IMAPConfig{
		{Name: "facilities", Host: "imap.example.com:993", Username: "jane.doe"},
		{Host: "imap.example.com:993", Username: "help"},
		{Host: "imap.example.com:993", Username: "desk"},
	})
	want := []string{"facilities", "imap.example.com:993", "imap.example.com:993#2"}
	if !slices.Equal(got, want) {
		t.Errorf("labels %q, want %q", got, want)
	}
}

func testSnaps() []imapSnap {
	poll := time.Unix(1777900000, 250e6)
	return []imapSnap{
		{Label: "facilities", PollerStatus: mailin.PollerStatus{Account: "help@imap.example.com:993", Connected: true, Fetched: 42, Errors: 1,
			Mailboxes: []mailin.MailboxStatus{{Name: "INBOX", LastPoll: poll}, {Name: "Lists/Tenants", LastPoll: poll.Add(-time.Minute)}}}},
		{Label: "north", PollerStatus: mailin.PollerStatus{Account: "north", Errors: 3, Skipped: 2,
			LastError: "imap: login imap.example.com:993: as help@example.com: NO [AUTHENTICATIONFAILED]", LastStep: "login", LastErrorAt: poll.Add(-time.Hour),
			Mailboxes: []mailin.MailboxStatus{{Name: "INBOX"}}}},
	}
}

// The IMAP families on /metrics, in the text format: HELP and TYPE once,
// then one sample per account (or account/mailbox), in order.
func TestIMAPMetricsFormat(t *testing.T) {
	reg := web.NewRegistry()
	reg.MustRegister(imapMetrics(testSnaps)...)
	var buf bytes.Buffer
	if _, err := reg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"# TYPE tikkit_imap_connected gauge\n" +
			"tikkit_imap_connected{account=\"facilities\"} 1\ntikkit_imap_connected{account=\"north\"} 0\n",
		"# TYPE tikkit_imap_last_poll_timestamp_seconds gauge\n" +
			"tikkit_imap_last_poll_timestamp_seconds{mailbox=\"facilities/INBOX\"} 1.77790000025e+09\n" +
			"tikkit_imap_last_poll_timestamp_seconds{mailbox=\"facilities/Lists/Tenants\"} 1.77789994025e+09\n" +
			"tikkit_imap_last_poll_timestamp_seconds{mailbox=\"north/INBOX\"} 0\n",
		"# TYPE tikkit_imap_fetched_total counter\n" +
			"tikkit_imap_fetched_total{account=\"facilities\"} 42\ntikkit_imap_fetched_total{account=\"north\"} 0\n",
		"# TYPE tikkit_imap_errors_total counter\n" +
			"tikkit_imap_errors_total{account=\"facilities\"} 1\ntikkit_imap_errors_total{account=\"north\"} 3\n",
		"# TYPE tikkit_imap_skipped_total counter\n" +
			"tikkit_imap_skipped_total{account=\"facilities\"} 0\ntikkit_imap_skipped_total{account=\"north\"} 2\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack\n%s\nin\n%s", want, text)
		}
	}
	line := regexp.MustCompile(`^(# HELP [a-z_]+ .+|# TYPE [a-z_]+ (gauge|counter)|[a-z_]+\{[a-z]+="[^"\\]*"\} [0-9.e+]+)$`)
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !line.MatchString(l) {
			t.Errorf("bad exposition line %q", l)
		}
	}
	if strings.Contains(text, "help@") {
		t.Errorf("metrics show the IMAP user name:\n%s", text)
	}
}

func TestIMAPAccountsForStatusPage(t *testing.T) {
	got := imapAccounts(testSnaps)()
	if len(got) != 2 {
		t.Fatalf("%d accounts", len(got))
	}
	want0 := web.IMAPAccount{Name: "facilities", Connected: true, LastPoll: time.Unix(1777900000, 250e6).Add(-time.Minute), Fetched: 42, Errors: 1}
	if got[0] != want0 {
		t.Errorf("account 0 = %+v, want the oldest mailbox poll: %+v", got[0], want0)
	}
	// The step and time of the last error, never its text.
	want1 := web.IMAPAccount{Name: "north", Errors: 3, Skipped: 2, LastErrorStep: "login", LastErrorAt: time.Unix(1777900000, 250e6).Add(-time.Hour)}
	if got[1] != want1 {
		t.Errorf("account 1 = %+v, want %+v", got[1], want1)
	}
}
