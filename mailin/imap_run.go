package mailin

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"
)

// Run polls until ctx ends: a cycle, then IDLE on the first mailbox where
// the server offers it (a new message starts the next cycle at once), or a
// sleep of the poll interval. After an error it reconnects with exponential
// backoff and jitter, and logs once per outage, not once per try. When ctx
// ends, the message in flight is committed and marked before Run returns.
func (p *Poller) Run(ctx context.Context) {
	defer p.Disconnect()
	var down time.Time // start of the current outage
	failures, quick := 0, 0
	for ctx.Err() == nil {
		n, err := p.PollOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil && p.takeRetrySoon() && quick < maxQuickRetries {
			// A message broke the fetch and is isolated now: go on at
			// once (noteFetch logged it). Bounded, in case the fetch
			// breaks at a different message every time.
			quick++
			sleep(ctx, p.minBackoff)
			continue
		}
		if err == nil {
			quick = 0
		}
		if err != nil {
			failures++
			if down.IsZero() {
				down = time.Now()
				p.log.Error("imap: polling failed; retrying with backoff", slog.Any("err", err))
			} else {
				p.log.Debug("imap: still failing", slog.Int("tries", failures), slog.Any("err", err))
			}
			sleep(ctx, p.backoff(failures))
			continue
		}
		if !down.IsZero() {
			p.log.Info("imap: polling again", slog.Duration("outage", time.Since(down).Round(time.Second)), slog.Int("tries", failures))
			down, failures = time.Time{}, 0
		}
		if n > 0 {
			p.log.Debug("imap: cycle", slog.Int("fetched", n))
		}
		p.wait(ctx)
	}
}

// wait idles on the first mailbox until new mail or the poll interval, or
// sleeps the interval when IDLE is off or missing.
func (p *Poller) wait(ctx context.Context) {
	if !p.acc.IDLE {
		sleep(ctx, p.acc.PollInterval)
		return
	}
	p.connMu.Lock()
	c := p.conn
	var ok bool
	var err error
	// IDLE on the first mailbox the server opens.
	mbox := ""
	for _, m := range p.acc.Mailboxes {
		if !p.missing[m] {
			mbox = m
			break
		}
	}
	if mbox == "" {
		c = nil // none: just wait
	}
	if c != nil {
		if _, err = c.Select(mbox); err == nil {
			ok, err = c.Idle(ctx, p.acc.PollInterval)
		}
		if err != nil {
			// Not an outage yet: the next cycle reconnects, and says so
			// if it cannot. But a server that hung while we idled is
			// worth a line.
			if ctx.Err() == nil {
				p.log.Warn("imap: the connection broke while idle; reconnecting", slog.String("mailbox", mbox), slog.Any("err", err))
			}
			p.drop()
		}
	}
	p.connMu.Unlock()
	switch {
	case c == nil || (!ok && err == nil):
		sleep(ctx, p.acc.PollInterval)
	case err != nil:
		// Poll again soon (mail may have come), but never in a tight
		// loop against a server whose IDLE always fails.
		sleep(ctx, min(time.Second, p.acc.PollInterval))
	}
}

// maxQuickRetries bounds the cycles in a row that retry at once after a
// fetch broke off at a message (each bad message costs 1 + maxFetchTries).
const maxQuickRetries = 4 * (1 + maxFetchTries)

// takeRetrySoon reports and clears the poller's retrySoon.
func (p *Poller) takeRetrySoon() bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	r := p.retrySoon
	p.retrySoon = false
	return r
}

// backoff is the wait before try n+1: doubling from minBackoff up to
// maxBackoff, with full jitter over its upper half so that many tikkits
// cut off by the same outage do not all come back at the same instant.
func (p *Poller) backoff(n int) time.Duration {
	d := p.minBackoff
	for i := 1; i < n && d < p.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// CheckIMAP connects and logs in as acc, lists every mailbox with its
// counts, and checks that the mailboxes acc polls exist; for `tikkitd imap
// test`. The error is an *IMAPError naming the failed step.
func CheckIMAP(ctx context.Context, acc IMAPAccount) ([]MailboxCount, error) {
	c, err := dialIMAP(ctx, acc, "")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	list, err := c.Mailboxes()
	if err != nil {
		return nil, err
	}
	// The polled mailboxes must exist.
	want := acc.Mailboxes
	if len(want) == 0 {
		want = []string{"INBOX"}
	}
	for _, m := range want {
		if !HasMailbox(list, m) {
			return list, &IMAPError{Step: "select", Host: acc.Host, Err: fmt.Errorf("mailbox %q does not exist", m)}
		}
	}
	// processed_mailbox is created now when missing, as the first move
	// would: a name the server refuses (a wrong hierarchy separator, say)
	// shows here, not as a move failing in the daemon.
	if m := acc.ProcessedMailbox; m != "" && !HasMailbox(list, m) {
		if err := c.CreateMailbox(m); err != nil {
			return list, err
		}
		if list, err = c.Mailboxes(); err != nil {
			return list, err
		}
		for i := range list {
			if list[i].Name == m {
				list[i].Created = true
			}
		}
	}
	return list, nil
}

// HasMailbox reports whether name is in list (INBOX in any case, RFC 3501
// §5.1; other names exactly).
func HasMailbox(list []MailboxCount, name string) bool {
	for _, l := range list {
		if l.Name == name || (strings.EqualFold(name, "INBOX") && strings.EqualFold(l.Name, "INBOX")) {
			return true
		}
	}
	return false
}
