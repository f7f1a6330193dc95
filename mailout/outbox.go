package mailout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/tikkit/tikkit/store"
)

// Sender delivers one message to one recipient. Its error is classified by
// Temporary: temporary failures are retried, permanent ones are not.
type Sender interface {
	Send(ctx context.Context, from string, to string, msg []byte) error
}

// Caps is what a sender's far side supports.
type Caps struct {
	SMTPUTF8     bool // RFC 6531: non-ASCII addresses and headers may go as they are
	EightBitMIME bool // RFC 6152
	MaxSize      int  // RFC 1870 SIZE, 0 when not announced
}

type classified struct {
	err  error
	temp bool
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() error { return e.err }

// Permanent marks err as a permanent failure: the message is not retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, temp: false}
}

// temporary marks err as a temporary failure whatever it wraps.
func temporary(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, temp: true}
}

// Temporary reports whether a delivery error is worth retrying. This is the
// one place that decides (STYLE: errors at the mail boundary):
// an error marked by Permanent or temporary keeps its mark; an SMTP reply is
// temporary when it is 4xx (RFC 5321 §4.2.1) and permanent when 5xx;
// everything else — refused or dropped connections, timeouts, a full disk —
// is temporary, bounded by the worker's attempts and age limits.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var c *classified
	if errors.As(err, &c) {
		return c.temp
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code/100 != 5
	}
	return true
}

// Backoff is the delay after the given number of failed attempts (1 for the
// first): base, 2·base, 4·base … capped at max.
func Backoff(attempts int, base, max time.Duration) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	d := base
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= max || d <= 0 {
			return max
		}
	}
	return min(d, max)
}

// jitter spreads d by ±10 % so that retries after an outage do not arrive
// together, staying within max.
func jitter(d, max time.Duration) time.Duration {
	j := d / 10
	if j > 0 {
		d += time.Duration(rand.Int64N(int64(2*j)+1)) - j
	}
	return min(d, max)
}

// WorkerOptions configures the outbox worker. Zero values take defaults.
type WorkerOptions struct {
	Store       *store.Store
	Sender      Sender
	Compose     func(store.OutboxRow) ([]byte, error) // renders a row; an error fails the row for good
	From        string                                // envelope sender (MAIL FROM)
	Base, Max   time.Duration                         // backoff: first delay (1m) and cap (6h)
	MaxAttempts int                                   // give up after this many attempts (12)
	MaxAge      time.Duration                         // or when the row is this old (48h)
	Lease       time.Duration                         // a claim lasts this long (15m); longer than one delivery
	Poll        time.Duration                         // look for due rows at least this often (30s)
	Batch       int                                   // rows claimed at once (1); Lease must cover a batch
	Logger      *slog.Logger
	Observe     func(status string) // "sent", "retry" or "failed" after each attempt (metrics)
}

// Worker delivers the outbox: it claims due rows, composes, sends and
// records the outcome. Several workers (or processes) may share one store.
type Worker struct {
	o    WorkerOptions
	log  *slog.Logger
	wake chan struct{}
	now  func() time.Time
}

// NewWorker returns a worker; Run starts it.
func NewWorker(o WorkerOptions) *Worker {
	if o.Base <= 0 {
		o.Base = time.Minute
	}
	if o.Max <= 0 {
		o.Max = 6 * time.Hour
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 48 * time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = 15 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 30 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.Observe == nil {
		o.Observe = func(string) {}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{o: o, log: log, wake: make(chan struct{}, 1), now: func() time.Time { return time.Now().UTC() }}
}

// Notify wakes the worker; call it after committing a change that queued mail.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// minWait keeps a worker whose next row is already due from spinning.
const minWait = 5 * time.Millisecond

// Run delivers until ctx is cancelled. A message in flight when ctx ends is
// finished (bounded by the sender's timeouts) and its outcome recorded.
func (w *Worker) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		ok := w.drain(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := w.o.Poll
		if ok {
			if next, err := w.o.Store.NextDue(ctx); err == nil {
				wait = max(min(next.Sub(w.now()), wait), minWait)
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// drain delivers due rows until none is left; false after a store error.
func (w *Worker) drain(ctx context.Context) bool {
	for ctx.Err() == nil {
		rows, err := w.o.Store.ClaimDue(ctx, w.now(), w.o.Lease, w.o.Batch)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("mailout: claim due mail", slog.Any("err", err))
			}
			return false
		}
		if len(rows) == 0 {
			return true
		}
		for i, row := range rows {
			if ctx.Err() != nil {
				w.unclaim(context.WithoutCancel(ctx), rows[i:])
				return true
			}
			w.deliver(ctx, row)
		}
	}
	return true
}

func (w *Worker) unclaim(ctx context.Context, rows []store.OutboxRow) {
	for _, r := range rows {
		if err := w.o.Store.Unclaim(ctx, r.ID); err != nil {
			w.log.Warn("mailout: unclaim", slog.Int64("outbox_id", r.ID), slog.Any("err", err))
		}
	}
}

// deliver makes one attempt at a claimed row and records the outcome. It
// never panics: a panic fails the row and the worker carries on.
func (w *Worker) deliver(ctx context.Context, row store.OutboxRow) {
	// The outcome is recorded even when the worker is stopping.
	ctx = context.WithoutCancel(ctx)
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("mailout: panic delivering", slog.Int64("outbox_id", row.ID),
				slog.String("message_id", row.OutMessageID), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			w.record(ctx, row, Permanent(fmt.Errorf("internal error: %v", p)))
		}
	}()
	// A row claimed over and over without an outcome (its worker crashed
	// each time) is given up like any other.
	if row.Attempts > w.o.MaxAttempts {
		w.record(ctx, row, Permanent(fmt.Errorf("gave up after %d attempts (last: %s)", row.Attempts-1, orNone(row.LastError))))
		return
	}
	msg, err := w.o.Compose(row)
	if err != nil {
		w.record(ctx, row, Permanent(fmt.Errorf("compose: %w", err)))
		return
	}
	w.record(ctx, row, w.o.Sender.Send(ctx, w.o.From, row.ToEmail, msg))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// record marks the row sent, due again after a backoff, or failed.
func (w *Worker) record(ctx context.Context, row store.OutboxRow, err error) {
	now := w.now()
	attrs := []any{slog.Int64("outbox_id", row.ID), slog.String("message_id", row.OutMessageID),
		slog.String("kind", row.Kind), slog.Int("attempt", row.Attempts)}
	var status string
	var merr error
	switch {
	case err == nil:
		status = store.OutboxSent
		merr = w.o.Store.MarkSent(ctx, row.ID, now)
		w.log.Info("mailout: sent", attrs...)
	case Temporary(err) && row.Attempts < w.o.MaxAttempts && now.Sub(row.CreatedAt) < w.o.MaxAge:
		status = "retry"
		next := now.Add(jitter(Backoff(row.Attempts, w.o.Base, w.o.Max), w.o.Max))
		merr = w.o.Store.MarkRetry(ctx, row.ID, next, err.Error())
		w.log.Warn("mailout: temporary failure", append(attrs, slog.Time("next_attempt", next), slog.Any("err", err))...)
	default:
		status = store.OutboxFailed
		text := err.Error()
		if Temporary(err) {
			text = fmt.Sprintf("gave up after %d attempts over %s: %s", row.Attempts, now.Sub(row.CreatedAt).Round(time.Second), text)
		}
		merr = w.o.Store.MarkFailed(ctx, row.ID, text)
		w.log.Error("mailout: delivery failed", append(attrs, slog.String("err", text))...)
	}
	if merr != nil {
		// The row stays "sending" and is due again when its lease ends.
		w.log.Error("mailout: record outcome", append(attrs, slog.String("status", status), slog.Any("err", merr))...)
		return
	}
	w.o.Observe(status)
}
