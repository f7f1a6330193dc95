package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tikkit/tikkit/mailin"
	"github.com/tikkit/tikkit/mailout"
	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
	"github.com/tikkit/tikkit/templates"
	"github.com/tikkit/tikkit/web"
)

// newOutbound wires the outbox worker: templates (parsed now, so a broken
// override stops the start), the relay or the local maildir, DKIM.
func newOutbound(cfg Config, st *store.Store, signer *rules.Signer, log *slog.Logger) (mailout.WorkerOptions, error) {
	var o mailout.WorkerOptions
	tpl, err := templates.Load(cfg.Out.TemplatesDir)
	if err != nil {
		return o, err
	}
	var sender mailout.Sender
	smtputf8 := false
	if cfg.Out.Relay != "" {
		relay, err := mailout.NewRelay(mailout.RelayOptions{Addr: cfg.Out.Relay, TLS: cfg.Out.TLS, Username: cfg.Out.Username,
			PasswordFile: cfg.Out.PasswordFile, PasswordEnv: cfg.Out.PasswordEnv, HeloName: cfg.SMTP.Hostname})
		if err != nil {
			return o, fmt.Errorf("outbound: %w", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if caps, err := relay.Capabilities(ctx); err == nil {
			smtputf8 = caps.SMTPUTF8
		} else {
			log.Warn("outbound: relay not reachable now; mail waits in the outbox", slog.Any("err", err))
		}
		cancel()
		sender = relay
	} else {
		md, err := mailout.NewMaildir(filepath.Join(cfg.DataDir, "outbound"))
		if err != nil {
			return o, err
		}
		log.Info("outbound: no relay configured; mail goes to the local maildir", slog.String("dir", md.Dir()))
		sender = md
	}
	ro := mailout.RenderOptions{Templates: tpl, Signer: signer, PublicURL: cfg.HTTP.PublicURL, SMTPUTF8: smtputf8,
		From: mailout.Address{Email: cfg.Mail.Address, Name: cfg.Out.FromName}}
	if cfg.Out.DKIMDomain != "" {
		key, err := mailout.LoadDKIMKey(cfg.Out.DKIMKeyFile)
		if err != nil {
			return o, err
		}
		ro.DKIM = &mailout.DKIMOptions{Domain: cfg.Out.DKIMDomain, Selector: cfg.Out.DKIMSelector, Signer: key}
	}
	return mailout.WorkerOptions{Store: st, Sender: sender, Compose: mailout.Renderer(ro), From: cfg.Mail.Address, Logger: log}, nil
}

// outboxGauge exposes the outbox by status on /metrics.
func outboxGauge(st *store.Store) web.Metric {
	return web.NewGaugeVecFunc("tikkit_outbox_messages", "Outbound messages in the outbox, by status.", "status", func() map[string]float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		counts, err := st.OutboxCounts(ctx)
		out := map[string]float64{}
		if err != nil {
			return out
		}
		for k, v := range counts {
			out[k] = float64(v)
		}
		return out
	})
}

// checkOutboundFiles loads what [outbound] names — templates, the relay
// password, the DKIM key — as serve would, for check-config.
func checkOutboundFiles(cfg Config) error {
	if _, err := templates.Load(cfg.Out.TemplatesDir); err != nil {
		return fmt.Errorf("outbound.templates_dir: %w", err)
	}
	if cfg.Out.PasswordFile != "" {
		if _, err := os.ReadFile(cfg.Out.PasswordFile); err != nil {
			return fmt.Errorf("outbound.password_file: %w", err)
		}
	}
	if cfg.Out.PasswordEnv != "" {
		if _, ok := os.LookupEnv(cfg.Out.PasswordEnv); !ok {
			return fmt.Errorf("outbound.password_env: $%s is not set in this environment", cfg.Out.PasswordEnv)
		}
	}
	if cfg.Out.DKIMKeyFile != "" {
		if _, err := mailout.LoadDKIMKey(cfg.Out.DKIMKeyFile); err != nil {
			return fmt.Errorf("outbound.dkim_key_file: %w", err)
		}
	}
	return nil
}

// imapSnap is one IMAP account's state under the name the status page and
// /metrics show for it.
type imapSnap struct {
	Label string
	mailin.PollerStatus
}

// imapLabels names each [[imap]] account for the page and /metrics: its
// configured name, else its host (never the user name, which is often a
// person's address), made unique with "#2", "#3"… when hosts repeat.
func imapLabels(cs []IMAPConfig) []string {
	seen := map[string]int{}
	var out []string
	for _, c := range cs {
		l := c.Name
		if l == "" {
			l = c.Host
		}
		seen[l]++
		if n := seen[l]; n > 1 {
			l = fmt.Sprintf("%s#%d", l, n)
		}
		out = append(out, l)
	}
	return out
}

// imapSnaps reads every poller's status under its label.
func imapSnaps(ps []*mailin.Poller, labels []string) func() []imapSnap {
	return func() []imapSnap {
		out := make([]imapSnap, len(ps))
		for i, p := range ps {
			out[i] = imapSnap{Label: labels[i], PollerStatus: p.Status()}
		}
		return out
	}
}

// imapMetrics exposes each IMAP account's state on /metrics: connection,
// last successful poll per mailbox (0 until the first), messages fetched
// and errors. All are read from the pollers at scrape time.
func imapMetrics(snaps func() []imapSnap) []web.Metric {
	perAccount := func(f func(s imapSnap) float64) func() map[string]float64 {
		return func() map[string]float64 {
			out := map[string]float64{}
			for _, s := range snaps() {
				out[s.Label] = f(s)
			}
			return out
		}
	}
	return []web.Metric{
		web.NewGaugeVecFunc("tikkit_imap_connected", "1 when the IMAP account is connected.", "account",
			perAccount(func(s imapSnap) float64 {
				if s.Connected {
					return 1
				}
				return 0
			})),
		web.NewGaugeVecFunc("tikkit_imap_last_poll_timestamp_seconds",
			"Unix time of the last successful poll of each IMAP mailbox (account/mailbox); 0 before the first.", "mailbox",
			func() map[string]float64 {
				out := map[string]float64{}
				for _, s := range snaps() {
					for _, m := range s.Mailboxes {
						v := 0.0
						if !m.LastPoll.IsZero() {
							v = float64(m.LastPoll.UnixMilli()) / 1000
						}
						out[s.Label+"/"+m.Name] = v
					}
				}
				return out
			}),
		web.NewCounterVecFunc("tikkit_imap_fetched_total", "Messages filed from each IMAP account since start (fetched again as duplicates: not counted).", "account",
			perAccount(func(s imapSnap) float64 { return float64(s.Fetched) })),
		web.NewCounterVecFunc("tikkit_imap_errors_total", "Failed IMAP cycles and connection attempts per account since start.", "account",
			perAccount(func(s imapSnap) float64 { return float64(s.Errors) })),
		web.NewCounterVecFunc("tikkit_imap_skipped_total", "Messages the IMAP server would not return, skipped and left in the mailbox, since start.", "account",
			perAccount(func(s imapSnap) float64 { return float64(s.Skipped) })),
	}
}

// imapAccounts is the status page's view of the IMAP accounts: the last
// successful poll of an account is the oldest of its mailboxes' (zero
// while any mailbox has never been polled); of the last error, the step
// and the time, not the text (it can name the user).
func imapAccounts(snaps func() []imapSnap) func() []web.IMAPAccount {
	return func() []web.IMAPAccount {
		var out []web.IMAPAccount
		for _, s := range snaps() {
			a := web.IMAPAccount{Name: s.Label, Connected: s.Connected, Fetched: s.Fetched, Errors: s.Errors, Skipped: s.Skipped, MoveRefused: s.MoveRefused,
				LastErrorStep: s.LastStep, LastErrorAt: s.LastErrorAt}
			for i, m := range s.Mailboxes {
				if m.LastPoll.IsZero() {
					a.LastPoll = time.Time{}
					break
				}
				if i == 0 || m.LastPoll.Before(a.LastPoll) {
					a.LastPoll = m.LastPoll
				}
			}
			out = append(out, a)
		}
		return out
	}
}
