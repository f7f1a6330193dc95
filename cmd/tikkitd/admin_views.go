package main

import (
	"context"
	"database/sql"
	"time"

	"github.com/tikkit/tikkit/store"
)

// JSON views of the admin commands. Field names are an interface: scripts rely on them.

// grantView is one grant: a location path, or all_locations with a null
// location. Group names the group the grant comes through (person show only).
type grantView struct {
	Location     *string `json:"location"`
	AllLocations bool    `json:"all_locations"`
	Group        string  `json:"group,omitempty"`
}

// adminPersonView is personView (tikkitd people --json) plus the person's
// groups and own grants.
type adminPersonView struct {
	personView
	Groups []string    `json:"groups"`
	Grants []grantView `json:"grants"`
}

// personShowView adds the grants of the person's groups (with "group" set),
// the events about the person, and the requests the person can see.
type personShowView struct {
	adminPersonView
	Events   []eventView          `json:"events"`
	Requests []visibleRequestView `json:"requests"`
}

// visibleRequestView is a request as listed in person show. Relation says
// why the person sees it: requester, follower or group.
type visibleRequestView struct {
	Number    int64     `json:"number"`
	Subject   string    `json:"subject"`
	State     string    `json:"state"`
	Location  *string   `json:"location"`
	Requester personRef `json:"requester"`
	Relation  string    `json:"relation"`
}

type locationView struct {
	Path    string   `json:"path"`
	Name    string   `json:"name"`
	Parent  *string  `json:"parent"`
	Common  bool     `json:"common"`
	Aliases []string `json:"aliases"`
}

type groupView struct {
	Name      string      `json:"name"`
	Members   []personRef `json:"members"`
	Grants    []grantView `json:"grants"`
	CreatedAt time.Time   `json:"created_at"`
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func newPersonView(p store.Person) personView {
	return personView{Email: p.Email, Name: p.Name, Kind: p.Kind, Status: p.Status, CreatedVia: p.CreatedVia,
		Admin: p.IsAdmin, Undeliverable: p.Undeliverable, CreatedAt: p.CreatedAt}
}

// locationPath returns a location's path, or nil for none.
func locationPath(ctx context.Context, q store.Q, id sql.NullInt64) (*string, error) {
	if !id.Valid {
		return nil, nil
	}
	l, err := q.LocationByID(ctx, id.Int64)
	if err != nil {
		return nil, err
	}
	return &l.Path, nil
}

func buildGrants(ctx context.Context, q store.Q, gs []store.Grant, group string) ([]grantView, error) {
	out := []grantView{}
	for _, g := range gs {
		path, err := locationPath(ctx, q, g.LocationID)
		if err != nil {
			return nil, err
		}
		out = append(out, grantView{Location: path, AllLocations: g.AllLocations, Group: group})
	}
	return out, nil
}

func buildAdminPerson(ctx context.Context, q store.Q, p store.Person) (adminPersonView, error) {
	v := adminPersonView{personView: newPersonView(p), Groups: []string{}}
	gs, err := q.PersonGroups(ctx, p.ID)
	if err != nil {
		return v, err
	}
	for _, g := range gs {
		v.Groups = append(v.Groups, g.Name)
	}
	grants, err := q.PersonGrants(ctx, p.ID)
	if err != nil {
		return v, err
	}
	v.Grants, err = buildGrants(ctx, q, grants, "")
	return v, err
}

func buildPersonShow(ctx context.Context, q store.Q, p store.Person) (personShowView, error) {
	base, err := buildAdminPerson(ctx, q, p)
	v := personShowView{adminPersonView: base, Events: []eventView{}, Requests: []visibleRequestView{}}
	if err != nil {
		return v, err
	}
	gs, err := q.PersonGroups(ctx, p.ID)
	if err != nil {
		return v, err
	}
	for _, g := range gs {
		grants, err := q.GroupGrants(ctx, g.ID)
		if err != nil {
			return v, err
		}
		gv, err := buildGrants(ctx, q, grants, g.Name)
		if err != nil {
			return v, err
		}
		v.Grants = append(v.Grants, gv...)
	}
	es, err := q.PersonEvents(ctx, p.ID)
	if err != nil {
		return v, err
	}
	for _, e := range es {
		v.Events = append(v.Events, eventView{Kind: e.Kind, Detail: e.Detail, At: e.CreatedAt})
	}
	rs, err := q.RequestsVisibleTo(ctx, p.ID)
	if err != nil {
		return v, err
	}
	for _, r := range rs {
		rv := visibleRequestView{Number: r.Number, Subject: r.Subject, State: r.State,
			Requester: personOf(ctx, q, r.RequesterID), Relation: "group"}
		if rv.Location, err = locationPath(ctx, q, r.LocationID); err != nil {
			return v, err
		}
		if r.RequesterID == p.ID {
			rv.Relation = "requester"
		} else if _, err := q.FollowerReason(ctx, r.ID, p.ID); err == nil {
			rv.Relation = "follower"
		}
		v.Requests = append(v.Requests, rv)
	}
	return v, nil
}

func buildLocation(ctx context.Context, q store.Q, l store.Location) (locationView, error) {
	v := locationView{Path: l.Path, Name: l.Name, Common: l.Common, Aliases: l.AliasList()}
	if v.Aliases == nil {
		v.Aliases = []string{}
	}
	var err error
	v.Parent, err = locationPath(ctx, q, l.ParentID)
	return v, err
}

func buildGroup(ctx context.Context, q store.Q, g store.Group) (groupView, error) {
	v := groupView{Name: g.Name, Members: []personRef{}, CreatedAt: g.CreatedAt}
	ms, err := q.GroupMembers(ctx, g.ID)
	if err != nil {
		return v, err
	}
	for _, m := range ms {
		v.Members = append(v.Members, personRef{Email: m.Email, Name: m.Name})
	}
	grants, err := q.GroupGrants(ctx, g.ID)
	if err != nil {
		return v, err
	}
	v.Grants, err = buildGrants(ctx, q, grants, "")
	return v, err
}
