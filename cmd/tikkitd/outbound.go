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

// imapGauge exposes each IMAP account's state on /metrics.
func imapGauge(ps []*mailin.Poller) web.Metric {
	return web.NewGaugeVecFunc("tikkit_imap_connected", "1 when the IMAP account is connected.", "account", func() map[string]float64 {
		out := map[string]float64{}
		for _, p := range ps {
			st := p.Status()
			v := 0.0
			if st.Connected {
				v = 1
			}
			out[st.Account] = v
		}
		return out
	})
}
