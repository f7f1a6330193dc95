package mailin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
)

// authenticate checks, outside the transaction (it may ask DNS), whether
// the mail proves it comes from its From domain — only when that domain is
// one whose senders are approved automatically, since only then it matters.
func (in *Ingester) authenticate(j *job) {
	email := j.p.From.Email
	if email == "" {
		return
	}
	if !rules.AutoApproved(in.opt.Registration, email, true) && !(in.opt.StaffRequireAuth && in.isStaff(email)) {
		return
	}
	_, domain, _ := strings.Cut(email, "@")
	rc, err := j.d.Raw.Open()
	if err != nil {
		j.auth = AuthResult{FromDomain: domain, Detail: "raw message unreadable: " + err.Error()}
		return
	}
	defer rc.Close()
	j.auth = Authenticate(context.Background(), rc, domain, in.opt.Auth)
}

// admit applies the registration rules to the sender: it finds, creates or
// upgrades their account and says whether the mail may file.
func (in *Ingester) admit(ctx context.Context, tx *store.Tx, j *job) (store.Person, rules.Verdict, error) {
	a := j.p.From
	p, err := tx.PersonByEmail(ctx, a.Email)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return p, rules.Verdict{}, err
	}
	v := rules.Decide(in.opt.Registration, rules.Sender{Email: a.Email, Known: known, Kind: p.Kind, Status: p.Status,
		Authenticated: j.auth.Authenticated()})
	switch {
	case v.Create:
		if known {
			p, _, err = ensurePersonStatus(ctx, tx, a, "email", v.Status)
		} else { // looked up just now: no second lookup
			p, err = tx.InsertPerson(ctx, store.Person{Email: a.Email, Name: a.Name, Kind: "occupant", Status: v.Status, CreatedVia: "email"})
		}
		if err != nil {
			return p, v, err
		}
		// Worth an event: a pending account (staff will approve it) or one
		// approved by its domain (with the proof). Open registration is not.
		if v.Status != "active" || j.auth.Authenticated() {
			detail := "registered as " + v.Status
			if j.auth.Detail != "" {
				detail += " (" + j.auth.Detail + ")"
			}
			if err := tx.AddEvent(ctx, 0, p.ID, 0, "registered", detail); err != nil {
				return p, v, err
			}
		}
	case v.Upgrade:
		p.Status = v.Status
		if err := tx.UpdatePerson(ctx, p); err != nil {
			return p, v, err
		}
		if err := tx.AddEvent(ctx, 0, p.ID, 0, "approved", fmt.Sprintf("automatically: %s", j.auth.Detail)); err != nil {
			return p, v, err
		}
	case known && p.Name == "" && a.Name != "":
		if err := tx.SetPersonNameIfEmpty(ctx, p.ID, a.Name); err != nil {
			return p, v, err
		}
		p.Name = a.Name
	}
	return p, v, nil
}

// isStaff says, outside the transaction, whether the sender is staff: only
// to decide whether their mail must be authenticated (staff powers need
// proof). The staff list is cached for staffCacheTTL; a staff member added
// since is not checked, so their mail gets no staff powers yet — the safe way.
func (in *Ingester) isStaff(email string) bool {
	in.staff.mu.Lock()
	defer in.staff.mu.Unlock()
	if time.Since(in.staff.loaded) > staffCacheTTL {
		emails, err := in.st.StaffEmails(context.Background())
		if err != nil {
			return false
		}
		in.staff.set = map[string]bool{}
		for _, e := range emails {
			in.staff.set[e] = true
		}
		in.staff.loaded = time.Now()
	}
	return in.staff.set[email]
}

const staffCacheTTL = 10 * time.Second

type staffCache struct {
	mu     sync.Mutex
	set    map[string]bool
	loaded time.Time
}
