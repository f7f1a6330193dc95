package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Location ids of the test site.
const (
	towerA     = 1
	floorA2    = 2
	suite201   = 3
	kitchenA2  = 4
	floorA3    = 5
	suite305   = 6
	kitchenA3  = 7
	lobbyA     = 8
	towerB     = 9
	lobbyB     = 10
	parking    = 11
	suite101   = 12
	floorB1    = 13
	mailroomA  = 14
	securityA  = 15
	suite202   = 16
	buildingX  = 20 // a root named "A"
	orphanShed = 99 // parent 50 does not exist
)

func testTree() *Tree {
	return NewTree([]Location{
		{ID: towerA, Name: "Tower A", Path: "Tower A"},
		{ID: floorA2, Parent: towerA, Name: "Floor 2", Path: "Tower A/Floor 2"},
		{ID: suite201, Parent: floorA2, Name: "Suite 201", Path: "Tower A/Floor 2/Suite 201", Aliases: []string{"Acme Office"}},
		{ID: kitchenA2, Parent: floorA2, Name: "Kitchen", Path: "Tower A/Floor 2/Kitchen", Common: true},
		{ID: floorA3, Parent: towerA, Name: "Floor 3", Path: "Tower A/Floor 3"},
		{ID: suite305, Parent: floorA3, Name: "Suite 305", Path: "Tower A/Floor 3/Suite 305"},
		{ID: kitchenA3, Parent: floorA3, Name: "Kitchen", Path: "Tower A/Floor 3/Kitchen", Common: true},
		{ID: lobbyA, Parent: towerA, Name: "Lobby", Path: "Tower A/Lobby", Common: true},
		{ID: towerB, Name: "Tower B", Path: "Tower B"},
		{ID: lobbyB, Parent: towerB, Name: "Lobby", Path: "Tower B/Lobby", Common: true},
		{ID: parking, Name: "Parking", Path: "Parking", Common: true, Aliases: []string{"garage"}},
		{ID: floorB1, Parent: towerB, Name: "Floor 1", Path: "Tower B/Floor 1"},
		{ID: suite101, Parent: floorB1, Name: "Suite 101", Path: "Tower B/Floor 1/Suite 101"},
		{ID: mailroomA, Parent: lobbyA, Name: "Mailroom", Path: "Tower A/Lobby/Mailroom", Common: true},
		{ID: securityA, Parent: lobbyA, Name: "Security Office", Path: "Tower A/Lobby/Security Office"},
		{ID: suite202, Parent: floorA2, Name: "Suite 202", Path: "Tower A/Floor 2/Suite 202"},
		{ID: buildingX, Name: "A", Path: "A"},
		{ID: orphanShed, Parent: 50, Name: "Shed", Path: "?/Shed", Common: true},
		{ID: 0, Name: "ignored: id 0"},
		{ID: suite201, Name: "ignored: duplicate id"},
	})
}

func TestTreeGetAncestors(t *testing.T) {
	tr := testTree()
	cases := []struct {
		name string
		id   int64
		want []int64
	}{
		{"suite: floor then building", suite201, []int64{floorA2, towerA}},
		{"common in common", mailroomA, []int64{lobbyA, towerA}},
		{"root has none", towerA, nil},
		{"common root has none", parking, nil},
		{"missing parent ends the chain", orphanShed, nil},
		{"unknown id", 12345, nil},
		{"virtual root is not a location", 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tr.Ancestors(c.id); !slices.Equal(got, c.want) {
				t.Errorf("Ancestors(%d) = %v, want %v", c.id, got, c.want)
			}
		})
	}
	t.Run("Get first of duplicate ids", func(t *testing.T) {
		l, ok := tr.Get(suite201)
		if !ok || l.Name != "Suite 201" {
			t.Errorf("Get(%d) = %+v, %v", suite201, l, ok)
		}
	})
	t.Run("Get id 0", func(t *testing.T) {
		if _, ok := tr.Get(0); ok {
			t.Error("Get(0) found a location")
		}
	})
	t.Run("cycle terminates", func(t *testing.T) {
		c := NewTree([]Location{{ID: 1, Parent: 2}, {ID: 2, Parent: 3}, {ID: 3, Parent: 1}})
		if got := c.Ancestors(1); !slices.Equal(got, []int64{2, 3}) {
			t.Errorf("Ancestors(1) = %v, want [2 3]", got)
		}
		if c.CanUse(Access{Locations: []int64{2}}, 1) != true {
			t.Error("grant of an ancestor in a cycle not honoured")
		}
		if c.CanUse(Access{Locations: []int64{9}}, 1) {
			t.Error("unknown grant used")
		}
	})
	t.Run("common areas in a cycle are not usable", func(t *testing.T) {
		c := NewTree([]Location{{ID: 1, Parent: 2, Common: true}, {ID: 2, Parent: 1, Common: true}, {ID: 3}})
		if c.CanUse(Access{Locations: []int64{3}}, 1) {
			t.Error("common area in a cycle usable")
		}
	})
}

func TestCanUse(t *testing.T) {
	tr := testTree()
	occupant201 := Access{Locations: []int64{suite201}}
	viaGroup := Access{Locations: []int64{suite201, suite101}} // own suite 201 + group's suite 101
	cases := []struct {
		name string
		a    Access
		loc  int64
		want bool
	}{
		// The examples of the brief, for a Tower A/Floor 2/Suite 201 occupant.
		{"201: own suite", occupant201, suite201, true},
		{"201: lobby of own building (common)", occupant201, lobbyA, true},
		{"201: site-wide parking (common at root)", occupant201, parking, true},
		{"201: kitchen on own floor (common)", occupant201, kitchenA2, true},
		{"201: not suite 305", occupant201, suite305, false},
		{"201: not lobby of Tower B", occupant201, lobbyB, false},
		{"201: not kitchen on floor 3", occupant201, kitchenA3, false},
		{"201: not neighbouring suite 202", occupant201, suite202, false},
		{"201: not own floor (private container)", occupant201, floorA2, false},
		{"201: not own building (private container)", occupant201, towerA, false},
		{"201: mailroom in the lobby (common in common)", occupant201, mailroomA, true},
		{"201: not security office in the lobby (private in common)", occupant201, securityA, false},
		{"201: not a common area under a missing parent", occupant201, orphanShed, false},
		{"201: unknown location", occupant201, 12345, false},
		{"201: location 0", occupant201, 0, false},

		// Group grants merged with own grants.
		{"group: suite 101 via group", viaGroup, suite101, true},
		{"group: Tower B lobby via group's suite", viaGroup, lobbyB, true},
		{"group: own suite still", viaGroup, suite201, true},
		{"group: not suite 305", viaGroup, suite305, false},

		// Grants of containers.
		{"building grant: suite 305", Access{Locations: []int64{towerA}}, suite305, true},
		{"building grant: floor 3 kitchen", Access{Locations: []int64{towerA}}, kitchenA3, true},
		{"building grant: parking", Access{Locations: []int64{towerA}}, parking, true},
		{"building grant: not Tower B lobby", Access{Locations: []int64{towerA}}, lobbyB, false},
		{"floor grant: suite 202", Access{Locations: []int64{floorA2}}, suite202, true},
		{"floor grant: lobby of its building", Access{Locations: []int64{floorA2}}, lobbyA, true},
		{"floor grant: not floor 3 kitchen", Access{Locations: []int64{floorA2}}, kitchenA3, false},

		// Grants of common areas only.
		{"lobby grant: lobby", Access{Locations: []int64{lobbyA}}, lobbyA, true},
		{"lobby grant: mailroom under it", Access{Locations: []int64{lobbyA}}, mailroomA, true},
		{"lobby grant: security office under it", Access{Locations: []int64{lobbyA}}, securityA, true},
		{"lobby grant: parking (any grant under the site)", Access{Locations: []int64{lobbyA}}, parking, true},
		{"lobby grant: not suite 201", Access{Locations: []int64{lobbyA}}, suite201, false},
		{"parking grant: parking", Access{Locations: []int64{parking}}, parking, true},
		{"parking grant: not Tower A lobby", Access{Locations: []int64{parking}}, lobbyA, false},

		// All, nothing, bad grants.
		{"all: suite 305", Access{All: true}, suite305, true},
		{"all: orphan", Access{All: true}, orphanShed, true},
		{"all: unknown location", Access{All: true}, 12345, false},
		{"all: location 0", Access{All: true}, 0, false},
		{"no grants: parking", Access{}, parking, false},
		{"no grants: lobby", Access{}, lobbyA, false},
		{"unknown grant: parking", Access{Locations: []int64{12345}}, parking, false},
		{"grant 0: parking", Access{Locations: []int64{0}}, parking, false},
		{"orphan grant: not parking", Access{Locations: []int64{orphanShed}}, parking, false},
		{"orphan grant: orphan", Access{Locations: []int64{orphanShed}}, orphanShed, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tr.CanUse(c.a, c.loc); got != c.want {
				t.Errorf("CanUse(%+v, %d) = %v, want %v", c.a, c.loc, got, c.want)
			}
		})
	}
}

func TestPrivateGrants(t *testing.T) {
	tr := testTree()
	cases := []struct {
		name string
		a    Access
		want []int64
	}{
		{"one suite", Access{Locations: []int64{suite201}}, []int64{suite201}},
		{"commons left out", Access{Locations: []int64{lobbyA, suite201, parking}}, []int64{suite201}},
		{"order kept, duplicates removed", Access{Locations: []int64{suite202, suite201, suite202}}, []int64{suite202, suite201}},
		{"building counts as private", Access{Locations: []int64{towerB}}, []int64{towerB}},
		{"unknown left out", Access{Locations: []int64{12345, 0}}, nil},
		{"all is not expanded", Access{All: true}, nil},
		{"none", Access{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tr.PrivateGrants(c.a); !slices.Equal(got, c.want) {
				t.Errorf("PrivateGrants = %v, want %v", got, c.want)
			}
		})
	}
}

func TestChooseLocation(t *testing.T) {
	tr := testTree()
	occ := Access{Locations: []int64{suite201}}
	two := Access{Locations: []int64{suite201, suite202}}
	staff := Access{All: true}
	cases := []struct {
		name       string
		a          Access
		explicit   int64
		explicitOK bool
		text       string
		want       int64
		how        string
	}{
		{"explicit usable", two, suite202, false, "Suite 201", suite202, "explicit"},
		{"explicit usable common", occ, lobbyA, false, "", lobbyA, "explicit"},
		{"explicit not usable falls back to text", two, suite305, false, "suite 202 leaks", suite202, "text"},
		{"explicit not usable falls back to only private", occ, suite305, false, "", suite201, "only-private"},
		{"explicit by staff for anyone", occ, suite305, true, "", suite305, "explicit"},
		{"explicit unknown id falls back", occ, 12345, true, "", suite201, "only-private"},
		{"explicit 0 is none", two, 0, true, "", 0, ""},

		{"name in text", two, 0, false, "The heater in suite 201 is broken", suite201, "text"},
		{"name with hyphen", two, 0, false, "Suite-201: heater", suite201, "text"},
		{"name upper case, extra spaces, punctuation", two, 0, false, "SUITE   201.", suite201, "text"},
		{"name across a line break", two, 0, false, "in suite\n201", suite201, "text"},
		{"alias", two, 0, false, "acme office: no heat", suite201, "text"},
		{"path with slashes", two, 0, false, "Tower A / Floor 2 / Suite 202", suite202, "text"},
		{"tail of a path", staff, 0, false, "Floor 3 kitchen sink", kitchenA3, "text"},
		{"not a whole word: 2010", two, 0, false, "Suite 2010", 0, ""},
		{"not a whole word: glued", two, 0, false, "suite201", 0, ""},
		{"deepest wins over building", two, 0, false, "Tower A, suite 202", suite202, "text"},
		{"deepest wins over an earlier lobby", occ, 0, false, "lobby door near Suite 201", suite201, "text"},
		{"first in text among equals", two, 0, false, "Suite 202, not suite 201", suite202, "text"},
		{"common area by name", occ, 0, false, "The lobby floor is wet", lobbyA, "text"},
		{"common root by alias", Access{Locations: []int64{suite201, suite202}}, 0, false, "garage door stuck", parking, "text"},
		{"own floor kitchen", two, 0, false, "kitchen tap drips", kitchenA2, "text"},

		// Never a location the requester may not use.
		{"suite 305 named by occupant of 201: only private", occ, 0, false, "water from Suite 305", suite201, "only-private"},
		{"suite 305 named by occupant of 201 and 202: none", two, 0, false, "water from Suite 305", 0, ""},
		{"Tower B lobby by path: not usable, falls back", occ, 0, false, "Tower B/Lobby", suite201, "only-private"},
		{"floor 3 kitchen by path: not usable, own lobby not named", two, 0, false, "Tower A/Floor 3/Kitchen", 0, ""},
		{"no access at all", Access{}, 0, false, "Suite 201", 0, ""},

		// Ambiguity and short names.
		{"two equally deep kitchens: ambiguous", staff, 0, false, "the kitchen", 0, ""},
		{"two lobbies: path decides", staff, 0, false, "Tower B lobby", lobbyB, "text"},
		{"single letter name never matches alone", staff, 0, false, "a leak", 0, ""},
		{"no text", two, 0, false, "", 0, ""},
		{"hashtag word", two, 0, false, "#suite-202", suite202, "text"},

		{"only private with commons granted too", Access{Locations: []int64{lobbyA, suite201}}, 0, false, "hello", suite201, "only-private"},
		{"two private grants: none", two, 0, false, "hello", 0, ""},
		{"staff, nothing named", staff, 0, false, "hello", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, how := ChooseLocation(tr, c.a, c.explicit, c.explicitOK, c.text)
			if got != c.want || how != c.how {
				t.Errorf("ChooseLocation = %d, %q; want %d, %q", got, how, c.want, c.how)
			}
		})
	}
	t.Run("nil tree", func(t *testing.T) {
		if got, how := ChooseLocation(nil, staff, 1, true, "x"); got != 0 || how != "" {
			t.Errorf("ChooseLocation(nil) = %d, %q", got, how)
		}
	})
}

func TestChooseLocationLongerMention(t *testing.T) {
	tr := testTree()
	cases := []struct {
		name string
		a    Access
		text string
		want int64
	}{
		{"usable suite beside another building's lobby", Access{Locations: []int64{suite201, suite202}}, "Suite 201 and Tower B lobby", suite201},
		{"Tower A lobby disambiguates for staff", Access{All: true}, "the Tower A lobby lights", lobbyA},
		{"own lobby inside Tower B Lobby is not a mention", Access{Locations: []int64{suite201, suite202}}, "Tower B Lobby", 0},
		{"own lobby named again later counts", Access{Locations: []int64{suite201, suite202}}, "Tower B Lobby is fine, but our lobby is not", lobbyA},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := ChooseLocation(tr, c.a, 0, false, c.text); got != c.want {
				t.Errorf("ChooseLocation(%q) = %d, want %d", c.text, got, c.want)
			}
		})
	}
}

// BenchmarkChooseLocation: a campus of 2,000 locations and a 100 KB body
// that names a suite at its end.
func BenchmarkChooseLocation(b *testing.B) {
	var locs []Location
	id := int64(1)
	for bld := 0; bld < 4; bld++ {
		bid := id
		bname := fmt.Sprintf("Building %d", bld+1)
		locs = append(locs, Location{ID: bid, Name: bname, Path: bname})
		locs = append(locs, Location{ID: bid + 1, Parent: bid, Name: "Lobby", Path: bname + "/Lobby", Common: true})
		id += 2
		for fl := 0; fl < 10; fl++ {
			fid := id
			fname := fmt.Sprintf("%s/Floor %d", bname, fl)
			locs = append(locs, Location{ID: fid, Parent: bid, Name: fmt.Sprintf("Floor %d", fl), Path: fname})
			id++
			for r := 0; r < 49; r++ {
				n := fmt.Sprintf("Room %d%02d", fl, r)
				locs = append(locs, Location{ID: id, Parent: fid, Name: n, Path: fname + "/" + n})
				id++
			}
		}
	}
	tr := NewTree(locs)
	text := strings.Repeat("The radiator in the room is cold and the floor is wet again. ", 1600) + "Building 2, floor 3, room 317"
	a := Access{All: true}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if loc, _ := ChooseLocation(tr, a, 0, false, text); loc == 0 {
			b.Fatal("nothing chosen")
		}
	}
	b.ReportMetric(float64(len(locs)), "locations")
}
