package mailin

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
	"github.com/tikkit/tikkit/templates"
)

// Outbound mail is queued here, in the transaction of the change that
// causes it (the outbox row commits with the change or not at all); mailout
// renders and delivers it. Nothing is queued for auto-replies, bounces,
// our own mail or server notices: those paths never call in here.

// outgoing is one mail to queue.
type outgoing struct {
	kind  templates.Kind
	req   *store.Request // nil for mail about a person
	to    store.Person
	cause int64  // inbound message row that caused it, 0 when none
	refID string // Message-ID of that message
	data  templates.Data
}

// enqueue writes one outbox row, or a suppressed one when limits say no.
func (in *Ingester) enqueue(ctx context.Context, tx *store.Tx, o outgoing) error {
	if o.to.Email == "" || in.opt.Identity.IsOwn(o.to.Email) || notAPerson(o.to.Email) ||
		o.to.Undeliverable || o.to.Status == "blocked" {
		return nil
	}
	now := time.Now().UTC()
	row := store.OutboxRow{
		Kind:     string(o.kind),
		PersonID: nullID(o.to.ID),
		CauseID:  nullID(o.cause),
		ToEmail:  o.to.Email,
		ToName:   o.to.Name,
		// A staff member's reply is a person's answer: it does not count
		// toward, and is never held back by, the automatic-mail limits.
		Automatic:     o.kind != templates.Reply,
		Status:        "queued",
		NextAttemptAt: now,
	}
	o.data.OrgName, o.data.Address = in.opt.FromName, in.opt.Identity.Address
	o.data.RecipientName = o.to.Name
	if o.req != nil {
		row.RequestID = nullID(o.req.ID)
		if err := in.requestData(ctx, tx, o.req, &o.data); err != nil {
			return err
		}
		row.OutMessageID = fmt.Sprintf("req-%d.%s@%s", o.req.Number, randomHex(8), in.msgidDomain())
		root := o.refID // a new request's root is the mail that opened it
		if o.kind != templates.Ack {
			var err error
			if root, err = tx.RequestRootMessageID(ctx, o.req.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		refs := uniqueStrings(root, o.refID)
		row.Refs = strings.Join(refs, " ")
		if len(refs) > 0 {
			row.InReplyTo = refs[len(refs)-1]
		}
	} else {
		row.OutMessageID = fmt.Sprintf("tikkit.%s@%s", randomHex(10), in.msgidDomain())
	}
	// What `tikkitd outbox` shows: the request's tagged subject, or what
	// the mail is about (the template words the subject itself).
	switch {
	case o.req != nil:
		row.Subject = strings.TrimSpace(o.data.Tag + " " + o.data.Subject)
	case o.kind == templates.Refusal:
		row.Subject = "(refusal of: " + o.data.Subject + ")"
	default:
		row.Subject = "(" + string(o.kind) + ")"
	}
	// Automatic mail counts toward per_address_per_day. A staff member's
	// reply does not, but everything sent to one address counts toward a
	// hard cap of humanReplyFactor times that: two staff out-of-office
	// responders answering each other's relayed replies stop there.
	limits := in.opt.Limits
	if !row.Automatic {
		limits.PerAddressPerDay *= humanReplyFactor
	}
	sent, err := in.perAddress.count(ctx, tx, o.to.Email, now, limits.PerAddressPerDay)
	if err != nil {
		return err
	}
	global := in.sentRecently.count(now)
	if !row.Automatic {
		global = 0 // the circuit breaker is for automatic mail
	}
	if ok, reason := limits.AllowAutomatic(sent, global); !ok {
		row.Status, row.LastError = "suppressed", reason
		if in.perAddress.firstWarning(o.to.Email, now) {
			in.log.Warn("mailin: automatic mail suppressed (logged once a day per address; see tikkitd outbox)",
				"to", o.to.Email, "kind", string(o.kind), "reason", reason)
		}
	} else {
		if row.Automatic {
			in.sentRecently.add(now)
		}
		in.perAddress.add(o.to.Email, now)
		in.queued = true
	}
	b, err := json.Marshal(o.data)
	if err != nil {
		return err
	}
	row.Data = string(b)
	_, err = tx.EnqueueMail(ctx, row)
	return err
}

// requestData fills what templates show of a request.
func (in *Ingester) requestData(ctx context.Context, tx *store.Tx, r *store.Request, d *templates.Data) error {
	d.RequestNumber = r.Number
	d.Tag = fmt.Sprintf("[%s%d]", in.opt.SubjectTagPrefix, r.Number)
	d.Subject, d.State, d.Priority = r.Subject, r.State, r.Priority
	if r.LocationID.Valid {
		if l, err := tx.LocationByID(ctx, r.LocationID.Int64); err == nil {
			d.Location = l.Path
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if d.Labels != nil {
		return nil // known already (a request this mail opened)
	}
	labels, err := tx.Labels(ctx, r.ID)
	d.Labels = labels
	return err
}

func (in *Ingester) msgidDomain() string {
	if in.opt.Identity.MessageIDDomain != "" {
		return in.opt.Identity.MessageIDDomain
	}
	_, d, _ := strings.Cut(in.opt.Identity.Address, "@")
	return d
}

// notifyFollowers queues mail about a change to everyone rules.Notify
// names among the request's followers (for a new request: its requester).
func (f *filing) notifyFollowers(ctx context.Context, kind templates.Kind, change rules.Change, data templates.Data) error {
	var fs []store.Follower
	if change.Kind == rules.ChangeCreated {
		r := f.requester
		fs = []store.Follower{{PersonID: r.ID, Email: r.Email, Name: r.Name, Kind: r.Kind, Status: r.Status,
			Undeliverable: r.Undeliverable, Reason: rules.ReasonRequester}}
	} else {
		var err error
		if fs, err = f.tx.Followers(ctx, f.req.ID); err != nil {
			return err
		}
	}
	people := make([]rules.Person, 0, len(fs))
	byID := map[int64]store.Person{}
	for _, fl := range fs {
		byID[fl.PersonID] = store.Person{ID: fl.PersonID, Email: fl.Email, Name: fl.Name, Kind: fl.Kind, Status: fl.Status, Undeliverable: fl.Undeliverable}
		people = append(people, rules.Person{ID: fl.PersonID, Email: fl.Email, Kind: fl.Kind, Status: fl.Status,
			Undeliverable: fl.Undeliverable, Own: f.in.opt.Identity.IsOwn(fl.Email), NoReply: notAPerson(fl.Email), Reason: fl.Reason})
	}
	for _, r := range rules.Notify(change, people) {
		if err := f.in.enqueue(ctx, f.tx, outgoing{kind: kind, req: &f.req, to: byID[r.ID], cause: f.msg, refID: f.j.p.MessageID, data: data}); err != nil {
			return err
		}
	}
	return nil
}

// announce queues what a filed message makes people hear about: the
// acknowledgement of a new request, an update, a staff reply, a state
// change, and a welcome for accounts this mail created.
func (f *filing) announce(ctx context.Context, created, internal bool, pending bool) error {
	data := templates.Data{AuthorName: displayName(f.sender), Text: f.j.visible, Pending: pending, Notes: f.notes}
	if internal {
		// Only staff get it (rules.Notify); say so, lest it be forwarded.
		data.Text = "[Internal note: staff only]\n\n" + data.Text
	}
	change := rules.Change{AuthorID: f.sender.ID, Internal: internal}
	var kind templates.Kind
	switch {
	case created:
		change.Kind, kind = "created", templates.Ack
		data.Text = ""
		data.Labels = append([]string{}, f.labels...) // a new request has only this mail's
	case f.newState != "":
		change.Kind = f.newState
		kind = map[string]templates.Kind{"closed": templates.Closed, "reopened": templates.Reopened}[f.newState]
		data.OldState, data.NewState = f.oldState, f.req.State
	case f.sender.Kind == "staff":
		change.Kind, kind = "reply", templates.Reply
	default:
		change.Kind, kind = "update", templates.Update
	}
	if err := f.notifyFollowers(ctx, kind, change, data); err != nil {
		return err
	}
	for _, p := range f.welcomed {
		if err := f.in.enqueue(ctx, f.tx, outgoing{kind: templates.Welcome, req: &f.req, to: p, cause: f.msg, refID: f.j.p.MessageID,
			data: templates.Data{AuthorName: displayName(f.sender)}}); err != nil {
			return err
		}
	}
	return nil
}

// refuse queues the polite refusal of an unknown sender: at most one a day.
func (in *Ingester) refuse(ctx context.Context, tx *store.Tx, j *job, to store.Person, reason string) error {
	if to.Email == "" {
		to = store.Person{Email: j.p.From.Email, Name: j.p.From.Name}
	}
	n, err := tx.CountKindSince(ctx, to.Email, string(templates.Refusal), time.Now().Add(-24*time.Hour))
	if err != nil || n > 0 {
		return err
	}
	return in.enqueue(ctx, tx, outgoing{kind: templates.Refusal, to: to, refID: j.p.MessageID,
		data: templates.Data{Subject: j.p.Subject, Reason: reason}})
}

// QueuePersonMail queues a mail about a person's account (pending,
// approved, denied) in tx; tikkitd's admin commands call it.
func (in *Ingester) QueuePersonMail(ctx context.Context, tx *store.Tx, p store.Person, kind templates.Kind) error {
	return in.enqueue(ctx, tx, outgoing{kind: kind, to: p})
}

func displayName(p store.Person) string {
	if p.Name != "" {
		return p.Name
	}
	local, _, _ := strings.Cut(p.Email, "@")
	return local // never another person's full address
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func uniqueStrings(ss ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// humanReplyFactor: staff replies to one address a day may reach this many
// times per_address_per_day before they too are held back.
const humanReplyFactor = 5

// addressLog remembers, per address, when automatic mail was queued in the
// last 24 hours, so the per-address limit costs no query on the hot path.
// An address not seen since start is counted in the outbox once (those
// mails are taken as sent just now: the cache may overcount, never under).
type addressLog struct {
	mu     sync.Mutex
	m      map[string][]time.Time
	warned map[string]time.Time // last "suppressed" warning per address
}

// firstWarning reports whether a suppression for email is worth a log line:
// the first in 24 hours.
func (l *addressLog) firstWarning(email string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.warned == nil || len(l.warned) > maxAddresses {
		l.warned = map[string]time.Time{}
	}
	if t, ok := l.warned[email]; ok && now.Sub(t) < 24*time.Hour {
		return false
	}
	l.warned[email] = now
	return true
}

// maxAddresses bounds the cache; past it, it starts over (from the outbox).
const maxAddresses = 100000

func (l *addressLog) count(ctx context.Context, tx *store.Tx, email string, now time.Time, max int) (int, error) {
	l.mu.Lock()
	ts, ok := l.m[email]
	l.mu.Unlock()
	if !ok {
		n, err := tx.CountAutomaticSince(ctx, email, now.Add(-24*time.Hour), max)
		if err != nil {
			return 0, err
		}
		ts = make([]time.Time, n)
		for i := range ts {
			ts[i] = now
		}
	}
	cut := 0
	for cut < len(ts) && now.Sub(ts[cut]) >= 24*time.Hour {
		cut++
	}
	ts = ts[cut:]
	l.mu.Lock()
	if l.m == nil || len(l.m) > maxAddresses {
		l.m = map[string][]time.Time{}
	}
	l.m[email] = ts
	l.mu.Unlock()
	return len(ts), nil
}

func (l *addressLog) add(email string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string][]time.Time{}
	}
	l.m[email] = append(l.m[email], now)
}

// window counts events in the last hour, in one-minute buckets: the global
// circuit breaker for automatic mail.
type window struct {
	mu      sync.Mutex
	buckets [60]struct {
		minute int64
		n      int
	}
}

func (w *window) add(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := now.Unix() / 60
	b := &w.buckets[m%60]
	if b.minute != m {
		b.minute, b.n = m, 0
	}
	b.n++
}

func (w *window) count(now time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := now.Unix() / 60
	total := 0
	for _, b := range w.buckets {
		if m-b.minute < 60 {
			total += b.n
		}
	}
	return total
}
