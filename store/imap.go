package store

import (
	"context"
	"time"
)

// IMAPState is where the IMAP poller stands in one mailbox of one account:
// every message up to LastUID (under UIDValidity) is committed and was
// flagged or moved.
type IMAPState struct {
	Account     string    `db:"account"`
	Mailbox     string    `db:"mailbox"`
	UIDValidity uint32    `db:"uidvalidity"`
	LastUID     uint32    `db:"last_uid"`
	UpdatedAt   time.Time `db:"updated_at"`
}

// IMAPState returns the state of one mailbox, or ErrNotFound before its first poll.
func (q Q) IMAPState(ctx context.Context, account, mailbox string) (IMAPState, error) {
	var s IMAPState
	err := q.get(ctx, &s, "imap-state", account, mailbox)
	return s, err
}

// IMAPStates returns the state of every mailbox of an account.
func (q Q) IMAPStates(ctx context.Context, account string) ([]IMAPState, error) {
	var out []IMAPState
	err := q.sel(ctx, &out, "imap-states", account)
	return out, err
}

// PutIMAPState records the state of one mailbox; UpdatedAt defaults to now.
func (q Q) PutIMAPState(ctx context.Context, s IMAPState) error {
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = now()
	}
	_, err := q.exec(ctx, "put-imap-state", s.Account, s.Mailbox, s.UIDValidity, s.LastUID, s.UpdatedAt.UTC())
	return err
}
