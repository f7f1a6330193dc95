package mailin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// ServerOptions configure the SMTP/LMTP listener.
type ServerOptions struct {
	Addr            string // host:port, or a path for a unix socket with LMTP
	LMTP            bool
	Domain          string // greeting host name
	MaxMessageBytes int64
	MaxRecipients   int
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
	srv.MaxLineLength = 4000 // RFC 5321 says 1000; real clients send longer
	srv.ReadTimeout = opt.ReadTimeout
	srv.WriteTimeout = opt.WriteTimeout
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogLogger{s.log}
	s.srv = srv
	return s
}

// Listen opens the socket (so a test or the daemon knows the address early).
func (s *Server) Listen() (net.Addr, error) {
	network := "tcp"
	if strings.HasPrefix(s.opt.Addr, "/") {
		network = "unix"
	}
	ln, err := net.Listen(network, s.opt.Addr)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	return ln.Addr(), nil
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

// Rcpt accepts only our own addresses: never relay.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr := NormalizeEmail(to)
	if addr == "" || !ss.s.in.opt.Identity.IsOwn(addr) {
		ss.s.log.Info("smtp: recipient refused", slog.String("rcpt", to), slog.String("remote", ss.remote))
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied: no such recipient here"}
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
)

func (ss *session) deliver(r io.Reader) (Result, error) {
	raw, err := Spool(r, ss.s.opt.SpoolDir, ss.s.opt.MaxMessageBytes)
	if err != nil {
		if errors.Is(err, ErrTooLarge) || errors.Is(err, smtp.ErrDataTooLarge) {
			io.Copy(io.Discard, r)
			return Result{}, errSize
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
	res, err := ss.s.in.Ingest(context.Background(), Delivery{Source: source, EnvelopeFrom: ss.from, EnvelopeKnown: true, EnvelopeTo: ss.to, Raw: raw})
	if err != nil {
		ss.s.log.Error("smtp: message not stored, answering 451", slog.Any("err", err), slog.String("remote", ss.remote))
		return res, errTemp
	}
	return res, nil
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Debug("smtp: " + strings.TrimSpace(sprintf(format, v...)))
}
func (s slogLogger) Println(v ...any) { s.l.Debug("smtp: " + strings.TrimSpace(sprintln(v...))) }
