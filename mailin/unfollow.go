package mailin

import (
	"context"
	"errors"
	"strings"

	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
)

// unfollowToken returns the token of an unfollow address the mail was sent
// to (the List-Unsubscribe of our mail), or "".
func (in *Ingester) unfollowToken(j *job) string {
	for _, t := range in.replyTokens(j) {
		if rest, ok := strings.CutPrefix(t, rules.UnfollowPrefix); ok {
			return rest
		}
	}
	return ""
}

// applyUnfollow stops a follower's updates: only when the token was made
// for the sender. The mail is kept as an internal note either way.
func (in *Ingester) applyUnfollow(ctx context.Context, tx *store.Tx, j *job) (Result, error) {
	res := Result{MessageID: j.p.MessageID, Outcome: OutcomeHeld, Reason: "unfollow: token not valid for this sender"}
	if in.opt.Tokens == nil {
		return in.hold(ctx, tx, j, res.Reason)
	}
	n, ok := in.opt.Tokens.ParseReplyToken(in.unfollowToken(j), j.p.From.Email)
	if !ok {
		return in.hold(ctx, tx, j, res.Reason)
	}
	req, err := tx.RequestByNumber(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		return in.hold(ctx, tx, j, "unfollow: no such request")
	} else if err != nil {
		return res, err
	}
	p, err := tx.PersonByEmail(ctx, j.p.From.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	if p.ID != 0 {
		if err := tx.RemoveFollower(ctx, req.ID, p.ID); err != nil {
			return res, err
		}
	}
	m := in.messageRow(j, req.ID, p.ID, OutcomeAppended, "unfollowed")
	m.Internal = true
	id, err := in.storeMessage(ctx, tx, m, j.p)
	if err != nil {
		return res, err
	}
	if err := tx.AddEvent(ctx, req.ID, p.ID, id, "unfollowed", j.p.From.Email+" stopped following"); err != nil {
		return res, err
	}
	return Result{MessageID: j.p.MessageID, Outcome: OutcomeAppended, Request: req.Number, Reason: "unfollowed"}, nil
}
