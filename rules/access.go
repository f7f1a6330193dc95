package rules

import (
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Location is one node of the location tree. Parent 0 means a root (a
// building, site-wide parking …); roots are children of a virtual root,
// id 0, which is the site itself. IDs must be positive.
type Location struct {
	ID, Parent int64
	Name, Path string
	Common     bool
	Aliases    []string
}

// Tree is the location tree, read-only after NewTree.
type Tree struct {
	locs   map[int64]Location
	order  []int64 // ids in the order given, for deterministic scans
	names  *trie   // every location's names, aliases and path tails, by word
	maxLen int     // the longest of those, in words
}

// NewTree builds a tree. Locations with an ID ≤ 0 are ignored; of two
// with the same ID the first wins. A parent that is not in the list ends
// the chain of ancestors (such a location is not under the virtual root).
func NewTree(locs []Location) *Tree {
	t := &Tree{locs: make(map[int64]Location, len(locs))}
	for _, l := range locs {
		if l.ID <= 0 {
			continue
		}
		if _, dup := t.locs[l.ID]; dup {
			continue
		}
		t.locs[l.ID] = l
		t.order = append(t.order, l.ID)
	}
	t.names, t.maxLen = t.phrases()
	return t
}

// Get returns the location with this id.
func (t *Tree) Get(id int64) (Location, bool) {
	l, ok := t.locs[id]
	return l, ok
}

// Ancestors returns the ancestors of id, nearest first, excluding id and
// the virtual root. It stops at a missing parent or a cycle.
func (t *Tree) Ancestors(id int64) []int64 {
	l, ok := t.locs[id]
	if !ok {
		return nil
	}
	var out []int64
	seen := map[int64]bool{id: true}
	for p := l.Parent; p != 0 && !seen[p]; {
		pl, ok := t.locs[p]
		if !ok {
			break
		}
		seen[p] = true
		out = append(out, p)
		p = pl.Parent
	}
	return out
}

// underRoot reports whether id's chain of ancestors ends at the virtual
// root (not at a missing parent or in a cycle).
func (t *Tree) underRoot(id int64) bool {
	l, ok := t.locs[id]
	if !ok {
		return false
	}
	if anc := t.Ancestors(id); len(anc) > 0 {
		l = t.locs[anc[len(anc)-1]]
	}
	return l.Parent == 0
}

// Access is a person's grants: their own and their groups', merged.
// All is "every location" (staff).
type Access struct {
	All       bool
	Locations []int64
}

// CanUse reports whether a person with access a may file for and see loc
// (DESIGN §2). loc is usable when it exists and
//   - a.All; or
//   - loc or one of its ancestors is granted; or
//   - loc is common and its parent P (the container it is common within:
//     the building for a lobby, the floor for a floor kitchen) is granted,
//     is under a grant, or is an ancestor of a granted location. A common
//     area whose parent is the virtual root (site-wide parking) is thus
//     usable by anyone holding at least one grant in the tree. A common
//     area inside a common area (a mailroom in the lobby) is usable when
//     the enclosing common area is.
//
// Grants of ids not in the tree grant nothing; a location 0 or unknown is
// never usable.
func (t *Tree) CanUse(a Access, loc int64) bool {
	return t.reach(a).can(loc)
}

// reached holds what a person's grants reach in a tree, computed once
// for many CanUse questions.
type reached struct {
	t        *Tree
	all      bool
	granted  map[int64]bool // granted locations in the tree
	contains map[int64]bool // granted locations and their ancestors; 0 when any grant is under the virtual root
}

func (t *Tree) reach(a Access) reached {
	r := reached{t: t, all: a.All, granted: make(map[int64]bool), contains: make(map[int64]bool)}
	for _, g := range a.Locations {
		if _, ok := t.locs[g]; !ok || r.granted[g] {
			continue
		}
		r.granted[g] = true
		r.contains[g] = true
		for _, x := range t.Ancestors(g) {
			r.contains[x] = true
		}
		if t.underRoot(g) {
			r.contains[0] = true
		}
	}
	return r
}

func (r reached) can(loc int64) bool {
	cur, ok := r.t.locs[loc]
	if !ok {
		return false
	}
	if r.all || r.granted[loc] {
		return true
	}
	anc := r.t.Ancestors(loc)
	for _, x := range anc {
		if r.granted[x] {
			return true
		}
	}
	// Climb through common areas: a common area is usable when its
	// container is reached; a common container passes the question up.
	for i := 0; cur.Common && i <= len(anc); i++ {
		if r.contains[cur.Parent] {
			return true
		}
		next, ok := r.t.locs[cur.Parent]
		if !ok {
			return false
		}
		cur = next
	}
	return false
}

// PrivateGrants returns the granted locations that exist and are not
// common, deduplicated, in the order granted. All is not expanded.
func (t *Tree) PrivateGrants(a Access) []int64 {
	var out []int64
	seen := make(map[int64]bool)
	for _, g := range a.Locations {
		l, ok := t.locs[g]
		if !ok || l.Common || seen[g] {
			continue
		}
		seen[g] = true
		out = append(out, g)
	}
	return out
}

// How ChooseLocation chose.
const (
	ChoseExplicit    = "explicit"
	ChoseText        = "text"
	ChoseOnlyPrivate = "only-private"
)

// ChooseLocation picks a request's location, in this order:
//
//  1. explicit (from a staff #location command) when it exists and the
//     requester may use it, or explicitOK says the command's author may
//     use any location: how = "explicit";
//  2. a location the requester may use whose name, an alias, its path or
//     a tail of its path ("Floor 3/Kitchen" of "Tower A/Floor 3/Kitchen")
//     is mentioned in text: how = "text". Text and names are compared as
//     sequences of words (runs of letters and digits, lower-cased), so
//     case, spaces, hyphens, slashes and punctuation do not matter:
//     "suite 201", "Suite-201" and "SUITE  201." all mention "Suite 201";
//     "Suite 2010" and "suite201" do not. A name of one single-character
//     word ("A") is never matched on its own. The deepest location
//     mentioned wins, then the one mentioned first, then the longer
//     mention; if two different locations still tie (two equally deep
//     "Lobby" areas the requester may both use), the mention is ambiguous
//     and is not used. A mention inside a longer mention of another
//     location does not count: "Tower B Lobby" does not mention Tower A's
//     lobby;
//  3. the requester's only private grant: how = "only-private";
//  4. otherwise 0, "" (staff sort it out).
//
// A location the requester may not use is never chosen.
func ChooseLocation(t *Tree, a Access, explicit int64, explicitOK bool, text string) (loc int64, how string) {
	if t == nil {
		return 0, ""
	}
	if _, ok := t.locs[explicit]; ok && (explicitOK || t.CanUse(a, explicit)) {
		return explicit, ChoseExplicit
	}
	if id := t.mentioned(a, text); id != 0 {
		return id, ChoseText
	}
	if p := t.PrivateGrants(a); len(p) == 1 {
		return p[0], ChoseOnlyPrivate
	}
	return 0, ""
}

type mention struct {
	id         int64
	depth, pos int
	length     int
}

// mentioned returns the location mentioned in text that a may use, by the
// rules of ChooseLocation; 0 if none or ambiguous. Mentions of every
// location are found, so that a usable one inside a longer mention of
// another location ("Lobby" in "Tower B Lobby") is not taken for it.
func (t *Tree) mentioned(a Access, text string) int64 {
	words := wordsOf(text)
	if len(words) == 0 {
		return 0
	}
	maxLen := t.maxLen
	type match struct {
		id         int64
		start, end int // words[start:end]
	}
	var matches []match
	byStart := make(map[int][]match)
	for i := range words {
		n := t.names
		for j := i; j < len(words); j++ {
			if n = n.next[words[j]]; n == nil {
				break
			}
			for _, id := range n.ids {
				m := match{id, i, j + 1}
				matches = append(matches, m)
				byStart[i] = append(byStart[i], m)
			}
		}
	}
	inLonger := func(m match) bool {
		for s := max(0, m.end-maxLen); s <= m.start; s++ {
			for _, n := range byStart[s] {
				if n.id != m.id && n.end >= m.end && n.end-n.start > m.end-m.start {
					return true
				}
			}
		}
		return false
	}
	r := t.reach(a)
	best := make(map[int64]mention) // best mention per usable location
	for _, m := range matches {
		if !r.can(m.id) || inLonger(m) {
			continue
		}
		b, seen := best[m.id]
		if !seen || m.start < b.pos || m.start == b.pos && m.end-m.start > b.length {
			best[m.id] = mention{id: m.id, depth: len(t.Ancestors(m.id)) + 1, pos: m.start, length: m.end - m.start}
		}
	}
	if len(best) == 0 {
		return 0
	}
	ms := make([]mention, 0, len(best))
	for _, m := range best {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.depth != b.depth {
			return a.depth > b.depth
		}
		if a.pos != b.pos {
			return a.pos < b.pos
		}
		if a.length != b.length {
			return a.length > b.length
		}
		return a.id < b.id
	})
	if len(ms) > 1 && ms[0].depth == ms[1].depth && ms[0].pos == ms[1].pos && ms[0].length == ms[1].length {
		return 0 // ambiguous
	}
	return ms[0].id
}

// trie is a word trie: the ids of the locations whose phrase ends here.
type trie struct {
	next map[string]*trie
	ids  []int64
}

// phrases builds a trie of every location's name, aliases and path tails,
// as words; maxLen is the longest phrase in words. A phrase of one
// single-character word is left out.
func (t *Tree) phrases() (root *trie, maxLen int) {
	root = &trie{}
	for _, id := range t.order {
		l := t.locs[id]
		names := append([]string{l.Name}, l.Aliases...)
		segs := strings.Split(l.Path, "/")
		for k := range segs {
			names = append(names, strings.Join(segs[k:], "/"))
		}
		for _, name := range names {
			w := wordsOf(name)
			if len(w) == 0 || len(w) == 1 && len([]rune(w[0])) < 2 {
				continue
			}
			n := root
			for _, x := range w {
				if n.next == nil {
					n.next = make(map[string]*trie)
				}
				c := n.next[x]
				if c == nil {
					c = &trie{}
					n.next[x] = c
				}
				n = c
			}
			if !slices.Contains(n.ids, id) {
				n.ids = append(n.ids, id)
			}
			maxLen = max(maxLen, len(w))
		}
	}
	return root, maxLen
}

// wordsOf splits s into lower-case words: runs of letters and digits.
func wordsOf(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	})
}
