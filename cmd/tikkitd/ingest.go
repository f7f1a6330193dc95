package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/tikkit/tikkit/mailin"
)

// ingestLine is one line of `tikkitd ingest` output (DESIGN §6).
type ingestLine struct {
	File      string `json:"file"`
	MessageID string `json:"message_id"`
	Outcome   string `json:"outcome"`
	Request   int64  `json:"request,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// hardCapFactor: a piped message larger than this many times
// max_message_bytes is refused outright (the MTA bounces it); below that it
// is kept, with its attachments dropped when over max_message_bytes.
const hardCapFactor = 4

func cmdIngest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommon("ingest", stderr)
	var envFrom string
	c.fs.StringVar(&envFrom, "from", "", "envelope sender (MAIL FROM) when piped from an MTA; \"\", \"<>\" or MAILER-DAEMON for the null sender")
	if code, done := c.parse(args, stderr, slog.LevelWarn); done {
		if code == exitOK {
			return code // -help
		}
		// Nothing was stored: whatever is wrong (a typo in the config or in
		// master.cf), the MTA must keep the mail and retry, not bounce it.
		fmt.Fprintln(stderr, "tikkitd: ingest: message not stored; exit 75 so the MTA retries")
		return exitTempFail
	}
	envKnown := false
	c.fs.Visit(func(f *flag.Flag) { envKnown = envKnown || f.Name == "from" })
	if isNullSender(envFrom) {
		envFrom = ""
	}
	st, ok := c.openStore(stderr)
	if !ok {
		return exitTempFail
	}
	defer st.Close()
	signer, ok := c.signer(stderr)
	if !ok {
		return exitTempFail
	}
	in := mailin.NewIngester(st, c.ingestOptions(signer))
	defer in.Close()

	files := c.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	code := exitOK
	worse := func(n int) {
		// EX_TEMPFAIL outranks everything: the MTA must retry.
		if code != exitTempFail && (n == exitTempFail || code == exitOK) {
			code = n
		}
	}
	max := c.cfg.SMTP.MaxMessageBytes * hardCapFactor
	for _, name := range files {
		line := ingestLine{File: name}
		raw, err := spoolInput(name, stdin, st.Blobs.TempDir(), max)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			fmt.Fprintf(stderr, "tikkitd: ingest: %v\n", err)
			line.Outcome, line.Reason = "error", err.Error()
			enc.Encode(line)
			worse(exitNoInput)
			continue
		}
		if errors.Is(err, mailin.ErrTooLarge) {
			line.Outcome, line.Reason = "error", fmt.Sprintf("message larger than %d bytes refused", max)
			enc.Encode(line)
			worse(exitDataErr)
			continue
		} else if err != nil {
			line.Outcome, line.Reason = "error", err.Error()
			enc.Encode(line)
			worse(exitTempFail)
			continue
		}
		d := mailin.Delivery{Source: "ingest", Raw: raw, EnvelopeKnown: envKnown, EnvelopeFrom: envFrom}
		res, err := in.Ingest(context.Background(), d)
		if err != nil {
			fmt.Fprintf(stderr, "tikkitd: ingest %s: %v\n", name, err)
			line.Outcome, line.Reason = "error", err.Error()
			enc.Encode(line)
			worse(exitTempFail)
			continue
		}
		line.MessageID, line.Outcome, line.Request, line.Reason = res.MessageID, res.Outcome, res.Request, res.Reason
		enc.Encode(line)
	}
	return code
}

// spoolInput reads one message from a file, or stdin for "-".
func spoolInput(name string, stdin io.Reader, dir string, max int64) (*mailin.Raw, error) {
	if name == "-" {
		return mailin.Spool(stdin, dir, max)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mailin.Spool(f, dir, max)
}

// isNullSender: the ways MTAs pass the null sender <> to a pipe (Postfix
// gives "MAILER-DAEMON" for ${sender} unless null_sender= is set).
func isNullSender(s string) bool {
	s = strings.Trim(strings.TrimSpace(s), "<>")
	local, _, _ := strings.Cut(s, "@")
	return s == "" || strings.EqualFold(local, "MAILER-DAEMON")
}
