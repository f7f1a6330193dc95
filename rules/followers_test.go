package rules

import (
	"slices"
	"testing"
)

func emails(rs []Recipient) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Email)
	}
	return out
}

func TestNewFollowers(t *testing.T) {
	known := func(e, status string) Recipient { return Recipient{Email: e, Known: true, Status: status} }
	unknown := func(e string) Recipient { return Recipient{Email: e} }
	cases := []struct {
		name         string
		rs           []Recipient
		maxNew       int
		add, dropped []string
	}{
		{"none", nil, 5, nil, nil},
		{"known active added", []Recipient{known("a@x.example", "active")}, 0, []string{"a@x.example"}, nil},
		{"known pending added", []Recipient{known("a@x.example", "pending")}, 0, []string{"a@x.example"}, nil},
		{"known denied added", []Recipient{known("a@x.example", "denied")}, 0, []string{"a@x.example"}, nil},
		{"known staff without status added", []Recipient{known("s@x.example", "")}, 0, []string{"s@x.example"}, nil},
		{"known blocked never", []Recipient{known("b@x.example", "blocked")}, 5, nil, nil},
		{"own address never", []Recipient{{Email: "help@tikkit.example", Own: true}}, 5, nil, nil},
		{"own address never, even known", []Recipient{{Email: "help@tikkit.example", Own: true, Known: true, Status: "active"}}, 5, nil, nil},
		{"no-reply never", []Recipient{{Email: "noreply@x.example", NoReply: true}}, 5, nil, nil},
		{"no-reply never, even known", []Recipient{{Email: "noreply@x.example", NoReply: true, Known: true, Status: "active"}}, 5, nil, nil},
		{"list never", []Recipient{{Email: "all@lists.x.example", List: true}}, 5, nil, nil},
		{"skipped ones are not dropped", []Recipient{{Email: "l@x.example", List: true}, {Email: "n@x.example", NoReply: true}}, 0, nil, nil},
		{"empty address skipped", []Recipient{unknown(""), unknown("  ")}, 5, nil, nil},
		{"unknown within limit", []Recipient{unknown("a@x.example"), unknown("b@x.example")}, 2,
			[]string{"a@x.example", "b@x.example"}, nil},
		{"unknown over limit dropped in order", []Recipient{unknown("a@x.example"), unknown("b@x.example"), unknown("c@x.example"), unknown("d@x.example")}, 2,
			[]string{"a@x.example", "b@x.example"}, []string{"c@x.example", "d@x.example"}},
		{"limit 0 creates nobody", []Recipient{unknown("a@x.example"), known("k@x.example", "active")}, 0,
			[]string{"k@x.example"}, []string{"a@x.example"}},
		{"negative limit creates nobody", []Recipient{unknown("a@x.example")}, -1, nil, []string{"a@x.example"}},
		{"known do not count against the limit", []Recipient{known("k1@x.example", "active"), unknown("a@x.example"), known("k2@x.example", "active"), unknown("b@x.example")}, 1,
			[]string{"k1@x.example", "a@x.example", "k2@x.example"}, []string{"b@x.example"}},
		{"skipped unknown do not count against the limit", []Recipient{{Email: "l@x.example", List: true}, unknown("a@x.example")}, 1,
			[]string{"a@x.example"}, nil},
		{"order preserved across kinds", []Recipient{unknown("z@x.example"), known("a@x.example", "active"), unknown("m@x.example")}, 5,
			[]string{"z@x.example", "a@x.example", "m@x.example"}, nil},
		{"duplicates removed", []Recipient{known("a@x.example", "active"), known("a@x.example", "active")}, 5, []string{"a@x.example"}, nil},
		{"duplicates removed case-insensitively", []Recipient{unknown("a@x.example"), unknown("A@X.example")}, 5, []string{"a@x.example"}, nil},
		{"duplicate of a dropped one is not dropped twice", []Recipient{unknown("a@x.example"), unknown("b@x.example"), unknown("b@x.example")}, 1,
			[]string{"a@x.example"}, []string{"b@x.example"}},
		{"duplicate does not use up the limit", []Recipient{unknown("a@x.example"), unknown("a@x.example"), unknown("b@x.example")}, 2,
			[]string{"a@x.example", "b@x.example"}, nil},
		{"first occurrence decides: own then plain", []Recipient{{Email: "help@t.example", Own: true}, unknown("help@t.example")}, 5, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			add, dropped := NewFollowers(c.rs, c.maxNew)
			if got := emails(add); !slices.Equal(got, c.add) {
				t.Errorf("add = %v, want %v", got, c.add)
			}
			if got := emails(dropped); !slices.Equal(got, c.dropped) {
				t.Errorf("dropped = %v, want %v", got, c.dropped)
			}
		})
	}
	t.Run("recipients returned unchanged", func(t *testing.T) {
		r := Recipient{Email: "a@x.example", Known: true, Status: "pending"}
		add, _ := NewFollowers([]Recipient{r}, 0)
		if len(add) != 1 || add[0] != r {
			t.Errorf("add = %+v, want [%+v]", add, r)
		}
	})
}
