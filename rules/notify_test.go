package rules

import (
	"slices"
	"testing"
)

func TestNotify(t *testing.T) {
	// The cast: occupant requester, occupant CC, staff follower, staff author.
	req := Person{ID: 1, Email: "jane@example.org", Kind: KindOccupant, Status: StatusActive, Reason: ReasonRequester}
	cc := Person{ID: 2, Email: "bob@example.org", Kind: KindOccupant, Status: StatusActive, Reason: ReasonCC}
	staff := Person{ID: 3, Email: "sam@facilities.example", Kind: KindStaff, Reason: ReasonStaffAdded}
	staff2 := Person{ID: 4, Email: "tess@facilities.example", Kind: KindStaff, Reason: ReasonCommented}
	with := func(p Person, f func(*Person)) Person { f(&p); return p }
	all := []Person{req, cc, staff, staff2}

	cases := []struct {
		name   string
		c      Change
		people []Person
		want   []string
	}{
		// created: the acknowledgement goes to the requester only.
		{"created: requester who wrote in gets the ack", Change{Kind: ChangeCreated, AuthorID: 1}, all, []string{"jane@example.org"}},
		{"created: staff filing for occupant, only requester", Change{Kind: ChangeCreated, AuthorID: 3}, all, []string{"jane@example.org"}},
		{"created: CC'd followers get nothing", Change{Kind: ChangeCreated, AuthorID: 1}, []Person{cc, staff}, nil},
		{"created: no requester, nobody", Change{Kind: ChangeCreated}, []Person{cc, staff, staff2}, nil},
		{"created: staff requester filing for themselves", Change{Kind: ChangeCreated, AuthorID: 3},
			[]Person{with(staff, func(p *Person) { p.Reason = ReasonRequester }), cc}, []string{"sam@facilities.example"}},
		{"created: undeliverable requester", Change{Kind: ChangeCreated, AuthorID: 1},
			[]Person{with(req, func(p *Person) { p.Undeliverable = true })}, nil},
		{"created: no-reply requester", Change{Kind: ChangeCreated, AuthorID: 1},
			[]Person{with(req, func(p *Person) { p.NoReply = true })}, nil},
		{"created: pending requester gets the ack", Change{Kind: ChangeCreated, AuthorID: 1},
			[]Person{with(req, func(p *Person) { p.Status = StatusPending })}, []string{"jane@example.org"}},
		{"created: denied requester", Change{Kind: ChangeCreated, AuthorID: 1},
			[]Person{with(req, func(p *Person) { p.Status = StatusDenied })}, nil},
		{"created: automatic", Change{Kind: ChangeCreated, AuthorID: 1, Automatic: true}, all, nil},
		{"created internal: occupant requester gets nothing", Change{Kind: ChangeCreated, Internal: true, AuthorID: 3}, all, nil},

		// public changes: requester and followers, never the author.
		{"update by requester: followers, not the requester", Change{Kind: ChangeUpdate, AuthorID: 1}, all,
			[]string{"bob@example.org", "sam@facilities.example", "tess@facilities.example"}},
		{"reply by staff: requester first, then others, not the author", Change{Kind: ChangeReply, AuthorID: 3}, all,
			[]string{"jane@example.org", "bob@example.org", "tess@facilities.example"}},
		{"closed by staff", Change{Kind: ChangeClosed, AuthorID: 4}, all,
			[]string{"jane@example.org", "bob@example.org", "sam@facilities.example"}},
		{"reopened by requester", Change{Kind: ChangeReopened, AuthorID: 1}, all,
			[]string{"bob@example.org", "sam@facilities.example", "tess@facilities.example"}},
		{"change by the daemon (author 0): everyone", Change{Kind: ChangeClosed}, all,
			[]string{"jane@example.org", "bob@example.org", "sam@facilities.example", "tess@facilities.example"}},
		{"author 0 does not exclude a person with id 0", Change{Kind: ChangeUpdate},
			[]Person{{Email: "x@example.org", Reason: ReasonCC, Kind: KindOccupant}}, []string{"x@example.org"}},
		{"requester listed last still comes first", Change{Kind: ChangeReply, AuthorID: 3}, []Person{staff2, cc, req},
			[]string{"jane@example.org", "tess@facilities.example", "bob@example.org"}},
		{"followers keep their given order", Change{Kind: ChangeReply, AuthorID: 9}, []Person{staff2, cc, staff},
			[]string{"tess@facilities.example", "bob@example.org", "sam@facilities.example"}},
		{"no people", Change{Kind: ChangeUpdate, AuthorID: 1}, nil, nil},

		// internal notes: staff followers only.
		{"internal: staff only, not the author", Change{Kind: ChangeUpdate, Internal: true, AuthorID: 3}, all,
			[]string{"tess@facilities.example"}},
		{"internal by daemon: all staff", Change{Kind: ChangeReply, Internal: true}, all,
			[]string{"sam@facilities.example", "tess@facilities.example"}},
		{"internal: staff requester is staff", Change{Kind: ChangeUpdate, Internal: true, AuthorID: 4},
			[]Person{with(staff, func(p *Person) { p.Reason = ReasonRequester }), cc, staff2}, []string{"sam@facilities.example"}},
		{"internal: empty kind is not staff", Change{Kind: ChangeUpdate, Internal: true},
			[]Person{with(staff, func(p *Person) { p.Kind = "" })}, nil},
		{"internal: kind compared exactly", Change{Kind: ChangeUpdate, Internal: true},
			[]Person{with(staff, func(p *Person) { p.Kind = "Staff" })}, nil},

		// nothing at all.
		{"automatic update: nobody", Change{Kind: ChangeUpdate, AuthorID: 1, Automatic: true}, all, nil},
		{"automatic reply by daemon: nobody", Change{Kind: ChangeReply, Automatic: true}, all, nil},
		{"unknown kind: nobody", Change{Kind: "comment", AuthorID: 1}, all, nil},
		{"empty kind: nobody", Change{AuthorID: 1}, all, nil},
		{"kind compared exactly", Change{Kind: "Update", AuthorID: 1}, all, nil},

		// never these addresses.
		{"undeliverable skipped", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{req, with(cc, func(p *Person) { p.Undeliverable = true })}, []string{"jane@example.org"}},
		{"blocked skipped", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{with(req, func(p *Person) { p.Status = StatusBlocked }), cc}, []string{"bob@example.org"}},
		{"denied skipped", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{req, with(cc, func(p *Person) { p.Status = StatusDenied })}, []string{"jane@example.org"}},
		{"pending gets updates", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{req, with(cc, func(p *Person) { p.Status = StatusPending })}, []string{"jane@example.org", "bob@example.org"}},
		{"own address skipped", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{req, {ID: 7, Email: "help@tikkit.example", Kind: KindStaff, Own: true, Reason: ReasonCC}}, []string{"jane@example.org"}},
		{"own address skipped even as requester of created", Change{Kind: ChangeCreated},
			[]Person{{ID: 7, Email: "help@tikkit.example", Own: true, Reason: ReasonRequester}}, nil},
		{"no-reply skipped", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{{ID: 8, Email: "noreply@forms.example.net", NoReply: true, Reason: ReasonRequester}, cc}, []string{"bob@example.org"}},
		{"empty address skipped", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{{ID: 9, Email: "  ", Reason: ReasonCC}, cc}, []string{"bob@example.org"}},

		// each once.
		{"same person as requester and cc: once, as requester", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{with(req, func(p *Person) { p.Reason = ReasonCC }), cc, req}, []string{"jane@example.org", "bob@example.org"}},
		{"same address, other case: once", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{cc, {ID: 12, Email: " BOB@Example.ORG", Reason: ReasonForwarded}}, []string{"bob@example.org"}},
		{"same id, other address: once", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{cc, with(cc, func(p *Person) { p.Email = "bob.old@example.org" })}, []string{"bob@example.org"}},
		{"any excluded occurrence excludes the person", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{cc, with(cc, func(p *Person) { p.Reason = ReasonForwarded; p.Undeliverable = true }), req}, []string{"jane@example.org"}},
		{"excluded address excludes another id with it", Change{Kind: ChangeReply, AuthorID: 3},
			[]Person{{ID: 20, Email: "x@example.org", Reason: ReasonCC}, {ID: 21, Email: "X@example.org", Reason: ReasonCC, Status: StatusBlocked}}, nil},
		{"author listed twice: never", Change{Kind: ChangeReply, AuthorID: 2},
			[]Person{cc, with(cc, func(p *Person) { p.Reason = ReasonCommented }), req}, []string{"jane@example.org"}},
		{"author's other address (same id): never", Change{Kind: ChangeReply, AuthorID: 2},
			[]Person{with(cc, func(p *Person) { p.Email = "bob@home.example" }), req}, []string{"jane@example.org"}},
		{"ids 0 are not merged", Change{Kind: ChangeUpdate},
			[]Person{{Email: "a@example.org", Reason: ReasonCC}, {Email: "b@example.org", Reason: ReasonCC}}, []string{"a@example.org", "b@example.org"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.people)
			got := Notify(c.c, c.people)
			var emails []string
			for _, p := range got {
				emails = append(emails, p.Email)
			}
			if !slices.Equal(emails, c.want) {
				t.Errorf("Notify(%+v) = %q, want %q", c.c, emails, c.want)
			}
			if !slices.Equal(in, c.people) {
				t.Errorf("Notify changed its input")
			}
		})
	}
}

func TestNotifyReturnsPeopleUnchanged(t *testing.T) {
	p := Person{ID: 5, Email: "Jane@Example.org", Kind: KindOccupant, Status: StatusActive, Reason: ReasonRequester}
	got := Notify(Change{Kind: ChangeReply, AuthorID: 3}, []Person{p})
	if len(got) != 1 || got[0] != p {
		t.Fatalf("got %+v, want the person as given", got)
	}
}
