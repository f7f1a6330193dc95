package mailin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"
)

// ServerOptions configure the SMTP/LMTP listener.
type ServerOptions struct {
	Addr            string // host:port, or a path for a unix socket with LMTP
	LMTP            bool
	Domain          string // greeting host name
	MaxMessageBytes int64
	MaxRecipients   int
	MaxConnections  int // at once; more wait to be accepted (0: no limit)
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	SpoolDir        string
	Logger          *slog.Logger
}

// Server accepts mail for our own addresses only and hands each message to
// the ingester; it answers 250 only after the message is committed.
type Server struct {
	srv *smtp.Server
	in  *Ingester
	opt ServerOptions
	log *slog.Logger
	ln  net.Listener
}

// NewServer builds a listener; call Listen then Serve.
func NewServer(in *Ingester, opt ServerOptions) *Server {
	if opt.MaxRecipients <= 0 {
		opt.MaxRecipients = 50
	}
	if opt.ReadTimeout <= 0 {
		opt.ReadTimeout = 5 * time.Minute
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 1 * time.Minute
	}
	if opt.Domain == "" {
		opt.Domain = "localhost"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{in: in, opt: opt, log: opt.Logger}
	srv := smtp.NewServer(s)
	srv.Addr = opt.Addr
	srv.LMTP = opt.LMTP
	srv.Domain = opt.Domain
	srv.MaxMessageBytes = opt.MaxMessageBytes
	srv.MaxRecipients = opt.MaxRecipients
	// RFC 5321 §4.5.3.1.6 says 1000, but HTML mail from real clients has far
	// longer lines. go-smtp counts line length on the stream without
	// buffering lines, so a large limit costs no memory.
	srv.MaxLineLength = maxLineLength
	srv.ReadTimeout = opt.ReadTimeout
	srv.WriteTimeout = opt.WriteTimeout
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogLogger{s.log}
	s.srv = srv
	return s
}

// Listen opens the socket (so a test or the daemon knows the address early).
// A unix socket left behind by a crash is removed; the new one is mode 0666,
// as open to local users as a loopback port is, so the MTA's user can
// deliver (Dovecot's LMTP socket does the same).
func (s *Server) Listen() (net.Addr, error) {
	network := "tcp"
	if strings.HasPrefix(s.opt.Addr, "/") {
		network = "unix"
		removeStaleSocket(s.opt.Addr)
	}
	ln, err := net.Listen(network, s.opt.Addr)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		if err := os.Chmod(s.opt.Addr, 0o666); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if s.opt.MaxConnections > 0 {
		ln = netutil.LimitListener(ln, s.opt.MaxConnections)
	}
	ln = crlfListener{ln}
	s.ln = ln
	return ln.Addr(), nil
}

// removeStaleSocket deletes a unix socket nobody listens on any more.
func removeStaleSocket(path string) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close() // someone is listening: leave it, Listen will say so
		return
	}
	os.Remove(path)
}

// Serve accepts connections until Shutdown.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for sessions in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, remote: c.Conn().RemoteAddr().String()}, nil
}

type session struct {
	s      *Server
	remote string
	from   string
	to     []string
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = strings.ToLower(from)
	ss.to = nil
	return nil
}

// maxLineLength bounds one line of a command or of message data.
const maxLineLength = 1 << 20

// Rcpt accepts only our own addresses (and postmaster, RFC 5321 §4.5.1):
// never relay.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr := NormalizeEmail(to)
	id := ss.s.in.opt.Identity
	if strings.EqualFold(strings.TrimSpace(to), "postmaster") || id.IsPostmaster(addr) {
		ss.to = append(ss.to, "postmaster")
		return nil
	}
	if addr == "" || !id.IsOwn(addr) {
		ss.s.log.Info("smtp: recipient refused", slog.String("rcpt", to), slog.String("remote", ss.remote))
		if id.IsOwnDomain(addr) {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
		}
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied"}
	}
	ss.to = append(ss.to, addr)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	_, err := ss.deliver(r)
	return err
}

// LMTPData gives every recipient the status of the one stored message.
func (ss *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	_, err := ss.deliver(r)
	for _, rcpt := range ss.to {
		status.SetStatus(rcpt, err)
	}
	return err
}

var (
	errTemp = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, please try again later"}
	errSize = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big"}
	errLine = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Line too long"}
)

func (ss *session) deliver(r io.Reader) (Result, error) {
	raw, err := Spool(r, ss.s.opt.SpoolDir, ss.s.opt.MaxMessageBytes)
	if err != nil {
		if errors.Is(err, ErrTooLarge) || errors.Is(err, smtp.ErrDataTooLarge) {
			io.Copy(io.Discard, r)
			ss.s.log.Info("smtp: message refused: over max_message_bytes", slog.String("from", ss.from),
				slog.Int64("max", ss.s.opt.MaxMessageBytes), slog.String("remote", ss.remote))
			return Result{}, errSize
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			ss.s.log.Info("smtp: message refused: line over 1 MiB", slog.String("from", ss.from), slog.String("remote", ss.remote))
			return Result{}, errLine
		}
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return Result{}, se
		}
		ss.s.log.Warn("smtp: reading message", slog.Any("err", err), slog.String("remote", ss.remote))
		return Result{}, errTemp
	}
	source := "smtp"
	if ss.s.opt.LMTP {
		source = "lmtp"
	}
	d := Delivery{Source: source, EnvelopeFrom: ss.from, EnvelopeKnown: true, EnvelopeTo: ss.to, Raw: raw, Postmaster: true}
	for _, rcpt := range ss.to {
		d.Postmaster = d.Postmaster && rcpt == "postmaster"
	}
	res, err := ss.s.in.Ingest(context.Background(), d)
	if err != nil {
		ss.s.log.Error("smtp: message not stored, answering 451", slog.Any("err", err), slog.String("remote", ss.remote))
		return res, errTemp
	}
	return res, nil
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Debug("smtp: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}
func (s slogLogger) Println(v ...any) { s.l.Debug("smtp: " + strings.TrimSpace(fmt.Sprintln(v...))) }
