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

// Group is a set of occupants who see each other's requests; grants given
// to a group apply to every member.
type Group struct {
	ID        int64     `db:"id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
}

// Grant gives a person or a group (exactly one of PersonID and GroupID) a
// location and what is under it, or every location (AllLocations, no
// LocationID).
type Grant struct {
	ID           int64         `db:"id"`
	PersonID     sql.NullInt64 `db:"person_id"`
	GroupID      sql.NullInt64 `db:"group_id"`
	LocationID   sql.NullInt64 `db:"location_id"`
	AllLocations bool          `db:"all_locations"`
	CreatedAt    time.Time     `db:"created_at"`
}

// AddGroup creates a group, or returns the existing one of that name
// (compared case-insensitively).
func (q Q) AddGroup(ctx context.Context, name string) (Group, error) {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" {
		return Group{}, fmt.Errorf("%w: empty group name", ErrInvalid)
	}
	var g Group
	err := q.atomically(ctx, func(q Q) error {
		var err error
		if g, err = q.GroupByName(ctx, name); !errors.Is(err, ErrNotFound) {
			return err
		}
		g = Group{Name: name, CreatedAt: now()}
		g.ID, err = q.insert(ctx, "insert-group", g.Name, g.CreatedAt)
		return err
	})
	return g, err
}

// GroupByName finds a group by name, case-insensitively.
func (q Q) GroupByName(ctx context.Context, name string) (Group, error) {
	var g Group
	err := q.get(ctx, &g, "group-by-name", strings.Join(strings.Fields(name), " "))
	return g, err
}

// GroupByID finds a group by id.
func (q Q) GroupByID(ctx context.Context, id int64) (Group, error) {
	var g Group
	err := q.get(ctx, &g, "group-by-id", id)
	return g, err
}

// Groups lists every group by name.
func (q Q) Groups(ctx context.Context) ([]Group, error) {
	var gs []Group
	err := q.sel(ctx, &gs, "list-groups")
	return gs, err
}

// AddGroupMember adds a person to a group; adding a member again is a no-op.
func (q Q) AddGroupMember(ctx context.Context, group, person int64) error {
	_, err := q.exec(ctx, "insert-group-member", group, person, now())
	return err
}

// GroupMembers lists a group's members by address.
func (q Q) GroupMembers(ctx context.Context, group int64) ([]Person, error) {
	var ps []Person
	err := q.sel(ctx, &ps, "group-members", group)
	return ps, err
}

// PersonGroups lists the groups a person belongs to, by name.
func (q Q) PersonGroups(ctx context.Context, person int64) ([]Group, error) {
	var gs []Group
	err := q.sel(ctx, &gs, "person-groups", person)
	return gs, err
}

// AddGrant records a grant; granting the same thing again is a no-op.
func (q Q) AddGrant(ctx context.Context, g Grant) error {
	if g.PersonID.Valid == g.GroupID.Valid {
		return fmt.Errorf("%w: a grant needs exactly one of person and group", ErrInvalid)
	}
	if g.LocationID.Valid == g.AllLocations {
		return fmt.Errorf("%w: a grant needs exactly one of location and all locations", ErrInvalid)
	}
	_, err := q.exec(ctx, "insert-grant", g.PersonID, g.GroupID, g.LocationID, g.AllLocations, now())
	return err
}

// PersonGrants lists the grants given to the person directly.
func (q Q) PersonGrants(ctx context.Context, person int64) ([]Grant, error) {
	var gs []Grant
	err := q.sel(ctx, &gs, "person-grants", person)
	return gs, err
}

// GroupGrants lists the grants given to a group.
func (q Q) GroupGrants(ctx context.Context, group int64) ([]Grant, error) {
	var gs []Grant
	err := q.sel(ctx, &gs, "group-grants", group)
	return gs, err
}

// PersonAccess merges the person's own grants with those of their groups:
// all is true when any of them grants every location; locations are the
// granted location ids, sorted, without duplicates. Expanding them to
// descendants and common areas is policy (package rules).
func (q Q) PersonAccess(ctx context.Context, person int64) (all bool, locations []int64, err error) {
	var rows []struct {
		LocationID   sql.NullInt64 `db:"location_id"`
		AllLocations bool          `db:"all_locations"`
	}
	if err := q.sel(ctx, &rows, "person-access", person, person); err != nil {
		return false, nil, err
	}
	for _, r := range rows {
		all = all || r.AllLocations
		if r.LocationID.Valid {
			locations = append(locations, r.LocationID.Int64)
		}
	}
	slices.Sort(locations)
	return all, slices.Compact(locations), nil
}

// RequestsVisibleTo lists, by number, the requests a person may see as an
// occupant: those they requested or follow, and those requested by a
// member of one of their groups.
func (q Q) RequestsVisibleTo(ctx context.Context, person int64) ([]Request, error) {
	var rs []Request
	err := q.sel(ctx, &rs, "requests-visible-to", person, person, person)
	return rs, err
}
