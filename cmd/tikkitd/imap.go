package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/tikkit/tikkit/mailin"
)

// imapAccount turns section i of [[imap]] into the poller's settings,
// reading the password from its file or the environment (never the
// command line). Its errors name the section and the file or variable,
// never the password.
func imapAccount(i int, c IMAPConfig) (mailin.IMAPAccount, error) {
	acc := mailin.IMAPAccount{Name: c.Name, Host: c.Host, TLS: c.TLS, Username: c.Username, Mailboxes: c.Mailboxes,
		ProcessedMailbox: c.ProcessedMailbox, Existing: c.ImportExisting, IDLE: c.IDLE == nil || *c.IDLE, Batch: c.Batch}
	if c.PollInterval != "" {
		d, err := time.ParseDuration(c.PollInterval)
		if err != nil {
			return acc, fmt.Errorf("imap[%d].poll_interval: %w", i, err)
		}
		acc.PollInterval = d
	}
	switch {
	case c.PasswordFile != "":
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return acc, fmt.Errorf("imap[%d].password_file: %w", i, err)
		}
		acc.Password = strings.TrimRight(string(b), "\r\n")
		if acc.Password == "" {
			return acc, fmt.Errorf("imap[%d].password_file: %s is empty", i, c.PasswordFile)
		}
	case c.PasswordEnv != "":
		v, ok := os.LookupEnv(c.PasswordEnv)
		if !ok {
			return acc, fmt.Errorf("imap[%d].password_env: $%s is not set in this environment", i, c.PasswordEnv)
		}
		if v == "" {
			return acc, fmt.Errorf("imap[%d].password_env: $%s is empty", i, c.PasswordEnv)
		}
		acc.Password = v
	}
	return acc, nil
}

// imapAccountsOf is every [[imap]] section as imapAccount makes it; serve
// and check-config fail on the first that cannot be read.
func imapAccountsOf(cs []IMAPConfig) ([]mailin.IMAPAccount, error) {
	var out []mailin.IMAPAccount
	for i, c := range cs {
		acc, err := imapAccount(i, c)
		if err != nil {
			return nil, err
		}
		out = append(out, acc)
	}
	return out, nil
}

// imapHints say what to check after `imap test` failed at a step.
var imapHints = map[string]string{
	"dns":     "the host name does not resolve: check host for a typo, and this machine's DNS",
	"connect": "nothing answers there: check the port (993 for tls = \"implicit\", 143 for \"starttls\") and any firewall",
	"tls":     "the TLS handshake failed: check that tls matches the port (implicit for 993, starttls for 143) and that the server's certificate is valid for this host name",
	"login":   "the server refused the login: check username and the password file; Microsoft 365 and Google Workspace must have IMAP enabled for the mailbox",
	"select":  "a mailbox is missing: check mailboxes (names are case-sensitive, folders may be \"INBOX/Done\" or \"INBOX.Done\")",
	"create":  "the server would not create processed_mailbox: check the name (folders may be \"INBOX/Done\" or \"INBOX.Done\", as the list shows) and the right to create folders",
}

// printIMAPConfig prints one [[imap]] section's effective settings for
// check-config: where the password comes from, never the password.
func printIMAPConfig(w io.Writer, i int, a IMAPConfig) {
	name := a.Name
	if name == "" {
		name = a.account() + " (username@host)"
	}
	pw := "file " + a.PasswordFile
	if a.PasswordEnv != "" {
		pw = "$" + a.PasswordEnv
	}
	processed := a.ProcessedMailbox
	if processed == "" {
		processed = "(none: flag \\Seen)"
	}
	idle := "off"
	if a.IDLE == nil || *a.IDLE {
		idle = "on (watches " + a.Mailboxes[0] + ")"
	}
	fmt.Fprintf(w, "  imap[%d]\n", i)
	for _, kv := range [][2]string{
		{"name", name}, {"host", a.Host}, {"tls", a.TLS}, {"username", a.Username}, {"password", "from " + pw},
		{"mailboxes", strings.Join(a.Mailboxes, ", ")}, {"processed_mailbox", processed}, {"idle", idle},
		{"poll_interval", a.PollInterval}, {"batch", strconv.Itoa(a.Batch)}, {"import_existing", a.ImportExisting},
	} {
		fmt.Fprintf(w, "    %-17s %s\n", kv[0], kv[1])
	}
}

// imapHint is what to check after err, "" when there is nothing to say.
func imapHint(err error) string {
	ie, ok := errors.AsType[*mailin.IMAPError](err)
	if !ok {
		return ""
	}
	if ie.Step == "tls" {
		// The server answered STARTTLS with NO or BAD ("NO STARTTLS not
		// supported", Dovecot's "BAD TLS support isn't enabled."), where a
		// failed handshake is a crypto/tls or x509 error.
		_, refused := errors.AsType[*imap.Error](err)
		if refused || (ie.Err != nil && strings.Contains(strings.ToUpper(ie.Err.Error()), "STARTTLS")) {
			return imapHintNoStartTLS
		}
	}
	return imapHints[ie.Step]
}

const imapHintNoStartTLS = "the server does not offer STARTTLS on this port: use tls = \"implicit\" with port 993, or check the port"

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
	for i, ic := range c.cfg.IMAP {
		acc, err := imapAccount(i, ic)
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
			if hint := imapHint(err); hint != "" {
				fmt.Fprintf(stdout, "  hint: %s\n", hint)
			}
			code = exitTempFail
			printMailboxes(stdout, counts) // what the server has, when it got that far
			continue
		}
		fmt.Fprintf(stdout, "%s as %s: OK\n", ic.Host, ic.Username)
		for _, m := range counts {
			if m.Created {
				fmt.Fprintf(stdout, "  note: created processed_mailbox %q (it did not exist)\n", m.Name)
			}
		}
		printMailboxes(stdout, counts)
	}
	return code
}

// printMailboxes lists mailboxes with their counts; nothing for none.
func printMailboxes(w io.Writer, counts []mailin.MailboxCount) {
	if len(counts) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  MAILBOX\tMESSAGES\tUNSEEN")
	for _, m := range counts {
		fmt.Fprintf(tw, "  %s\t%d\t%d\n", m.Name, m.Messages, m.Unseen)
	}
	tw.Flush()
}
