package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/tikkit/tikkit/rules"
)

// Config is the TOML settings file (DESIGN §5); tikkit.example.toml documents every key.
type Config struct {
	DataDir string       `toml:"data_dir"`
	Mail    MailConfig   `toml:"mail"`
	SMTP    SMTPConfig   `toml:"smtp"`
	HTTP    HTTPConfig   `toml:"http"`
	Limits  LimitsConfig `toml:"limits"`
	Reg     RegConfig    `toml:"registration"`
	Out     OutConfig    `toml:"outbound"`
	IMAP    []IMAPConfig `toml:"imap"`
	Log     LogConfig    `toml:"log"`
}

// IMAPConfig is one [[imap]] account polled for mail.
type IMAPConfig struct {
	Name             string   `toml:"name"`              // for logs and the state kept per mailbox; default user@host
	Host             string   `toml:"host"`              // host or host:port (default port 993, or 143 for starttls and none)
	TLS              string   `toml:"tls"`               // implicit | starttls | none
	Username         string   `toml:"username"`          //
	PasswordFile     string   `toml:"password_file"`     // the password, from a file…
	PasswordEnv      string   `toml:"password_env"`      // …or an environment variable
	Mailboxes        []string `toml:"mailboxes"`         // default ["INBOX"]
	ProcessedMailbox string   `toml:"processed_mailbox"` // move there after commit; "" = flag \Seen only
	IDLE             *bool    `toml:"idle"`              // default true
	PollInterval     string   `toml:"poll_interval"`     // default "60s"
	Batch            int      `toml:"batch"`             // default 100
	ImportExisting   string   `toml:"import_existing"`   // unseen (default) | all | none
}

// account is the name the poller keeps the account's state under (and
// logs): name, else username@host, host with its port.
func (c IMAPConfig) account() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Username + "@" + c.Host
}

// OutConfig is [outbound]: how mail leaves.
type OutConfig struct {
	Relay         string `toml:"relay"`               // host:port; "" = local maildir under data_dir
	TLS           string `toml:"tls"`                 // starttls | implicit | none
	Username      string `toml:"username"`            // AUTH PLAIN/LOGIN when set
	PasswordFile  string `toml:"password_file"`       // the password, from a file…
	PasswordEnv   string `toml:"password_env"`        // …or an environment variable
	FromName      string `toml:"from_name"`           // display name of our address
	TemplatesDir  string `toml:"templates_dir"`       // overrides of the mail templates
	DKIMDomain    string `toml:"dkim_domain"`         // sign outbound mail when set
	DKIMSelector  string `toml:"dkim_selector"`       //
	DKIMKeyFile   string `toml:"dkim_key_file"`       // PEM private key
	PerAddressDay int    `toml:"per_address_per_day"` // automatic mail to one address per day
	GlobalPerHour int    `toml:"global_per_hour"`     // circuit breaker for all automatic mail
}

// RegConfig is [registration]: who may file and how unknown senders become occupants.
type RegConfig struct {
	Mode                      string   `toml:"mode"`
	AutoApproveDomains        []string `toml:"auto_approve_domains"`
	PendingCanFile            bool     `toml:"pending_can_file"`
	UnknownSender             string   `toml:"unknown_sender"`
	RequireDKIMForAutoApprove bool     `toml:"require_dkim_for_auto_approve"`
	TrustedAuthservIDs        []string `toml:"trusted_authserv_ids"`
	StaffRequireAuth          bool     `toml:"staff_require_auth"`
}

type MailConfig struct {
	Address            string   `toml:"address"`
	Aliases            []string `toml:"aliases"`
	MessageIDDomain    string   `toml:"message_id_domain"`
	SubjectTagPrefix   string   `toml:"subject_tag_prefix"`
	FirstRequestNumber int64    `toml:"first_request_number"`
}

type SMTPConfig struct {
	Listen          string `toml:"listen"`
	LMTP            string `toml:"lmtp"`
	MaxMessageBytes int64  `toml:"max_message_bytes"`
	MaxRecipients   int    `toml:"max_recipients"`
	MaxConnections  int    `toml:"max_connections"`
	Hostname        string `toml:"hostname"`
}

type HTTPConfig struct {
	Listen    string `toml:"listen"`
	PublicURL string `toml:"public_url"`
}

type LimitsConfig struct {
	MaxAttachmentBytes int64 `toml:"max_attachment_bytes"`
	MaxNewFollowers    int   `toml:"max_new_followers"`
}

type LogConfig struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // text | json
}

// defaultConfig is the embedded default of DESIGN §6: it runs with no file.
func defaultConfig() Config {
	return Config{
		DataDir: "./tikkit-data",
		Mail: MailConfig{
			Address:            "help@localhost",
			SubjectTagPrefix:   "REQ-",
			FirstRequestNumber: 1001,
		},
		SMTP: SMTPConfig{
			Listen:          "127.0.0.1:2525",
			MaxMessageBytes: 50 << 20,
			MaxRecipients:   50,
			MaxConnections:  100,
		},
		HTTP:   HTTPConfig{Listen: "127.0.0.1:8080", PublicURL: "http://127.0.0.1:8080"},
		Limits: LimitsConfig{MaxAttachmentBytes: 25 << 20, MaxNewFollowers: 20},
		Out:    OutConfig{FromName: "Facilities", PerAddressDay: 10, GlobalPerHour: 1000},
		Reg: RegConfig{Mode: "open", PendingCanFile: true, UnknownSender: "register",
			RequireDKIMForAutoApprove: true, StaffRequireAuth: true},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// loadConfig reads path (or $TIKKIT_CONFIG when path is ""), over the
// defaults; with neither it returns the defaults. Unknown keys are errors.
func loadConfig(path string) (Config, string, error) {
	cfg := defaultConfig()
	if path == "" {
		path = os.Getenv("TIKKIT_CONFIG")
	}
	if path == "" {
		return cfg, "", cfg.validate()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, path, fmt.Errorf("config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return cfg, path, fmt.Errorf("config %s: unknown setting:\n%s", path, sm.String())
		}
		if strings.Contains(err.Error(), "[]main.IMAPConfig") {
			return cfg, path, fmt.Errorf("config %s: write each IMAP account as an [[imap]] section (double brackets)", path)
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return cfg, path, fmt.Errorf("config %s:%d:%d: %s", path, row, col, de.Error())
		}
		return cfg, path, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, path, cfg.validate()
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.DataDir == "" {
		bad("data_dir: must be set")
	}
	c.Mail.Address = strings.ToLower(strings.TrimSpace(c.Mail.Address))
	if !strings.Contains(c.Mail.Address, "@") {
		bad("mail.address: %q is not an email address", c.Mail.Address)
	}
	for i, a := range c.Mail.Aliases {
		c.Mail.Aliases[i] = strings.ToLower(strings.TrimSpace(a))
		if !strings.Contains(a, "@") {
			bad("mail.aliases: %q is not an email address", a)
		}
	}
	if c.Mail.MessageIDDomain == "" {
		_, dom, _ := strings.Cut(c.Mail.Address, "@")
		c.Mail.MessageIDDomain = dom
	}
	if c.Mail.SubjectTagPrefix == "" {
		c.Mail.SubjectTagPrefix = "REQ-"
	}
	if c.Mail.FirstRequestNumber <= 0 {
		bad("mail.first_request_number: must be positive")
	}
	for name, addr := range map[string]string{"smtp.listen": c.SMTP.Listen, "smtp.lmtp": c.SMTP.LMTP, "http.listen": c.HTTP.Listen} {
		if addr == "" || strings.HasPrefix(addr, "/") {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s: %q: %v", name, addr, err)
		}
	}
	if c.SMTP.MaxMessageBytes <= 0 {
		bad("smtp.max_message_bytes: must be positive")
	}
	if c.SMTP.MaxRecipients <= 0 {
		c.SMTP.MaxRecipients = 50
	}
	if c.HTTP.PublicURL != "" {
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("http.public_url: %q is not an http(s) URL", c.HTTP.PublicURL)
		}
	}
	if c.Limits.MaxAttachmentBytes < 0 {
		bad("limits.max_attachment_bytes: must not be negative (0 means no limit)")
	}
	switch c.Out.TLS {
	case "", "starttls", "implicit", "none":
	default:
		bad("outbound.tls: %q is not starttls, implicit or none", c.Out.TLS)
	}
	if c.Out.Relay != "" {
		if _, _, err := net.SplitHostPort(c.Out.Relay); err != nil {
			bad("outbound.relay: %q: %v", c.Out.Relay, err)
		}
	}
	if c.Out.PasswordFile != "" && c.Out.PasswordEnv != "" {
		bad("outbound: set password_file or password_env, not both")
	}
	if c.Out.Username != "" && c.Out.PasswordFile == "" && c.Out.PasswordEnv == "" {
		bad("outbound: username %q needs password_file or password_env", c.Out.Username)
	}
	if host, port, err := net.SplitHostPort(c.Out.Relay); c.Out.Relay != "" && err == nil {
		if c.Out.TLS == "none" && !isLoopbackHost(host) {
			bad("outbound.tls: \"none\" sends mail and passwords in clear text; only for a relay on this machine (not %q)", host)
		}
		if c.Out.TLS == "starttls" && port == "465" {
			bad("outbound.tls: port 465 speaks implicit TLS; set tls = \"implicit\"")
		}
	}
	if c.Out.PerAddressDay < 1 {
		bad("outbound.per_address_per_day: must be at least 1")
	}
	if c.Out.GlobalPerHour < 1 {
		bad("outbound.global_per_hour: must be at least 1")
	}
	if (c.Out.DKIMDomain == "") != (c.Out.DKIMKeyFile == "") || (c.Out.DKIMDomain != "" && c.Out.DKIMSelector == "") {
		bad("outbound: dkim_domain, dkim_selector and dkim_key_file go together")
	}
	c.validateIMAP(bad)
	if err := c.registration().Validate(); err != nil {
		errs = append(errs, err)
	}
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		bad("log.format: %q is not text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// validateIMAP checks the [[imap]] sections and fills in their defaults:
// the port, tls, mailboxes, poll_interval, batch and import_existing.
func (c *Config) validateIMAP(bad func(format string, a ...any)) {
	names := map[string]int{} // account name, folded → section
	for i := range c.IMAP {
		a := &c.IMAP[i]
		where := fmt.Sprintf("imap[%d]", i)
		if a.TLS == "" {
			a.TLS = "implicit"
		}
		if a.Host != "" && !strings.Contains(strings.TrimPrefix(a.Host, "["), ":") {
			// The port its TLS mode implies: 993 for imaps, 143 otherwise.
			port := "993"
			if a.TLS == "starttls" || a.TLS == "none" {
				port = "143"
			}
			a.Host = net.JoinHostPort(a.Host, port)
		}
		host, port, err := net.SplitHostPort(a.Host)
		if err != nil || a.Host == "" {
			bad("%s.host: %q: want host or host:port (993 for tls = \"implicit\", 143 for starttls)", where, a.Host)
		}
		switch a.TLS {
		case "implicit", "starttls":
			// The well-known ports speak one way only.
			if a.TLS == "starttls" && port == "993" {
				bad("%s.tls: port 993 speaks implicit TLS; set tls = \"implicit\"", where)
			}
			if a.TLS == "implicit" && port == "143" {
				bad("%s.tls: port 143 starts in plain text; set tls = \"starttls\" (or use port 993)", where)
			}
		case "none":
			if err == nil && a.Host != "" && !isLoopbackHost(host) {
				bad("%s.tls: \"none\" sends the password and the mail in clear text; only for a server on this machine (not %q): use implicit or starttls", where, host)
			}
		default:
			bad("%s.tls: %q is not implicit, starttls or none", where, a.TLS)
		}
		if a.Username == "" {
			bad("%s.username: must be set", where)
		}
		if (a.PasswordFile == "") == (a.PasswordEnv == "") {
			bad("%s: set one of password_file or password_env", where)
		}
		if len(a.Mailboxes) == 0 {
			a.Mailboxes = []string{"INBOX"}
		}
		for j, m := range a.Mailboxes {
			if slices.ContainsFunc(a.Mailboxes[:j], func(o string) bool { return strings.EqualFold(o, m) }) {
				bad("%s.mailboxes: %q is listed twice", where, m)
			}
			if a.ProcessedMailbox != "" && strings.EqualFold(m, a.ProcessedMailbox) {
				bad("%s.processed_mailbox: %q is also in mailboxes: mail moved there would be read and moved again without end; name a mailbox that is not polled", where, a.ProcessedMailbox)
			}
		}
		if a.PollInterval == "" {
			a.PollInterval = "60s"
		}
		if d, err := time.ParseDuration(a.PollInterval); err != nil || d < time.Second {
			bad("%s.poll_interval: %q is not a duration of at least 1s (e.g. \"60s\")", where, a.PollInterval)
		}
		if a.Batch == 0 {
			a.Batch = 100
		}
		if a.Batch < 0 {
			bad("%s.batch: must be positive", where)
		}
		if a.ImportExisting == "" {
			a.ImportExisting = "unseen"
		}
		switch a.ImportExisting {
		case "unseen", "all", "none":
		default:
			bad("%s.import_existing: %q is not unseen, all or none", where, a.ImportExisting)
		}
		// The store keeps each mailbox's last UID under the account name:
		// two sections with one name would share it, and one would skip
		// the other's mail.
		name := strings.ToLower(a.account())
		if j, ok := names[name]; ok {
			bad("imap[%d] and %s have the same account name %q (name, else username@host): they would share the stored state and one would skip the other's mail; give each a different name", j, where, a.account())
		} else {
			names[name] = i
		}
	}
}

func (c *Config) registration() rules.Registration {
	return rules.Registration{
		Mode:                      rules.Mode(c.Reg.Mode),
		AutoApproveDomains:        c.Reg.AutoApproveDomains,
		PendingCanFile:            c.Reg.PendingCanFile,
		UnknownSender:             rules.UnknownSender(c.Reg.UnknownSender),
		RequireDKIMForAutoApprove: c.Reg.RequireDKIMForAutoApprove,
	}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
