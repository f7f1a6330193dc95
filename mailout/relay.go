package mailout

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/net/idna"
)

// RelayOptions configures the SMTP relay ([outbound] in the config).
type RelayOptions struct {
	Addr         string // host:port
	TLS          string // "starttls" (required), "implicit" (port 465) or "none" (loopback only); default by port
	Username     string // AUTH PLAIN or LOGIN when set
	PasswordFile string // the password: a file's content (trailing newline dropped) …
	PasswordEnv  string // … or an environment variable's name; never the command line
	HeloName     string // EHLO name; default the host name
	Timeout      time.Duration
	TLSConfig    *tls.Config // nil: system roots, server name from Addr
}

// Relay delivers through one SMTP relay (a smarthost), one connection per message.
type Relay struct {
	o        RelayOptions
	host     string
	password string

	mu   sync.Mutex
	caps Caps
	seen bool
}

// DefaultRelayTimeout bounds connecting and each SMTP command, including the
// reply to the end of DATA.
const DefaultRelayTimeout = 2 * time.Minute

// NewRelay checks the options and reads the password.
func NewRelay(o RelayOptions) (*Relay, error) {
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("mailout: relay %q: want host:port", o.Addr)
	}
	if o.TLS == "" {
		o.TLS = "starttls"
		if port == "465" {
			o.TLS = "implicit"
		}
	}
	switch o.TLS {
	case "starttls", "implicit":
	case "none":
		if !isLoopback(host) {
			return nil, fmt.Errorf("mailout: relay %s: tls = \"none\" is only allowed for a loopback relay; use starttls or implicit", o.Addr)
		}
	default:
		return nil, fmt.Errorf("mailout: relay tls %q: want starttls, implicit or none", o.TLS)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultRelayTimeout
	}
	if o.HeloName == "" {
		o.HeloName, _ = os.Hostname()
		if o.HeloName == "" {
			o.HeloName = "localhost"
		}
	}
	r := &Relay{o: o, host: host}
	if r.password, err = readPassword(o); err != nil {
		return nil, err
	}
	return r, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func readPassword(o RelayOptions) (string, error) {
	switch {
	case o.PasswordFile != "" && o.PasswordEnv != "":
		return "", errors.New("mailout: relay: set password_file or password_env, not both")
	case o.Username == "" && (o.PasswordFile != "" || o.PasswordEnv != ""):
		return "", errors.New("mailout: relay: a password without a username")
	case o.Username == "":
		return "", nil
	case o.PasswordFile != "":
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("mailout: relay password: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("mailout: relay password file %s is empty", o.PasswordFile)
		}
		return pw, nil
	case o.PasswordEnv != "":
		pw := os.Getenv(o.PasswordEnv)
		if pw == "" {
			return "", fmt.Errorf("mailout: relay password: environment variable %s is not set", o.PasswordEnv)
		}
		return pw, nil
	default:
		return "", fmt.Errorf("mailout: relay: username %q needs password_file or password_env", o.Username)
	}
}

func (r *Relay) fail(step string, err error) error {
	return fmt.Errorf("relay %s: %s: %w", r.o.Addr, step, err)
}

// Capabilities reports what the relay offers, connecting once to find out
// when no message has gone out yet.
func (r *Relay) Capabilities(ctx context.Context) (Caps, error) {
	r.mu.Lock()
	caps, seen := r.caps, r.seen
	r.mu.Unlock()
	if seen {
		return caps, nil
	}
	c, caps, err := r.connect(ctx)
	if err != nil {
		return Caps{}, err
	}
	c.Quit()
	c.Close()
	return caps, nil
}

// Send delivers msg to one recipient. 4xx replies and connection problems
// are temporary, 5xx permanent (see Temporary).
func (r *Relay) Send(ctx context.Context, from, to string, msg []byte) error {
	c, caps, err := r.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	wrap := func(step string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return r.fail(step, err)
	}

	if caps.MaxSize > 0 && len(msg) > caps.MaxSize {
		return Permanent(r.fail("SIZE", fmt.Errorf("message of %d bytes exceeds the relay's limit of %d", len(msg), caps.MaxSize)))
	}
	opts := &smtp.MailOptions{Size: int64(len(msg))}
	var utf8 bool
	if from, utf8, err = envelope(from, caps.SMTPUTF8); err != nil {
		return Permanent(r.fail("MAIL FROM", err))
	}
	opts.UTF8 = utf8
	if to, utf8, err = envelope(to, caps.SMTPUTF8); err != nil {
		return Permanent(r.fail("RCPT TO", err))
	}
	opts.UTF8 = opts.UTF8 || utf8
	if err := c.Mail(from, opts); err != nil {
		return wrap("MAIL FROM", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return wrap("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return wrap("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return wrap("DATA", err)
	}
	if err := w.Close(); err != nil {
		return wrap("end of DATA", err)
	}
	c.Quit() // accepted; a failing QUIT changes nothing
	return nil
}

// envelope prepares an envelope address: an IDN domain goes as punycode; a
// non-ASCII local part needs SMTPUTF8 (RFC 6531 §3.4).
func envelope(addr string, smtputf8 bool) (string, bool, error) {
	if isASCII(addr) {
		return addr, false, nil
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", false, fmt.Errorf("address %q has no domain", addr)
	}
	local, domain := addr[:at], addr[at+1:]
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", false, fmt.Errorf("address %q: domain: %w", addr, err)
	}
	if isASCII(local) {
		return local + "@" + ascii, false, nil
	}
	if !smtputf8 {
		return "", false, fmt.Errorf("address %q has a non-ASCII local part and the relay does not offer SMTPUTF8", addr)
	}
	return local + "@" + ascii, true, nil
}

// connect dials, secures, greets and authenticates.
func (r *Relay) connect(ctx context.Context) (*smtp.Client, Caps, error) {
	d := net.Dialer{Timeout: r.o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", r.o.Addr)
	if err != nil {
		return nil, Caps{}, r.fail("connect", err)
	}
	// Until the session is set up, ctx's end or the timeout closes the
	// connection (go-smtp's greeting wait is not ours to set).
	setup, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	stop := context.AfterFunc(setup, func() { conn.Close() })
	defer stop()

	cfg := r.tlsConfig()
	var c *smtp.Client
	switch r.o.TLS {
	case "implicit":
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(setup); err != nil {
			conn.Close()
			return nil, Caps{}, r.fail("TLS handshake", err)
		}
		c = smtp.NewClient(tc)
	case "starttls":
		c, err = smtp.NewClientStartTLS(conn, cfg)
		if err != nil {
			conn.Close()
			var se *smtp.SMTPError
			var ne net.Error
			if !errors.As(err, &se) && !errors.As(err, &ne) && strings.Contains(err.Error(), "STARTTLS") {
				// Sending in clear text (or our password) is never an option.
				err = errors.New("the relay does not offer STARTTLS, which tls = \"starttls\" requires; check the relay's TLS set-up or use tls = \"implicit\"")
				return nil, Caps{}, temporary(r.fail("STARTTLS", err))
			}
			return nil, Caps{}, r.fail("STARTTLS", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = r.o.Timeout
	c.SubmissionTimeout = r.o.Timeout
	if err := c.Hello(r.o.HeloName); err != nil {
		c.Close()
		return nil, Caps{}, r.fail("EHLO", err)
	}
	caps := Caps{}
	caps.SMTPUTF8, _ = c.Extension("SMTPUTF8")
	caps.EightBitMIME, _ = c.Extension("8BITMIME")
	if n, ok := c.MaxMessageSize(); ok {
		caps.MaxSize = n
	}
	r.mu.Lock()
	r.caps, r.seen = caps, true
	r.mu.Unlock()
	if r.o.Username != "" {
		if err := r.auth(c); err != nil {
			c.Close()
			return nil, Caps{}, err
		}
	}
	return c, caps, nil
}

func (r *Relay) auth(c *smtp.Client) error {
	var mech string
	var sc sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		mech, sc = sasl.Plain, sasl.NewPlainClient("", r.o.Username, r.password)
	case c.SupportsAuth(sasl.Login):
		mech, sc = sasl.Login, sasl.NewLoginClient(r.o.Username, r.password)
	default:
		return r.fail("AUTH", errors.New("the relay offers neither AUTH PLAIN nor LOGIN; a username is configured"))
	}
	if err := c.Auth(sc); err != nil {
		src := "password_file " + r.o.PasswordFile
		if r.o.PasswordEnv != "" {
			src = "environment variable " + r.o.PasswordEnv
		}
		return r.fail("AUTH "+mech, fmt.Errorf("authentication as %q failed (password from %s): %w", r.o.Username, src, err))
	}
	return nil
}

func (r *Relay) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if r.o.TLSConfig != nil {
		cfg = r.o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = r.host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}
