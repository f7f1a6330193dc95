package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tikkit/tikkit/mailin"
	"github.com/tikkit/tikkit/mailout"
	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
	"github.com/tikkit/tikkit/web"
)

// listenerState is one listener as the status page shows it.
type listenerState struct {
	name, addr string
	up         atomic.Bool
}

func cmdServe(args []string, stderr io.Writer) int {
	c := newCommon("serve", stderr)
	if code, done := c.parse(args, stderr, slog.LevelInfo); done {
		return code
	}
	// The daemon's live heap is small and its garbage is per message: collect
	// half as often as Go's default unless the operator set GOGC.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c.cfg, c.log, nil); err != nil {
		c.log.Error("tikkitd: " + err.Error())
		return exitSoftware
	}
	return exitOK
}

// serve runs the daemon until ctx ends. ready, when set, receives the bound
// addresses (for tests).
func serve(ctx context.Context, cfg Config, log *slog.Logger, ready func(map[string]net.Addr)) error {
	// The IMAP passwords, read before anything starts.
	imapAccs, err := imapAccountsOf(cfg.IMAP)
	if err != nil {
		return err
	}
	st, err := store.Open(cfg.DataDir, log)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := web.NewRegistry()
	ingested := web.NewCounterVec("tikkit_messages_ingested_total", "Messages through the ingest path, by outcome.", "outcome")
	latency := web.NewHistogram("tikkit_ingest_seconds", "Time from a complete message to its commit.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})
	reg.MustRegister(ingested, latency)

	c := &common{cfg: cfg, log: log}
	key, err := store.SecretKey(cfg.DataDir)
	if err != nil {
		return err
	}
	signer, err := rules.NewSigner(key)
	if err != nil {
		return err
	}
	out, err := newOutbound(cfg, st, signer, log)
	if err != nil {
		return err
	}
	sentMetric := web.NewCounterVec("tikkit_outbound_attempts_total", "Outbound delivery attempts, by result.", "result")
	reg.MustRegister(sentMetric, outboxGauge(st))
	out.Observe = func(status string) { sentMetric.With(status).Inc() }
	// One daemon per data directory: deliveries a stopped daemon left half
	// done are due again now, not when their lease runs out.
	if n, err := st.ReleaseClaims(context.Background(), time.Now()); err != nil {
		return err
	} else if n > 0 {
		log.Warn("outbound: retrying deliveries interrupted by the last stop", slog.Int64("messages", n))
	}
	worker := mailout.NewWorker(out)
	opt := c.ingestOptions(signer)
	opt.OnQueued = worker.Notify
	opt.Observe = func(outcome string, seconds float64) {
		ingested.With(outcome).Inc()
		latency.Observe(seconds)
	}
	in := mailin.NewIngester(st, opt)
	defer in.Close()
	workerCtx, stopWorker := context.WithCancel(context.Background())
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); worker.Run(workerCtx) }()
	defer func() { stopWorker(); <-workerDone }()

	var (
		listeners []*listenerState
		servers   []*mailin.Server
		wg        sync.WaitGroup
		errc      = make(chan error, 4)
		addrs     = map[string]net.Addr{}
	)
	for _, l := range []struct {
		name, addr string
		lmtp       bool
	}{{"smtp", cfg.SMTP.Listen, false}, {"lmtp", cfg.SMTP.LMTP, true}} {
		if l.addr == "" {
			continue
		}
		srv := mailin.NewServer(in, mailin.ServerOptions{Addr: l.addr, LMTP: l.lmtp, Domain: cfg.SMTP.Hostname,
			MaxMessageBytes: cfg.SMTP.MaxMessageBytes, MaxRecipients: cfg.SMTP.MaxRecipients,
			MaxConnections: cfg.SMTP.MaxConnections,
			SpoolDir:       st.Blobs.TempDir(), Logger: log})
		a, err := srv.Listen()
		if err != nil {
			return fmt.Errorf("%s listener: %w", l.name, err)
		}
		addrs[l.name] = a
		ls := &listenerState{name: l.name, addr: a.String()}
		ls.up.Store(true)
		listeners = append(listeners, ls)
		servers = append(servers, srv)
		log.Info("tikkitd: listening", slog.String("protocol", l.name), slog.String("addr", a.String()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := srv.Serve()
			ls.up.Store(false)
			if err != nil {
				errc <- fmt.Errorf("%s listener: %w", ls.name, err)
			}
		}()
	}

	// IMAP accounts: one poller each, stopped with the daemon.
	var pollers []*mailin.Poller
	for _, acc := range imapAccs {
		p := mailin.NewPoller(in, st, acc, log)
		pollers = append(pollers, p)
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx) }()
	}
	snaps := imapSnaps(pollers, imapLabels(cfg.IMAP))
	if len(pollers) > 0 {
		reg.MustRegister(imapMetrics(snaps)...)
	}

	started := time.Now()
	var httpSrv *http.Server
	if cfg.HTTP.Listen != "" {
		h := web.NewHandler(web.Config{
			Version: version,
			Started: started,
			Stats: func(ctx context.Context) (web.Stats, error) {
				y, m, d := time.Now().Date()
				s, err := st.Stats(ctx, time.Date(y, m, d, 0, 0, 0, 0, time.Local))
				if err != nil {
					return web.Stats{}, err
				}
				ob, err := st.OutboxCounts(ctx)
				return web.Stats{OpenRequests: s.OpenRequests, ClosedRequests: s.ClosedRequests, MessagesToday: s.MessagesToday,
					HeldMessages: s.HeldMessages, TotalMessages: s.TotalMessages, LastMessageAt: s.LastMessageAt,
					OutboxQueued: ob["queued"] + ob["sending"], OutboxSent: ob["sent"], OutboxFailed: ob["failed"],
					OutboxHeld: ob["suppressed"]}, err
			},
			Listeners: func() []web.Listener {
				var out []web.Listener
				for _, l := range listeners {
					out = append(out, web.Listener{Name: l.name, Addr: l.addr, Up: l.up.Load()})
				}
				return out
			},
			IMAP:      imapAccounts(snaps),
			Registry:  reg,
			Logger:    log,
			Store:     st,
			VerifyKey: signer.VerifyPageKey,
			TagPrefix: cfg.Mail.SubjectTagPrefix,
		})
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http listener: %w", err)
		}
		addrs["http"] = ln.Addr()
		ls := &listenerState{name: "http", addr: ln.Addr().String()}
		ls.up.Store(true)
		listeners = append(listeners, ls)
		httpSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
		log.Info("tikkitd: listening", slog.String("protocol", "http"), slog.String("addr", ln.Addr().String()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http listener: %w", err)
			}
			ls.up.Store(false)
		}()
	}
	if ready != nil {
		ready(addrs)
	}
	log.Info("tikkitd: started", slog.String("version", version), slog.String("data_dir", cfg.DataDir), slog.String("address", cfg.Mail.Address))

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("tikkitd: shutting down")
	case runErr = <-errc:
		log.Error("tikkitd: " + runErr.Error())
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(shutCtx) // waits for messages in flight
	}
	if httpSrv != nil {
		httpSrv.Shutdown(shutCtx)
	}
	wg.Wait()
	return runErr
}
