package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tikkit/tikkit/store"
)

// Config is what cmd hands to NewHandler. Every field is optional: a nil
// Stats reports the database as unavailable, a nil Registry serves empty
// metrics, a nil Logger discards, a zero Started means "when NewHandler ran".
type Config struct {
	Version   string
	Started   time.Time
	Stats     func(ctx context.Context) (Stats, error)
	Listeners func() []Listener
	IMAP      func() []IMAPAccount // the polled IMAP accounts; nil when none
	Registry  *Registry
	Logger    *slog.Logger

	// The request status pages /r/{number}/{key} are served only when both
	// Store and VerifyKey are set; otherwise those paths are plain 404s.
	Store *store.Store
	// VerifyKey says whose key it is (wired by cmd to the rules signer).
	VerifyKey func(number int64, key string) (personID int64, ok bool)
	TagPrefix string // subject tag prefix shown on the page; "" means "REQ-"
}

// statsTimeout bounds one Stats call so a stuck database cannot hang the
// page or the health check; the check then answers 503.
const statsTimeout = 3 * time.Second

// errNoStats is the Stats error when Config.Stats is nil.
var errNoStats = errors.New("web: no stats source configured")

type handler struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// NewHandler returns the HTTP handler for GET / (status page), GET /healthz,
// GET /metrics and, when configured, the request pages under /r/ (see
// request.go). HEAD is allowed wherever GET is; other methods get 405,
// other paths 404. Every response carries the security headers, and a panic
// in a handler is logged and answered with 500.
func NewHandler(cfg Config) http.Handler {
	h := &handler{cfg: cfg, log: cfg.Logger, now: time.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.Started.IsZero() {
		h.cfg.Started = h.now()
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cache-Control", "no-store")

	tw := &trackingWriter{ResponseWriter: w}
	defer h.recoverPanic(tw, r)

	var serve func(http.ResponseWriter, *http.Request)
	switch p := r.URL.Path; {
	case p == "/":
		serve = h.status
	case p == "/healthz":
		serve = h.healthz
	case p == "/metrics":
		serve = h.metrics
	case strings.HasPrefix(p, "/r/") && h.requestPagesOn():
		serve = h.requestPages
	default:
		plain(tw, http.StatusNotFound, "not found\n")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		tw.Header().Set("Allow", "GET, HEAD")
		plain(tw, http.StatusMethodNotAllowed, "method not allowed\n")
		return
	}
	serve(tw, r)
}

// recoverPanic turns a panic into a logged 500. Responses are built in
// memory before the first byte is written, so the status can almost always
// still be set; when it cannot, the panic is only logged.
func (h *handler) recoverPanic(w *trackingWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		// Not a bug: the sanctioned way to abort a response; net/http
		// closes the connection quietly.
		panic(v)
	}
	h.log.Error("web: panic in handler", slog.String("path", r.URL.Path),
		slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
	if !w.wrote {
		w.Header().Del("Content-Length")
		plain(w, http.StatusInternalServerError, "internal error\n")
	}
}

// stats calls Config.Stats with a deadline.
func (h *handler) stats(ctx context.Context) (Stats, error) {
	if h.cfg.Stats == nil {
		return Stats{}, errNoStats
	}
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	return h.cfg.Stats(ctx)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.stats(r.Context())
	if err != nil {
		h.log.Warn("web: status page: stats unavailable", slog.Any("err", err))
	}
	var ls []Listener
	if h.cfg.Listeners != nil {
		ls = h.cfg.Listeners()
	}
	var imap []IMAPAccount
	if h.cfg.IMAP != nil {
		imap = h.cfg.IMAP()
	}
	page := buildPage(h.cfg.Version, h.cfg.Started, h.now(), st, err, ls, imap)
	var buf bytes.Buffer
	if terr := statusTmpl.Execute(&buf, page); terr != nil {
		panic(terr) // the template is embedded and tested; recoverPanic answers 500
	}
	code := http.StatusOK
	if err != nil {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := h.stats(r.Context()); err != nil {
		h.log.Warn("web: healthz: stats unavailable", slog.Any("err", err))
		reason := "database unavailable"
		if errors.Is(err, context.DeadlineExceeded) {
			reason += ": timeout"
		}
		plain(w, http.StatusServiceUnavailable, reason+"\n")
		return
	}
	plain(w, http.StatusOK, "ok\n")
}

func (h *handler) metrics(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if h.cfg.Registry != nil {
		h.cfg.Registry.WriteTo(&buf) // a bytes.Buffer does not fail
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(body))
}

// trackingWriter remembers whether the status line has gone out.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(p)
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
