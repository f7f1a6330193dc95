package mailin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/tikkit/tikkit/store"
)

// daemonLocal matches mail-system addresses that are never people.
var daemonLocal = regexp.MustCompile(`^(mailer[-_.]?daemon|postmaster)$`)

// notAPerson reports whether an address must never become an account:
// no-reply, bounce and mail-daemon addresses.
func notAPerson(email string) bool {
	local, _, ok := strings.Cut(strings.ToLower(email), "@")
	return !ok || IsNoReply(email) || daemonLocal.MatchString(local)
}

// ensurePerson finds the person with this address or creates one.
func ensurePerson(ctx context.Context, tx *store.Tx, a Address, via string) (store.Person, bool, error) {
	p, err := tx.PersonByEmail(ctx, a.Email)
	if err == nil {
		if p.Name == "" && a.Name != "" {
			if err := tx.SetPersonNameIfEmpty(ctx, p.ID, a.Name); err != nil {
				return p, false, err
			}
			p.Name = a.Name
		}
		return p, false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return p, false, err
	}
	// The person's created_at and created_via record the creation.
	p, err = tx.InsertPerson(ctx, store.Person{Email: a.Email, Name: a.Name, Kind: "occupant", Status: "active", CreatedVia: via})
	return p, err == nil, err
}

// applyPerson files a person's mail: a new request or an update of one.
func (in *Ingester) applyPerson(ctx context.Context, tx *store.Tx, j *job) (Result, error) {
	p := j.p
	res := Result{MessageID: p.MessageID}
	sender, _, err := ensurePerson(ctx, tx, p.From, "email")
	if err != nil {
		return res, err
	}
	if sender.Status == "denied" || sender.Status == "blocked" {
		res.Outcome, res.Reason = OutcomeRefused, "sender is "+sender.Status
		_, err := in.storeMessage(ctx, tx, in.messageRow(j, 0, sender.ID, res.Outcome, res.Reason), p)
		return res, err
	}
	req, evidence, err := in.findThread(ctx, tx, p, sender)
	if err != nil {
		return res, err
	}
	if req.ID != 0 {
		res.Outcome, res.Reason = OutcomeAppended, "threaded by "+evidence
		if err := tx.TouchRequest(ctx, req.ID); err != nil {
			return res, err
		}
		if key := threadKey(p.ThreadIndex); key != "" {
			if err := tx.SetThreadKey(ctx, req.ID, key); err != nil {
				return res, err
			}
		}
		if ok, err := isParticipant(ctx, tx, req, sender); err != nil {
			return res, err
		} else if !ok {
			// Threaded by References: the sender had the conversation in hand.
			if _, err := tx.AddFollower(ctx, req.ID, sender.ID, "commented"); err != nil {
				return res, err
			}
		}
	} else {
		subject := NormalizeSubject(StripSubjectTags(p.Subject, in.opt.SubjectTagPrefix))
		if subject == "" {
			subject = "(no subject)"
		}
		req, err = tx.InsertRequest(ctx, store.Request{
			Subject: subject, NormSubject: strings.ToLower(subject),
			RequesterID: sender.ID, CreatorID: sender.ID, ThreadKey: threadKey(p.ThreadIndex),
		}, in.opt.FirstRequestNumber)
		if err != nil {
			return res, err
		}
		res.Outcome = OutcomeCreated
		if _, err := tx.AddFollower(ctx, req.ID, sender.ID, "requester"); err != nil {
			return res, err
		}
	}
	res.Request = req.Number
	id, err := in.storeMessage(ctx, tx, in.messageRow(j, req.ID, sender.ID, res.Outcome, res.Reason), p)
	if err != nil {
		return res, err
	}
	if err := in.addRecipients(ctx, tx, j, req, sender, id); err != nil {
		return res, err
	}
	return res, nil
}

// addRecipients makes the mail's other To/Cc people followers: never our
// own addresses, no-reply or daemon addresses, at most MaxNewFollowers new
// accounts per mail.
func (in *Ingester) addRecipients(ctx context.Context, tx *store.Tx, j *job, req store.Request, sender store.Person, msg int64) error {
	created := 0
	seen := map[string]bool{sender.Email: true}
	for _, a := range append(append([]Address{}, j.p.To...), j.p.Cc...) {
		if a.Email == "" || seen[a.Email] || in.opt.Identity.IsOwn(a.Email) || notAPerson(a.Email) {
			continue
		}
		seen[a.Email] = true
		if _, err := tx.PersonByEmail(ctx, a.Email); errors.Is(err, store.ErrNotFound) {
			if created >= in.opt.MaxNewFollowers {
				if err := tx.AddEvent(ctx, req.ID, sender.ID, msg, "followers_limited",
					fmt.Sprintf("more than %d new recipients: %s not added", in.opt.MaxNewFollowers, a.Email)); err != nil {
					return err
				}
				continue
			}
			created++
		} else if err != nil {
			return err
		}
		person, _, err := ensurePerson(ctx, tx, a, "follower")
		if err != nil {
			return err
		}
		if person.Status == "blocked" {
			continue
		}
		if _, err := tx.AddFollower(ctx, req.ID, person.ID, "cc"); err != nil {
			return err
		}
	}
	return nil
}
