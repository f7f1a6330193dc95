package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Outbox statuses.
const (
	OutboxQueued     = "queued"
	OutboxSending    = "sending"
	OutboxSent       = "sent"
	OutboxFailed     = "failed"
	OutboxSuppressed = "suppressed"
)

// OutboxRow is one outbound message waiting for, in, or done with delivery.
// The body is rendered at delivery from Kind and Data.
type OutboxRow struct {
	ID            int64         `db:"id"`
	Kind          string        `db:"kind"` // ack | update | reply | closed | reopened | refusal | welcome | pending | approved | denied
	RequestID     sql.NullInt64 `db:"request_id"`
	PersonID      sql.NullInt64 `db:"person_id"`
	CauseID       sql.NullInt64 `db:"cause_id"` // the inbound message that caused it
	ToEmail       string        `db:"to_email"`
	ToName        string        `db:"to_name"`
	Subject       string        `db:"subject"`
	OutMessageID  string        `db:"out_message_id"` // without brackets
	InReplyTo     string        `db:"in_reply_to"`
	Refs          string        `db:"refs"`      // space-separated Message-IDs
	Data          string        `db:"data"`      // JSON template data
	Automatic     bool          `db:"automatic"` // counts toward the per-address daily limit
	Status        string        `db:"status"`    // queued | sending | sent | failed | suppressed
	Attempts      int           `db:"attempts"`
	NextAttemptAt time.Time     `db:"next_attempt_at"`
	ClaimedUntil  sql.NullTime  `db:"claimed_until"`
	LastError     string        `db:"last_error"`
	CreatedAt     time.Time     `db:"created_at"`
	SentAt        sql.NullTime  `db:"sent_at"`
}

// EnqueueMail adds an outbox row, normally in the transaction of the change
// that caused it. Status defaults to queued (suppressed records a mail the
// limits held back), next attempt and creation to now, Data to "{}".
func (q Q) EnqueueMail(ctx context.Context, r OutboxRow) (int64, error) {
	r.OutMessageID = strings.Trim(strings.TrimSpace(r.OutMessageID), "<>")
	switch {
	case r.Kind == "":
		return 0, errors.New("store: enqueue mail: no kind")
	case r.ToEmail == "":
		return 0, errors.New("store: enqueue mail: no recipient")
	case r.Subject == "":
		return 0, errors.New("store: enqueue mail: no subject")
	case r.OutMessageID == "":
		return 0, errors.New("store: enqueue mail: no Message-ID")
	}
	if r.Status == "" {
		r.Status = OutboxQueued
	}
	if r.Data == "" {
		r.Data = "{}"
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	r.CreatedAt = r.CreatedAt.UTC()
	if r.NextAttemptAt.IsZero() {
		r.NextAttemptAt = r.CreatedAt
	}
	r.NextAttemptAt = r.NextAttemptAt.UTC()
	// Positional, not named: this runs for every mail queued on the hot path.
	return q.insert(ctx, "insert-outbox", r.Kind, r.RequestID, r.PersonID, r.CauseID, r.ToEmail, r.ToName, r.Subject,
		r.OutMessageID, r.InReplyTo, r.Refs, r.Data, r.Automatic, r.Status, r.NextAttemptAt, r.CreatedAt)
}

// OutboxByMessageID finds an outbox row by its Message-ID (without brackets).
func (q Q) OutboxByMessageID(ctx context.Context, msgid string) (OutboxRow, error) {
	var r OutboxRow
	err := q.get(ctx, &r, "outbox-by-message-id", strings.Trim(msgid, "<>"))
	return r, err
}

// OutboxByID finds an outbox row by id.
func (q Q) OutboxByID(ctx context.Context, id int64) (OutboxRow, error) {
	var r OutboxRow
	err := q.get(ctx, &r, "outbox-by-id", id)
	return r, err
}

// ClaimDue claims up to max due rows for delivery in one write transaction:
// each becomes sending with a lease until now+lease and one more attempt.
// Queued rows whose next attempt has come are due, and so are sending rows
// whose lease expired (a worker that crashed mid-delivery). The claim
// re-checks the due condition row by row, so two workers never claim the
// same row (SQLite serialises write transactions; PostgreSQL will add FOR
// UPDATE SKIP LOCKED to the candidate query).
func (s *Store) ClaimDue(ctx context.Context, at time.Time, lease time.Duration, max int) ([]OutboxRow, error) {
	if max <= 0 {
		return nil, nil
	}
	at = at.UTC()
	until := at.Add(lease)
	var out []OutboxRow
	err := s.Update(ctx, func(tx *Tx) error {
		var ids []int64
		if err := tx.sel(ctx, &ids, "outbox-due", at, at, max); err != nil {
			return err
		}
		out = out[:0]
		for _, id := range ids {
			var r OutboxRow
			err := tx.get(ctx, &r, "claim-outbox", until, id, at, at)
			if errors.Is(err, ErrNotFound) {
				continue // claimed by someone else meanwhile
			}
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Unclaim returns a claimed row that was not attempted (the worker is
// stopping) to the queue, without counting the attempt.
func (s *Store) Unclaim(ctx context.Context, id int64) error {
	return s.mark(ctx, "unclaim-outbox", id)
}

// MarkSent records a delivery the relay accepted.
func (s *Store) MarkSent(ctx context.Context, id int64, at time.Time) error {
	return s.mark(ctx, "outbox-sent", at.UTC(), id)
}

// MarkRetry puts a row back in the queue after a temporary failure. A row
// already marked sent stays sent (ErrNotFound).
func (s *Store) MarkRetry(ctx context.Context, id int64, next time.Time, errText string) error {
	return s.mark(ctx, "outbox-retry", next.UTC(), errText, id)
}

// MarkFailed gives a row up after a permanent failure. A row already
// marked sent stays sent (ErrNotFound).
func (s *Store) MarkFailed(ctx context.Context, id int64, errText string) error {
	return s.mark(ctx, "outbox-failed", errText, id)
}

func (s *Store) mark(ctx context.Context, name string, args ...any) error {
	n, err := s.exec(ctx, name, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("store: %s: %w", name, ErrNotFound)
	}
	return nil
}

// NextDue returns when the earliest row becomes due (a queued row's next
// attempt or a sending row's lease expiry), or ErrNotFound when none waits.
func (q Q) NextDue(ctx context.Context) (time.Time, error) {
	var next time.Time
	for _, name := range []string{"outbox-next-queued", "outbox-next-lease"} {
		var t time.Time
		err := q.get(ctx, &t, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return time.Time{}, err
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if next.IsZero() {
		return next, ErrNotFound
	}
	return next, nil
}

// CountAutomaticSince counts automatic mail queued, in delivery or sent to
// an address since a time (RFC 3834 §2: limit automatic responses).
//
// It counts at most max (the limit the caller checks against; <= 0: no bound).
func (q Q) CountAutomaticSince(ctx context.Context, email string, since time.Time, max int) (int, error) {
	if max <= 0 {
		max = 1 << 30
	}
	var n int
	err := q.get(ctx, &n, "count-outbox-automatic-since", email, since.UTC(), max)
	return n, err
}

// CountAllSince counts all mail queued, in delivery or sent since a time,
// for the global circuit breaker.
func (q Q) CountAllSince(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := q.get(ctx, &n, "count-outbox-since", since.UTC())
	return n, err
}

// Outbox lists the newest limit rows, newest first.
func (q Q) Outbox(ctx context.Context, limit int) ([]OutboxRow, error) {
	var rs []OutboxRow
	err := q.sel(ctx, &rs, "list-outbox", limit)
	return rs, err
}

// OutboxCounts returns the number of rows by status; every status is present.
func (q Q) OutboxCounts(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int64  `db:"n"`
	}
	if err := q.sel(ctx, &rows, "count-outbox-by-status"); err != nil {
		return nil, err
	}
	out := map[string]int64{OutboxQueued: 0, OutboxSending: 0, OutboxSent: 0, OutboxFailed: 0, OutboxSuppressed: 0}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

// CountKindSince counts mail of one kind queued for an address since a
// time, whatever became of it (for "one refusal a day").
func (q Q) CountKindSince(ctx context.Context, email, kind string, since time.Time) (int, error) {
	var n int
	err := q.get(ctx, &n, "outbox-count-kind-since", email, since.UTC(), kind)
	return n, err
}

// ReleaseClaims puts every row left 'sending' back in the queue, due now:
// for a daemon starting on its own data directory, those were claimed by a
// process that stopped mid-delivery. (A relay that accepted the mail just
// before the stop gets it again, with the same Message-ID.)
func (s *Store) ReleaseClaims(ctx context.Context, now time.Time) (int64, error) {
	return s.exec(ctx, "release-outbox-claims", now.UTC())
}
