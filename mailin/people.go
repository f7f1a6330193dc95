package mailin

import (
	"context"
	"errors"
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

// ensurePerson finds the person with this address or creates an active
// occupant for it.
func ensurePerson(ctx context.Context, tx *store.Tx, a Address, via string) (store.Person, bool, error) {
	return ensurePersonStatus(ctx, tx, a, via, "active")
}

// ensurePersonStatus is ensurePerson with the status of a new account.
func ensurePersonStatus(ctx context.Context, tx *store.Tx, a Address, via, status string) (store.Person, bool, error) {
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
	p, err = tx.InsertPerson(ctx, store.Person{Email: a.Email, Name: a.Name, Kind: "occupant", Status: status, CreatedVia: via})
	return p, err == nil, err
}
