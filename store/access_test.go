package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
)

func TestAddLocation(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.AddLocation(ctx, "Tower A/Floor 2/Suite 201", false, []string{"S201", " 201 ", "s201", ""}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddLocation(ctx, "Tower A/Lobby", true, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		common  bool
		aliases []string
		want    error
		path2   string // the stored path
	}{
		{name: "same again", path: "Tower A/Floor 2/Suite 201", aliases: []string{"S201", "201"}, path2: "Tower A/Floor 2/Suite 201"},
		{name: "same, other case and spaces", path: " tower a /floor  2/ SUITE 201", aliases: []string{"s201", "201"}, path2: "Tower A/Floor 2/Suite 201"},
		{name: "implicit ancestor, same flags", path: "Tower A/Floor 2", path2: "Tower A/Floor 2"},
		{name: "other common flag", path: "Tower A/Lobby", want: ErrExists, path2: "Tower A/Lobby"},
		{name: "other aliases", path: "Tower A/Floor 2/Suite 201", aliases: []string{"S201"}, want: ErrExists, path2: "Tower A/Floor 2/Suite 201"},
		{name: "empty segment", path: "Tower A//Suite 305", want: ErrInvalid},
		{name: "trailing slash", path: "Tower A/", want: ErrInvalid},
		{name: "blank", path: "  ", want: ErrInvalid},
		{name: "new sibling", path: "Tower A/Floor 3/Suite 305", path2: "Tower A/Floor 3/Suite 305"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := s.AddLocation(ctx, tc.path, tc.common, tc.aliases)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if l.Path != tc.path2 {
				t.Errorf("path %q, want %q", l.Path, tc.path2)
			}
		})
	}
	ls, err := s.Locations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	byPath := map[string]Location{}
	for _, l := range ls {
		paths = append(paths, l.Path)
		byPath[l.Path] = l
	}
	want := []string{"Tower A", "Tower A/Floor 2", "Tower A/Floor 2/Suite 201", "Tower A/Floor 3", "Tower A/Floor 3/Suite 305", "Tower A/Lobby"}
	if !slices.Equal(paths, want) {
		t.Errorf("locations %q, want %q", paths, want)
	}
	suite := byPath["Tower A/Floor 2/Suite 201"]
	if suite.Common || !slices.Equal(suite.AliasList(), []string{"S201", "201"}) || suite.Name != "Suite 201" ||
		suite.ParentID.Int64 != byPath["Tower A/Floor 2"].ID || byPath["Tower A"].ParentID.Valid || byPath["Tower A"].Common {
		t.Errorf("tree wrong: %+v", ls)
	}
	if !byPath["Tower A/Lobby"].Common {
		t.Error("lobby not common")
	}
	for _, tc := range []struct {
		path string
		want error
	}{{"tower a/floor 2/suite 201", nil}, {"TOWER A / FLOOR 2 / SUITE 201", nil}, {"Tower C", ErrNotFound}, {"", ErrNotFound}, {"Tower A//x", ErrNotFound}} {
		l, err := s.LocationByPath(ctx, tc.path)
		if !errors.Is(err, tc.want) || (err == nil && l.ID != suite.ID) {
			t.Errorf("LocationByPath(%q) = %+v, %v", tc.path, l, err)
		}
	}
	if l, err := s.LocationByID(ctx, suite.ID); err != nil || l.Path != suite.Path {
		t.Errorf("LocationByID: %+v %v", l, err)
	}
	if _, err := s.LocationByID(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("LocationByID(9999): %v", err)
	}
}

// fixture: an office with two managers in one group, a third tenant and a
// location tree; returns the people by name and the locations by path.
func accessFixture(t *testing.T, s *Store) (map[string]Person, map[string]Location) {
	t.Helper()
	ctx := context.Background()
	people := map[string]Person{}
	for _, n := range []string{"ann", "bob", "cat", "dan"} {
		p, err := s.InsertPerson(ctx, Person{Email: n + "@example.org", CreatedVia: "staff"})
		if err != nil {
			t.Fatal(err)
		}
		people[n] = p
	}
	locs := map[string]Location{}
	for _, path := range []string{"Tower A/Suite 201", "Tower A/Suite 305", "Tower A/Lobby", "Tower B"} {
		l, err := s.AddLocation(ctx, path, path == "Tower A/Lobby", nil)
		if err != nil {
			t.Fatal(err)
		}
		locs[path] = l
	}
	return people, locs
}

func TestGroupsGrantsAccess(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	people, locs := accessFixture(t, s)
	g, err := s.AddGroup(ctx, "Office  Managers ")
	if err != nil || g.Name != "Office Managers" {
		t.Fatalf("AddGroup: %+v %v", g, err)
	}
	if g2, err := s.AddGroup(ctx, "office managers"); err != nil || g2.ID != g.ID {
		t.Errorf("AddGroup again: %+v %v", g2, err)
	}
	if _, err := s.AddGroup(ctx, " "); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty group name: %v", err)
	}
	if _, err := s.GroupByName(ctx, "Plumbers"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GroupByName missing: %v", err)
	}
	for i := 0; i < 2; i++ { // idempotent
		for _, n := range []string{"ann", "bob"} {
			if err := s.AddGroupMember(ctx, g.ID, people[n].ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	ms, err := s.GroupMembers(ctx, g.ID)
	if err != nil || len(ms) != 2 || ms[0].Email != "ann@example.org" || ms[1].Email != "bob@example.org" {
		t.Errorf("members %+v %v", ms, err)
	}
	if gs, err := s.PersonGroups(ctx, people["ann"].ID); err != nil || len(gs) != 1 || gs[0].ID != g.ID {
		t.Errorf("PersonGroups(ann) %+v %v", gs, err)
	}
	if gs, err := s.PersonGroups(ctx, people["cat"].ID); err != nil || len(gs) != 0 {
		t.Errorf("PersonGroups(cat) %+v %v", gs, err)
	}

	id := func(path string) sql.NullInt64 { return nullInt(locs[path].ID) }
	grants := []Grant{
		{GroupID: nullInt(g.ID), LocationID: id("Tower A/Suite 201")},
		{PersonID: nullInt(people["ann"].ID), LocationID: id("Tower B")},
		{PersonID: nullInt(people["cat"].ID), LocationID: id("Tower A/Suite 305")},
		{PersonID: nullInt(people["dan"].ID), AllLocations: true},
	}
	for i := 0; i < 2; i++ {
		for _, gr := range grants {
			if err := s.AddGrant(ctx, gr); err != nil {
				t.Fatalf("AddGrant %+v: %v", gr, err)
			}
		}
	}
	var n int
	s.DB().Get(&n, "SELECT COUNT(*) FROM grants")
	if n != len(grants) {
		t.Errorf("%d grant rows after granting twice, want %d", n, len(grants))
	}
	for name, bad := range map[string]Grant{
		"no holder":        {LocationID: id("Tower B")},
		"two holders":      {PersonID: nullInt(people["ann"].ID), GroupID: nullInt(g.ID), LocationID: id("Tower B")},
		"no location":      {PersonID: nullInt(people["ann"].ID)},
		"location and all": {PersonID: nullInt(people["ann"].ID), LocationID: id("Tower B"), AllLocations: true},
	} {
		if err := s.AddGrant(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}

	for _, tc := range []struct {
		who  string
		all  bool
		locs []string
	}{
		{who: "ann", locs: []string{"Tower A/Suite 201", "Tower B"}}, // own + group, merged
		{who: "bob", locs: []string{"Tower A/Suite 201"}},            // group only
		{who: "cat", locs: []string{"Tower A/Suite 305"}},
		{who: "dan", all: true},
	} {
		t.Run("access "+tc.who, func(t *testing.T) {
			all, got, err := s.PersonAccess(ctx, people[tc.who].ID)
			var want []int64
			for _, p := range tc.locs {
				want = append(want, locs[p].ID)
			}
			slices.Sort(want)
			if err != nil || all != tc.all || !slices.Equal(got, want) {
				t.Errorf("PersonAccess = %v %v %v, want %v %v", all, got, err, tc.all, want)
			}
		})
	}
	if gs, err := s.GroupGrants(ctx, g.ID); err != nil || len(gs) != 1 || gs[0].LocationID != id("Tower A/Suite 201") {
		t.Errorf("GroupGrants %+v %v", gs, err)
	}
	if gs, err := s.PersonGrants(ctx, people["dan"].ID); err != nil || len(gs) != 1 || !gs[0].AllLocations || gs[0].LocationID.Valid {
		t.Errorf("PersonGrants(dan) %+v %v", gs, err)
	}
}

func TestRequestsVisibleTo(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	people, _ := accessFixture(t, s)
	g, _ := s.AddGroup(ctx, "Office managers")
	s.AddGroupMember(ctx, g.ID, people["ann"].ID)
	s.AddGroupMember(ctx, g.ID, people["bob"].ID)
	newReq := func(requester string) int64 {
		r, err := s.InsertRequest(ctx, Request{Subject: requester, NormSubject: requester, RequesterID: people[requester].ID, CreatorID: people[requester].ID}, 1001)
		if err != nil {
			t.Fatal(err)
		}
		s.AddFollower(ctx, r.ID, people[requester].ID, "requester")
		return r.Number
	}
	annReq, bobReq, catReq := newReq("ann"), newReq("bob"), newReq("cat")
	catFollowed := newReq("cat")
	r, _ := s.RequestByNumber(ctx, catFollowed)
	s.AddFollower(ctx, r.ID, people["dan"].ID, "cc")
	for _, tc := range []struct {
		who  string
		want []int64
	}{
		{"ann", []int64{annReq, bobReq}}, // group members see each other's requests
		{"bob", []int64{annReq, bobReq}},
		{"cat", []int64{catReq, catFollowed}}, // not in the group: own only
		{"dan", []int64{catFollowed}},         // follower
	} {
		t.Run(tc.who, func(t *testing.T) {
			rs, err := s.RequestsVisibleTo(ctx, people[tc.who].ID)
			var got []int64
			for _, r := range rs {
				got = append(got, r.Number)
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("visible %v %v, want %v", got, err, tc.want)
			}
		})
	}
}

func TestRequestSetters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	people, locs := accessFixture(t, s)
	r, err := s.InsertRequest(ctx, Request{Subject: "x", NormSubject: "x", RequesterID: people["ann"].ID, CreatorID: people["dan"].ID}, 1001)
	if err != nil {
		t.Fatal(err)
	}
	loc := nullInt(locs["Tower A/Lobby"].ID)
	for _, tc := range []struct {
		name string
		fn   func() error
		want error
	}{
		{"close", func() error { return s.SetRequestState(ctx, r.ID, "closed") }, nil},
		{"bad state", func() error { return s.SetRequestState(ctx, r.ID, "resolved") }, ErrInvalid},
		{"urgent", func() error { return s.SetRequestPriority(ctx, r.ID, "urgent") }, nil},
		{"bad priority", func() error { return s.SetRequestPriority(ctx, r.ID, "asap") }, ErrInvalid},
		{"location", func() error { return s.SetRequestLocation(ctx, r.ID, loc) }, nil},
		{"requester", func() error { return s.SetRequester(ctx, r.ID, people["bob"].ID) }, nil},
		{"label", func() error { return s.AddLabel(ctx, r.ID, " plumbing ") }, nil},
		{"label twice", func() error { return s.AddLabel(ctx, r.ID, "plumbing") }, nil},
		{"label 2", func() error { return s.AddLabel(ctx, r.ID, "Emergency") }, nil},
		{"empty label", func() error { return s.AddLabel(ctx, r.ID, "  ") }, ErrInvalid},
		{"missing request", func() error { return s.SetRequestState(ctx, 9999, "open") }, ErrNotFound},
		{"missing request location", func() error { return s.SetRequestLocation(ctx, 9999, sql.NullInt64{}) }, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.fn(); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	got, _ := s.RequestByID(ctx, r.ID)
	if got.State != "closed" || got.Priority != "urgent" || got.LocationID != loc || got.RequesterID != people["bob"].ID || got.CreatorID != people["dan"].ID {
		t.Errorf("request %+v", got)
	}
	if ls, err := s.Labels(ctx, r.ID); err != nil || !slices.Equal(ls, []string{"Emergency", "plumbing"}) {
		t.Errorf("labels %q %v", ls, err)
	}
	if err := s.SetRequestLocation(ctx, r.ID, sql.NullInt64{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.RequestByID(ctx, r.ID); got.LocationID.Valid {
		t.Error("location not cleared")
	}
}

func TestUpdatePerson(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	p, _ := s.InsertPerson(ctx, Person{Email: "t@example.org", Status: "pending", CreatedVia: "email"})
	for _, tc := range []struct {
		name string
		edit func(p Person) Person
		want error
	}{
		{"make staff admin", func(p Person) Person { p.Kind, p.IsAdmin, p.Status, p.Name = "staff", true, "active", "Tess"; return p }, nil},
		{"bad kind", func(p Person) Person { p.Kind = "robot"; return p }, ErrInvalid},
		{"bad status", func(p Person) Person { p.Status = "gone"; return p }, ErrInvalid},
		{"missing", func(p Person) Person { p.ID = 9999; return p }, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.UpdatePerson(ctx, tc.edit(p)); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	got, _ := s.PersonByID(ctx, p.ID)
	if got.Kind != "staff" || !got.IsAdmin || got.Status != "active" || got.Name != "Tess" || got.CreatedVia != "email" {
		t.Errorf("person %+v", got)
	}
	s.AddEvent(ctx, 0, p.ID, 0, "approved", "by CLI")
	if es, err := s.PersonEvents(ctx, p.ID); err != nil || len(es) != 1 || es[0].Kind != "approved" {
		t.Errorf("PersonEvents %+v %v", es, err)
	}
}
