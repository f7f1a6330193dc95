package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tikkit/tikkit/mailin"
)

// imapAccount turns an [[imap]] section into the poller's settings, reading
// the password from its file or the environment (never the command line).
func imapAccount(c IMAPConfig) (mailin.IMAPAccount, error) {
	acc := mailin.IMAPAccount{Name: c.Name, Host: c.Host, TLS: c.TLS, Username: c.Username, Mailboxes: c.Mailboxes,
		ProcessedMailbox: c.ProcessedMailbox, IDLE: c.IDLE == nil || *c.IDLE, Batch: c.Batch}
	if c.PollInterval != "" {
		d, err := time.ParseDuration(c.PollInterval)
		if err != nil {
			return acc, err
		}
		acc.PollInterval = d
	}
	switch {
	case c.PasswordFile != "":
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return acc, fmt.Errorf("imap %s: password_file: %w", c.Host, err)
		}
		acc.Password = strings.TrimRight(string(b), "\r\n")
	case c.PasswordEnv != "":
		v, ok := os.LookupEnv(c.PasswordEnv)
		if !ok {
			return acc, fmt.Errorf("imap %s: password_env: $%s is not set", c.Host, c.PasswordEnv)
		}
		acc.Password = v
	}
	return acc, nil
}

// imapHints say what to check after `imap test` failed at a step.
var imapHints = map[string]string{
	"dns":     "the host name does not resolve: check host for a typo, and this machine's DNS",
	"connect": "nothing answers there: check the port (993 for tls = \"implicit\", 143 for \"starttls\") and any firewall",
	"tls":     "the TLS handshake failed: check that tls matches the port (implicit for 993, starttls for 143) and that the server's certificate is valid for this host name",
	"login":   "the server refused the login: check username and the password file; Microsoft 365 and Google Workspace must have IMAP enabled for the mailbox",
	"select":  "a mailbox is missing: check mailboxes and processed_mailbox (names are case-sensitive, folders may be \"INBOX/Done\" or \"INBOX.Done\")",
}

// cmdIMAP is `tikkitd imap test`: connect to every configured account, list
// its mailboxes with counts, and say plainly what is wrong.
func cmdIMAP(args []string, stdout, stderr io.Writer) int {
	c := newCommon("imap", stderr)
	if code, done := c.parse(args, stderr, slog.LevelWarn); done {
		return code
	}
	if len(c.args) != 1 || c.args[0] != "test" {
		fmt.Fprintln(stderr, "usage: tikkitd imap test [-config FILE]")
		return exitUsage
	}
	if len(c.cfg.IMAP) == 0 {
		fmt.Fprintln(stderr, "tikkitd: no [[imap]] account is configured")
		return exitConfig
	}
	code := exitOK
	for _, ic := range c.cfg.IMAP {
		acc, err := imapAccount(ic)
		if err != nil {
			fmt.Fprintf(stdout, "%s: FAILED: %v\n", ic.Host, err)
			code = exitConfig
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		counts, err := mailin.CheckIMAP(ctx, acc)
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "%s as %s: FAILED: %v\n", ic.Host, ic.Username, err)
			if ie, ok := errors.AsType[*mailin.IMAPError](err); ok && imapHints[ie.Step] != "" {
				fmt.Fprintf(stdout, "  hint: %s\n", imapHints[ie.Step])
			}
			code = exitTempFail
			continue
		}
		fmt.Fprintf(stdout, "%s as %s: OK\n", ic.Host, ic.Username)
		if acc.ProcessedMailbox != "" && !mailin.HasMailbox(counts, acc.ProcessedMailbox) {
			fmt.Fprintf(stdout, "  note: processed_mailbox %q does not exist yet; tikkitd creates it on the first move\n", acc.ProcessedMailbox)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  MAILBOX\tMESSAGES\tUNSEEN")
		for _, m := range counts {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", m.Name, m.Messages, m.Unseen)
		}
		tw.Flush()
	}
	return code
}
