// Command tikkitd is the tikkit daemon and its administration commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tikkit/tikkit/mailin"
	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
)

var version = "dev"

// lookupTXT resolves DKIM keys; nil means the system resolver. Tests set it.
var lookupTXT func(ctx context.Context, name string) ([]string, error)

// Exit codes from sysexits.h that MTAs understand.
const (
	exitOK       = 0
	exitUsage    = 64
	exitDataErr  = 65
	exitNoInput  = 66
	exitSoftware = 70
	exitTempFail = 75
	exitConfig   = 78
)

const usage = `tikkitd — email-first ticketing for facilities teams

Usage: tikkitd <command> [-config FILE] [flags]

Commands:
  serve                      run the daemon (SMTP/LMTP listener, status page)
  ingest [FILE...]           ingest messages from files or stdin (MTA pipe); one JSON line each
  check-config               validate the configuration and print the effective settings
  requests [--json]          list requests
  request show N [--json]    show one request with its followers and messages
  people [--json]            list people
  held [--json]              list messages kept without a request, with the reason
  reprocess ID|--all         run held messages through the ingest path again
  outbox [--json]            outbound mail: queued, sent, failed, suppressed
  imap test                  connect to the [[imap]] accounts and list their mailboxes
  person add EMAIL [--name N] [--staff] [--admin]
                             add a person, or make one staff (--admin implies --staff)
  person approve|deny|block EMAIL
                             change an occupant's status (recorded as an event)
  person list                list people with their groups and grants
  person show EMAIL          one person: grants, groups, events, requests they can see
  person grant EMAIL LOCATION|--all
                             let a person file for a location (and what is under it)
  location add PATH [--common] [--alias A]...
                             add "Site/Building/Unit", creating missing parents
  location list              list locations with their aliases
  group add NAME             add a group (members see each other's requests)
  group member GROUP EMAIL...
                             add people to a group
  group grant GROUP LOCATION|--all
                             grant a location to every member of a group
  group list                 list groups with members and grants
  version                    print the version

Admin commands take --json too.

The configuration is -config FILE, else $TIKKIT_CONFIG, else the embedded default
(data in ./tikkit-data, SMTP on 127.0.0.1:2525, HTTP on 127.0.0.1:8080, address help@localhost).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "tikkitd: internal error: %v\n", r)
			code = exitSoftware
		}
	}()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(rest, stderr)
	case "ingest":
		return cmdIngest(rest, stdin, stdout, stderr)
	case "check-config":
		return cmdCheckConfig(rest, stdout, stderr)
	case "requests":
		return cmdRequests(rest, stdout, stderr)
	case "request":
		return cmdRequest(rest, stdout, stderr)
	case "people":
		return cmdPeople(rest, stdout, stderr)
	case "held":
		return cmdHeld(rest, stdout, stderr)
	case "reprocess":
		return cmdReprocess(rest, stdout, stderr)
	case "outbox":
		return cmdOutbox(rest, stdout, stderr)
	case "imap":
		return cmdIMAP(rest, stdout, stderr)
	case "person":
		return cmdPerson(rest, stdout, stderr)
	case "location":
		return cmdLocation(rest, stdout, stderr)
	case "group":
		return cmdGroup(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "tikkitd", version)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "tikkitd: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// common is what every subcommand shares: its flags, config and logger.
type common struct {
	fs         *flag.FlagSet
	configPath string
	json       bool
	readOnly   bool // a command that only reads: never creates a database
	cfg        Config
	log        *slog.Logger
	args       []string // positional arguments
}

func newCommon(name string, stderr io.Writer) *common {
	c := &common{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.configPath, "config", "", "configuration file (default $TIKKIT_CONFIG, else the embedded default)")
	return c
}

func (c *common) withJSON() *common {
	c.fs.BoolVar(&c.json, "json", false, "print JSON")
	return c
}

// parse parses flags wherever they stand among the positional arguments,
// then loads the configuration. done reports that the command must exit
// with code (help, a usage or configuration error).
func (c *common) parse(args []string, stderr io.Writer, level slog.Level) (code int, done bool) {
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK, true
			}
			return exitUsage, true
		}
		if c.fs.NArg() == 0 {
			break
		}
		c.args = append(c.args, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
	cfg, path, err := loadConfig(c.configPath)
	if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitConfig, true
	}
	c.cfg, c.configPath = cfg, path
	c.log = newLogger(cfg.Log, stderr, level)
	return 0, false
}

func newLogger(lc LogConfig, w io.Writer, min slog.Level) *slog.Logger {
	level := min
	switch lc.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	if level < min && min > slog.LevelInfo {
		level = min
	}
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (c *common) openStore(stderr io.Writer) (*store.Store, bool) {
	if c.readOnly {
		// A typo in data_dir must not show an empty, newly made database.
		if _, err := os.Stat(filepath.Join(c.cfg.DataDir, "tikkit.db")); err != nil {
			src := c.configPath
			if src == "" {
				src = "the embedded default"
			}
			fmt.Fprintf(stderr, "tikkitd: no tikkit database in %q (data_dir from %s); is data_dir right?\n", c.cfg.DataDir, src)
			return nil, false
		}
	}
	st, err := store.Open(c.cfg.DataDir, c.log)
	if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return nil, false
	}
	return st, true
}

// signer loads the data directory's signing key.
func (c *common) signer(stderr io.Writer) (*rules.Signer, bool) {
	key, err := store.SecretKey(c.cfg.DataDir)
	if err == nil {
		var s *rules.Signer
		if s, err = rules.NewSigner(key); err == nil {
			return s, true
		}
	}
	fmt.Fprintf(stderr, "tikkitd: %v\n", err)
	return nil, false
}

// storeFailure is the exit code when openStore failed: 66 when a read
// found no database, else 75 (try again).
func (c *common) storeFailure() int {
	if c.readOnly {
		if _, err := os.Stat(filepath.Join(c.cfg.DataDir, "tikkit.db")); err != nil {
			return exitNoInput
		}
	}
	return exitTempFail
}

// ingestOptions are the ingest path's settings; signer signs and checks
// reply tokens (nil: none).
func (c *common) ingestOptions(signer *rules.Signer) mailin.Options {
	cfg := c.cfg
	return mailin.Options{
		FromName: cfg.Out.FromName,
		Limits:   rules.Limits{PerAddressPerDay: cfg.Out.PerAddressDay, GlobalPerHour: cfg.Out.GlobalPerHour},
		Tokens:   signer,
		Identity: mailin.Identity{
			Address:         cfg.Mail.Address,
			Aliases:         cfg.Mail.Aliases,
			MessageIDDomain: cfg.Mail.MessageIDDomain,
		},
		SubjectTagPrefix:   cfg.Mail.SubjectTagPrefix,
		FirstRequestNumber: cfg.Mail.FirstRequestNumber,
		MaxMessageBytes:    cfg.SMTP.MaxMessageBytes,
		MaxAttachmentBytes: cfg.Limits.MaxAttachmentBytes,
		MaxNewFollowers:    cfg.Limits.MaxNewFollowers,
		Registration:       cfg.registration(),
		StaffRequireAuth:   cfg.Reg.StaffRequireAuth,
		Auth:               mailin.AuthOptions{TrustedAuthservIDs: cfg.Reg.TrustedAuthservIDs, LookupTXT: lookupTXT},
		Logger:             c.log,
	}
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	c := newCommon("check-config", stderr)
	if code, done := c.parse(args, stderr, slog.LevelWarn); done {
		return code
	}
	// What serve would load: fail here, not at start-up.
	if err := checkOutboundFiles(c.cfg); err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitConfig
	}
	if _, err := imapAccountsOf(c.cfg.IMAP); err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitConfig
	}
	src := c.configPath
	if src == "" {
		src = "embedded default"
	}
	fmt.Fprintf(stdout, "configuration OK (%s)\n", src)
	fmt.Fprintf(stdout, "  data_dir          %s\n", c.cfg.DataDir)
	fmt.Fprintf(stdout, "  address           %s\n", c.cfg.Mail.Address)
	if len(c.cfg.Mail.Aliases) > 0 {
		fmt.Fprintf(stdout, "  aliases           %s\n", strings.Join(c.cfg.Mail.Aliases, ", "))
	}
	fmt.Fprintf(stdout, "  message ids       @%s\n", c.cfg.Mail.MessageIDDomain)
	fmt.Fprintf(stdout, "  subject tag       [%s%d]\n", c.cfg.Mail.SubjectTagPrefix, c.cfg.Mail.FirstRequestNumber)
	fmt.Fprintf(stdout, "  smtp              %s\n", orNone(c.cfg.SMTP.Listen))
	fmt.Fprintf(stdout, "  lmtp              %s\n", orNone(c.cfg.SMTP.LMTP))
	fmt.Fprintf(stdout, "  http              %s (%s)\n", orNone(c.cfg.HTTP.Listen), c.cfg.HTTP.PublicURL)
	fmt.Fprintf(stdout, "  max message       %d bytes\n", c.cfg.SMTP.MaxMessageBytes)
	fmt.Fprintf(stdout, "  max attachment    %d bytes\n", c.cfg.Limits.MaxAttachmentBytes)
	fmt.Fprintf(stdout, "  registration      %s\n", c.cfg.Reg.Mode)
	if c.cfg.Out.Relay != "" {
		fmt.Fprintf(stdout, "  outbound relay    %s (tls %s)\n", c.cfg.Out.Relay, orDefault(c.cfg.Out.TLS, "by port"))
	} else {
		fmt.Fprintf(stdout, "  outbound          local maildir %s\n", filepath.Join(c.cfg.DataDir, "outbound"))
	}
	fmt.Fprintf(stdout, "  from              %q <%s>\n", c.cfg.Out.FromName, c.cfg.Mail.Address)
	fmt.Fprintf(stdout, "  automatic mail    %d per address a day, %d an hour in all\n", c.cfg.Out.PerAddressDay, c.cfg.Out.GlobalPerHour)
	for i, a := range c.cfg.IMAP {
		printIMAPConfig(stdout, i, a)
	}
	return exitOK
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(off)"
	}
	return s
}
