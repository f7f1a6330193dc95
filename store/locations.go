package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrExists is returned when adding something that exists with other settings.
var ErrExists = errors.New("store: already exists")

// ErrInvalid is returned for a value the store refuses: an empty location
// path segment, an unknown request state or priority, an empty name.
var ErrInvalid = errors.New("store: invalid value")

// Location is one node of the location tree. A common area is open to
// everyone with access to its parent; a private one only to those granted
// it or an ancestor.
type Location struct {
	ID        int64         `db:"id"`
	ParentID  sql.NullInt64 `db:"parent_id"`
	Name      string        `db:"name"`     // last path segment
	Path      string        `db:"path"`     // "Tower A/Floor 2/Suite 201"
	PathKey   string        `db:"path_key"` // lower-cased Path
	Common    bool          `db:"common"`
	Aliases   string        `db:"aliases"` // one per line
	CreatedAt time.Time     `db:"created_at"`
}

// AliasList returns the aliases as a slice.
func (l Location) AliasList() []string {
	if l.Aliases == "" {
		return nil
	}
	return strings.Split(l.Aliases, "\n")
}

// SplitLocationPath splits "Tower A / Floor 2/Suite  201" into trimmed
// segments with inner white space collapsed; an empty segment is ErrInvalid.
func SplitLocationPath(path string) ([]string, error) {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = strings.Join(strings.Fields(p), " ")
		if parts[i] == "" {
			return nil, fmt.Errorf("%w: location path %q has an empty segment", ErrInvalid, path)
		}
	}
	return parts, nil
}

// normAliases trims aliases, drops empty ones and case-insensitive duplicates.
func normAliases(aliases []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range aliases {
		a = strings.Join(strings.Fields(a), " ")
		k := strings.ToLower(a)
		if a == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, a)
	}
	return out
}

// AddLocation adds a location by path, creating missing ancestors as
// private areas without aliases. When the path exists with the same common
// flag and aliases it is returned as is; with other settings the existing
// location is returned with ErrExists.
func (q Q) AddLocation(ctx context.Context, path string, common bool, aliases []string) (Location, error) {
	parts, err := SplitLocationPath(path)
	if err != nil {
		return Location{}, err
	}
	aliasText := strings.Join(normAliases(aliases), "\n")
	var loc Location
	err = q.atomically(ctx, func(q Q) error {
		var parent sql.NullInt64
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			last := i == len(parts)-1
			l, err := q.locationByKey(ctx, strings.ToLower(p))
			if err == nil {
				if last && (l.Common != common || !strings.EqualFold(l.Aliases, aliasText)) {
					loc = l
					return fmt.Errorf("%w: location %q (common=%v, aliases %q)", ErrExists, l.Path, l.Common, l.AliasList())
				}
				parent, loc = nullInt(l.ID), l
				continue
			}
			if !errors.Is(err, ErrNotFound) {
				return err
			}
			l = Location{ParentID: parent, Name: parts[i], Path: p, PathKey: strings.ToLower(p), CreatedAt: now()}
			if last {
				l.Common, l.Aliases = common, aliasText
			}
			l.ID, err = q.insert(ctx, "insert-location", l.ParentID, l.Name, l.Path, l.PathKey, l.Common, l.Aliases, l.CreatedAt)
			if err != nil {
				return err
			}
			parent, loc = nullInt(l.ID), l
		}
		return nil
	})
	return loc, err
}

func (q Q) locationByKey(ctx context.Context, key string) (Location, error) {
	var l Location
	err := q.get(ctx, &l, "location-by-path-key", key)
	return l, err
}

// LocationByPath finds a location by path, case-insensitively and with
// white space around segments ignored.
func (q Q) LocationByPath(ctx context.Context, path string) (Location, error) {
	parts, err := SplitLocationPath(path)
	if err != nil {
		return Location{}, ErrNotFound
	}
	return q.locationByKey(ctx, strings.ToLower(strings.Join(parts, "/")))
}

// LocationByID finds a location by id.
func (q Q) LocationByID(ctx context.Context, id int64) (Location, error) {
	var l Location
	err := q.get(ctx, &l, "location-by-id", id)
	return l, err
}

// Locations lists every location in tree order (parents before children,
// siblings by name, case-insensitively).
func (q Q) Locations(ctx context.Context) ([]Location, error) {
	var ls []Location
	if err := q.sel(ctx, &ls, "list-locations"); err != nil {
		return nil, err
	}
	slices.SortStableFunc(ls, func(a, b Location) int {
		return slices.Compare(strings.Split(a.PathKey, "/"), strings.Split(b.PathKey, "/"))
	})
	return ls, nil
}

// SetRequestLocation sets (or, with an invalid loc, clears) a request's location.
func (q Q) SetRequestLocation(ctx context.Context, request int64, loc sql.NullInt64) error {
	return q.updateRequest(ctx, "set-request-location", loc, request)
}

// atomically runs fn in the current transaction, or in a new one.
func (q Q) atomically(ctx context.Context, fn func(Q) error) error {
	if q.w != nil {
		return fn(q)
	}
	return q.s.Update(ctx, func(tx *Tx) error { return fn(tx.Q) })
}
