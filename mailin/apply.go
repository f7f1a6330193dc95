package mailin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tikkit/tikkit/store"
)

// apply writes one message's effect inside the batch transaction.
func (in *Ingester) apply(ctx context.Context, tx *store.Tx, j *job) (Result, error) {
	p, d := j.p, j.d
	res := Result{MessageID: p.MessageID}
	if err := tx.PutRaw(ctx, d.Raw.SHA256, d.Raw.Size, d.Raw.Bytes, d.Raw.Path != ""); err != nil {
		return res, err
	}
	if j.replace != 0 {
		if err := tx.DeleteMessage(ctx, j.replace); err != nil {
			return res, err
		}
	}
	delivery := func(outcome string) error {
		return tx.InsertDelivery(ctx, store.Delivery{RawSHA256: d.Raw.SHA256, MessageID: p.MessageID, Source: d.Source,
			EnvelopeFrom: d.envelopeRecord(), EnvelopeTo: strings.Join(d.EnvelopeTo, ","), Outcome: outcome})
	}

	// Dedupe by Message-ID (or the synthetic id): one message, however
	// often delivered. A different message reusing a Message-ID (scanners
	// and broken clients do) is kept under an id made unique by its content.
	ref, err := tx.MessageByMessageID(ctx, p.MessageID)
	if err == nil && ref.ContentHash != "" && p.ContentHash != "" && ref.ContentHash != p.ContentHash {
		p.MessageID += "#" + p.ContentHash[:16]
		res.MessageID = p.MessageID
		ref, err = tx.MessageByMessageID(ctx, p.MessageID)
	}
	if err == nil {
		res.Outcome = OutcomeDuplicate
		res.Reason = "already stored as " + ref.Outcome
		if ref.RequestID.Valid {
			if r, err := tx.RequestByID(ctx, ref.RequestID.Int64); err == nil {
				res.Request = r.Number
			}
		}
		return res, delivery(OutcomeDuplicate)
	} else if !errors.Is(err, store.ErrNotFound) {
		return res, err
	}

	// A Message-ID in our domain that we never stored is not ours: anyone
	// can write one. Classify again without that rule.
	if j.class.Kind == ClassOwn && in.opt.Identity.IsOwnMessageID(p.MessageID) && !in.opt.Identity.IsOwn(p.From.Email) {
		id := in.opt.Identity
		id.MessageIDDomain = ""
		j.class = Classify(p, j.envelope(), id)
	}
	switch {
	case j.hold != "":
		res, err = in.hold(ctx, tx, j, j.hold)
	case p.Unparseable != "":
		res, err = in.hold(ctx, tx, j, "unparseable: "+p.Unparseable)
	case j.class.Kind == ClassBounce:
		res, err = in.applyBounce(ctx, tx, j)
	case j.class.Kind == ClassAutoReply:
		res, err = in.applyAuto(ctx, tx, j)
	case j.class.Kind == ClassOwn:
		res, err = in.hold(ctx, tx, j, "loop: "+j.class.Reason)
	case j.class.Kind == ClassSystem:
		res, err = in.applySystem(ctx, tx, j)
	case p.From.Email == "":
		res, err = in.hold(ctx, tx, j, "no sender address")
	case d.Postmaster:
		res, err = in.hold(ctx, tx, j, "addressed to postmaster")
	case in.unfollowToken(j) != "":
		res, err = in.applyUnfollow(ctx, tx, j)
	default:
		res, err = in.applyPerson(ctx, tx, j)
	}
	if err != nil {
		return res, err
	}
	return res, delivery(res.Outcome)
}

// messageRow builds the stored form of the message.
func (in *Ingester) messageRow(j *job, request, author int64, outcome, reason string) store.Message {
	p := j.p
	m := store.Message{
		MessageID:   p.MessageID,
		SyntheticID: p.SyntheticID,
		RequestID:   sql.NullInt64{Int64: request, Valid: request != 0},
		Direction:   "in",
		AuthorID:    sql.NullInt64{Int64: author, Valid: author != 0},
		FromEmail:   p.From.Email,
		FromName:    p.From.Name,
		Subject:     p.Subject,
		BodyText:    p.Text,
		TextFrom:    p.TextFrom,
		VisibleText: j.visible,
		HTML:        p.HTML,
		Auto:        j.class.Kind != ClassNormal,
		Class:       string(j.class.Kind),
		Outcome:     outcome,
		Reason:      reason,
		Problems:    strings.Join(p.Problems, "\n"),
		ThreadIndex: p.ThreadIndex,
		RawSHA256:   j.d.Raw.SHA256,
		Source:      j.d.Source,
		ContentHash: p.ContentHash,
		ReceivedAt:  j.receivedAt,
	}
	if !p.Date.IsZero() {
		m.SentAt = sql.NullTime{Time: p.Date.UTC(), Valid: true}
	}
	return m
}

// storeMessage inserts the message and its attachments; refused attachments
// get an event naming them.
func (in *Ingester) storeMessage(ctx context.Context, tx *store.Tx, m store.Message, p *Parsed) (int64, error) {
	id, err := tx.InsertMessage(ctx, m)
	if err != nil {
		return 0, err
	}
	for _, a := range p.Attachments {
		if _, err := tx.InsertAttachment(ctx, store.Attachment{MessageID: id, Name: a.Name, ContentType: a.ContentType,
			Size: a.Size, SHA256: a.SHA256, ContentID: a.ContentID, Inline: a.Inline, Stored: a.Stored, FromTNEF: a.FromTNEF}); err != nil {
			return 0, err
		}
		if !a.Stored {
			detail := fmt.Sprintf("attachment %q (%d bytes) was not stored: over the size limit", a.Name, a.Size)
			if err := tx.AddEvent(ctx, m.RequestID.Int64, m.AuthorID.Int64, id, "attachment_refused", detail); err != nil {
				return 0, err
			}
		}
	}
	return id, nil
}

// hold keeps a message without a request, with the reason.
func (in *Ingester) hold(ctx context.Context, tx *store.Tx, j *job, reason string) (Result, error) {
	in.log.Warn("mailin: message held", slog.String("message_id", j.p.MessageID), slog.String("raw_sha256", j.d.Raw.SHA256), slog.String("reason", reason))
	_, err := in.storeMessage(ctx, tx, in.messageRow(j, 0, 0, OutcomeHeld, reason), j.p)
	return Result{MessageID: j.p.MessageID, Outcome: OutcomeHeld, Reason: reason}, err
}

func (in *Ingester) applySystem(ctx context.Context, tx *store.Tx, j *job) (Result, error) {
	reason := "system notice: " + j.class.Reason
	if n := j.class.Notice; n != nil {
		reason = "system notice: " + n.What
		attrs := []any{slog.String("what", n.What)}
		if n.IMAPUID != "" {
			reason += ", IMAP UID " + n.IMAPUID
			attrs = append(attrs, slog.String("imap_uid", n.IMAPUID))
		}
		if n.OriginalSubject != "" {
			reason += fmt.Sprintf(", original subject %q", n.OriginalSubject)
			attrs = append(attrs, slog.String("original_subject", n.OriginalSubject))
		}
		in.log.Warn("mailin: server notice instead of a message; fetch the original by other means", attrs...)
	}
	return in.hold(ctx, tx, j, reason)
}

// applyAuto stores an auto-reply, linked to its request when one can be
// found, without changing the request (RFC 3834: it is not an answer).
func (in *Ingester) applyAuto(ctx context.Context, tx *store.Tx, j *job) (Result, error) {
	res := Result{MessageID: j.p.MessageID, Outcome: OutcomeAutoReply, Reason: j.class.Reason}
	var sender store.Person
	if j.p.From.Email != "" {
		if p, err := tx.PersonByEmail(ctx, j.p.From.Email); err == nil {
			sender = p
		}
	}
	req, _, err := in.findThread(ctx, tx, j.p, sender, in.replyTokens(j))
	if err != nil {
		return res, err
	}
	m := in.messageRow(j, req.ID, sender.ID, res.Outcome, res.Reason)
	if _, err := in.storeMessage(ctx, tx, m, j.p); err != nil {
		return res, err
	}
	res.Request = req.Number
	return res, nil
}

// applyBounce links a bounce to the request of the returned message and
// marks permanently failed recipients undeliverable.
func (in *Ingester) applyBounce(ctx context.Context, tx *store.Tx, j *job) (Result, error) {
	res := Result{MessageID: j.p.MessageID, Outcome: OutcomeBounce, Reason: j.class.Reason}
	var req store.Request
	if b := j.class.Bounce; b != nil {
		var err error
		req, err = in.requestOfReturned(ctx, tx, b)
		if err != nil {
			return res, err
		}
	}
	if req.ID == 0 {
		var err error
		req, _, err = in.findThread(ctx, tx, j.p, store.Person{}, nil)
		if err != nil {
			return res, err
		}
	}
	m := in.messageRow(j, req.ID, 0, res.Outcome, res.Reason)
	id, err := in.storeMessage(ctx, tx, m, j.p)
	if err != nil {
		return res, err
	}
	res.Request = req.Number
	if j.class.Bounce == nil {
		return res, nil
	}
	for _, r := range j.class.Bounce.Recipients {
		if !r.Permanent() || in.opt.Identity.IsOwn(r.Email) {
			continue
		}
		p, err := tx.PersonByEmail(ctx, r.Email)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return res, err
		}
		// Only a participant of the request the bounce belongs to is marked, so
		// a forged bounce cannot silence arbitrary people.
		if req.ID == 0 {
			continue
		}
		if _, err := tx.FollowerReason(ctx, req.ID, p.ID); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return res, err
		}
		if err := tx.SetUndeliverable(ctx, p.ID, true); err != nil {
			return res, err
		}
		detail := fmt.Sprintf("%s: %s %s", r.Email, r.Action, r.Status)
		if err := tx.AddEvent(ctx, req.ID, p.ID, id, "undeliverable", detail); err != nil {
			return res, err
		}
	}
	return res, nil
}

// requestOfReturned finds the request of the message a bounce returns:
// by its Message-ID, else by the tag in its subject.
func (in *Ingester) requestOfReturned(ctx context.Context, tx *store.Tx, b *Bounce) (store.Request, error) {
	if b.OriginalMessageID != "" {
		id, err := tx.RequestForMessageIDs(ctx, []string{b.OriginalMessageID})
		if err == nil {
			return tx.RequestByID(ctx, id)
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Request{}, err
		}
	}
	// The returned mail was ours (it bounced back to us), so its tag is trustworthy.
	for _, n := range SubjectTags(b.OriginalSubject, in.opt.SubjectTagPrefix) {
		r, err := tx.RequestByNumber(ctx, n)
		if err == nil {
			return r, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return r, err
		}
	}
	return store.Request{}, nil
}
