package rules

import "strings"

// Recipient is a To/Cc address of an inbound mail, as the caller knows it.
type Recipient struct {
	Email   string // normalised: lower case, punycode domain
	Known   bool   // a person with this address exists
	Own     bool   // one of our own addresses (or aliases)
	NoReply bool   // a no-reply, bounce or mail-daemon address
	List    bool   // a mailing-list address
	Status  string // the known person's status: "pending" | "active" | "denied" | "blocked"
}

// NewFollowers decides which To/Cc recipients become followers of the
// request (DESIGN §3 step 5):
//
//   - an empty address, our own addresses, no-reply and list addresses are
//     skipped, silently;
//   - a known person is added unless blocked (pending and denied people
//     are added: staff CC'd them on purpose);
//   - an unknown address needs a new occupant account: the first maxNew of
//     them are added, the rest are returned in dropped (maxNew ≤ 0: none
//     are created).
//
// Order is preserved; an address seen before (compared case-insensitively)
// is skipped, whatever happened to it the first time.
func NewFollowers(rs []Recipient, maxNew int) (add []Recipient, dropped []Recipient) {
	seen := make(map[string]bool, len(rs))
	created := 0
	for _, r := range rs {
		key := strings.ToLower(strings.TrimSpace(r.Email))
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		switch {
		case r.Own, r.NoReply, r.List:
		case r.Known:
			if r.Status != StatusBlocked {
				add = append(add, r)
			}
		case created < maxNew:
			created++
			add = append(add, r)
		default:
			dropped = append(dropped, r)
		}
	}
	return add, dropped
}
