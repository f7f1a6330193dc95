package rules

import "strings"

// Person is someone who may get mail about a request: the requester or a
// follower, with what the caller knows about their address.
type Person struct {
	ID            int64
	Email         string
	Kind          string // KindStaff | KindOccupant
	Status        string // StatusPending | StatusActive | StatusDenied | StatusBlocked ("" for staff)
	Undeliverable bool   // a bounce said so
	Own           bool   // one of our own addresses
	NoReply       bool   // no-reply / daemon address
	Reason        string // why they follow: ReasonRequester | ReasonCC | ReasonForwarded | ReasonStaffAdded | ReasonCommented
}

// Follower reasons (Person.Reason).
const (
	ReasonRequester  = "requester"
	ReasonCC         = "cc"
	ReasonForwarded  = "forwarded"
	ReasonStaffAdded = "staff-added"
	ReasonCommented  = "commented"
)

// Change kinds (Change.Kind).
const (
	ChangeCreated  = "created"
	ChangeUpdate   = "update"
	ChangeReply    = "reply"
	ChangeClosed   = "closed"
	ChangeReopened = "reopened"
)

// Change is what happened to a request.
type Change struct {
	Kind      string // ChangeCreated | ChangeUpdate | ChangeReply | ChangeClosed | ChangeReopened
	Internal  bool   // an internal note: staff followers only
	AuthorID  int64  // who made it: never notified of their own change (0: nobody, e.g. the daemon)
	Automatic bool   // caused by an auto-reply, bounce, list or our own mail: nothing goes out at all
}

// Notify returns who gets mail about a change (DESIGN §3 step 5), each
// person once:
//
//   - nobody when the change is Automatic (RFC 3834: no mail ever goes out
//     because of an auto-reply, bounce, list mail or our own mail), and
//     nobody for an unknown Kind (fail closed);
//   - "created": only the requester, who gets the acknowledgement — also
//     when they are the author (that is the usual case). A staff member
//     filing for an occupant is not the requester and gets nothing;
//   - any other kind: the requester and the followers, except the author
//     of the change (AuthorID ≠ 0);
//   - Internal: of those, staff only;
//   - never anyone with an empty address, an undeliverable address, a
//     blocked or denied status, one of our own addresses or a no-reply
//     address.
//
// Order: people whose Reason is "requester" first, then the others, each
// group in the order given. Duplicates — the same ID (≠ 0) or the same
// address, compared case-insensitively — are merged: the first occurrence
// is returned, and if any occurrence is excluded by the rules above, the
// person is excluded.
func Notify(c Change, people []Person) []Person {
	if c.Automatic {
		return nil
	}
	switch c.Kind {
	case ChangeCreated, ChangeUpdate, ChangeReply, ChangeClosed, ChangeReopened:
	default:
		return nil
	}

	// First pass: which ids and addresses are excluded by any occurrence.
	badID := map[int64]bool{}
	badEmail := map[string]bool{}
	for _, p := range people {
		if !excluded(c, p) {
			continue
		}
		if p.ID != 0 {
			badID[p.ID] = true
		}
		if e := emailKey(p.Email); e != "" {
			badEmail[e] = true
		}
	}

	var out []Person
	seenID := map[int64]bool{}
	seenEmail := map[string]bool{}
	add := func(p Person) {
		e := emailKey(p.Email)
		if e == "" || badEmail[e] || seenEmail[e] {
			return
		}
		if p.ID != 0 && (badID[p.ID] || seenID[p.ID]) {
			return
		}
		seenEmail[e] = true
		if p.ID != 0 {
			seenID[p.ID] = true
		}
		out = append(out, p)
	}
	for _, p := range people {
		if p.Reason == ReasonRequester {
			add(p)
		}
	}
	if c.Kind == ChangeCreated {
		return out
	}
	for _, p := range people {
		if p.Reason != ReasonRequester {
			add(p)
		}
	}
	return out
}

// excluded says whether p must not get mail about c, whoever else they are.
func excluded(c Change, p Person) bool {
	switch {
	case p.Undeliverable, p.Own, p.NoReply:
		return true
	case p.Status == StatusBlocked || p.Status == StatusDenied:
		return true
	case c.Internal && p.Kind != KindStaff:
		return true
	case c.Kind != ChangeCreated && c.AuthorID != 0 && p.ID == c.AuthorID:
		return true
	}
	return false
}

func emailKey(e string) string { return strings.ToLower(strings.TrimSpace(e)) }
