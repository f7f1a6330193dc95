package mailin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
	"github.com/tikkit/tikkit/templates"
)

// mustParticipate reports whether the sender takes part in the request.
func mustParticipate(ctx context.Context, tx *store.Tx, r store.Request, p store.Person) bool {
	ok, err := isParticipant(ctx, tx, r, p)
	return err == nil && ok
}

// trustedStaff: a staff member whose mail may run commands and file for
// others: with staff_require_auth, only when it proves where it came from.
func (in *Ingester) trustedStaff(j *job, p store.Person) bool {
	return p.Kind == "staff" && (!in.opt.StaffRequireAuth || j.auth.Authenticated())
}

// applyPerson files a person's mail: a new request or an update of one,
// as the registration rules, staff commands and location rules say.
func (in *Ingester) applyPerson(ctx context.Context, tx *store.Tx, j *job) (Result, error) {
	p := j.p
	res := Result{MessageID: p.MessageID}
	sender, verdict, err := in.admit(ctx, tx, j)
	if err != nil {
		return res, err
	}
	req, evidence, err := in.findThread(ctx, tx, p, sender, in.replyTokens(j))
	if err != nil {
		return res, err
	}
	if !verdict.MayFile && !(req.ID != 0 && sender.Status == "pending" && mustParticipate(ctx, tx, req, sender)) {
		// A pending account (say, one made for a CC'd person) may still
		// take part in its own requests; anything else waits for approval.
		res.Outcome, res.Reason = OutcomeRefused, verdict.Reason
		if _, err := in.storeMessage(ctx, tx, in.messageRow(j, 0, sender.ID, res.Outcome, res.Reason), p); err != nil {
			return res, err
		}
		switch {
		case verdict.Refuse:
			return res, in.refuse(ctx, tx, j, sender, verdict.Reason)
		case verdict.Create && verdict.Status == "pending":
			return res, in.QueuePersonMail(ctx, tx, sender, templates.Pending)
		}
		return res, nil
	}
	f := &filing{in: in, tx: tx, j: j, sender: sender, trusted: in.trustedStaff(j, sender)}

	// Commands at the top of a staff member's mail; an occupant's "#close"
	// is text, and so is a staff member's when the mail lacks the proof of
	// origin staff_require_auth asks for.
	var cmds []rules.Command
	var cmdErrs []rules.CommandError
	if rules.MayRunCommands(sender.Kind) {
		cmds, cmdErrs, j.visible = rules.ParseCommands(j.visible)
		if !f.trusted && (len(cmds) > 0 || len(cmdErrs) > 0) {
			cmds, cmdErrs = nil, nil
			f.note("command_error", "commands not run: the mail is not authenticated (DKIM or a trusted Authentication-Results); it was kept as an internal note")
			f.untrustedCommands = true
		}
	}
	outsider := false
	if req.ID != 0 {
		res.Outcome, res.Reason = OutcomeAppended, "threaded by "+evidence
		if outsider, err = f.appendTo(ctx, req); err != nil {
			return res, err
		}
		if outsider {
			// Only References can bring a non-participant here (a forwarded
			// thread, or a forged In-Reply-To): staff see the message, the
			// request's people do not, and the sender gets nothing of it.
			res.Reason += "; sender is not a participant: kept as an internal note"
		}
	} else {
		res.Outcome = OutcomeCreated
		if verdict.Pending {
			res.Reason = "requester pending approval"
		}
		if req, err = f.create(ctx, cmds); err != nil {
			return res, err
		}
	}
	f.req = req
	res.Request = req.Number
	internal, err := f.run(ctx, cmds, cmdErrs)
	if err != nil {
		return res, err
	}
	internal = internal || f.untrustedCommands
	m := in.messageRow(j, f.req.ID, sender.ID, res.Outcome, res.Reason)
	m.Internal = internal || outsider
	id, err := in.storeMessage(ctx, tx, m, p)
	if err != nil {
		return res, err
	}
	f.msg = id
	for _, e := range f.events {
		if err := tx.AddEvent(ctx, f.req.ID, sender.ID, id, e.kind, e.detail); err != nil {
			return res, err
		}
	}
	if outsider {
		return res, nil // an outsider's recipients are not let in either, nor told anything
	}
	for _, a := range p.Attachments {
		if !a.Stored {
			f.notes = append(f.notes, fmt.Sprintf("%s (%d bytes) was not stored: it is over the size limit", a.Name, a.Size))
		}
	}
	if err := f.addRecipients(ctx); err != nil {
		return res, err
	}
	return res, f.announce(ctx, res.Outcome == OutcomeCreated, m.Internal, verdict.Pending)
}

// filing is the work on one request for one message.
type filing struct {
	in      *Ingester
	tx      *store.Tx
	j       *job
	sender  store.Person
	trusted bool // a staff member whose mail may use staff powers

	untrustedCommands bool
	req               store.Request
	msg               int64
	events            []event

	requester          store.Person   // of a request this mail created
	labels             []string       // labels this mail's commands added
	oldState, newState string         // set when a command closed or reopened the request
	welcomed           []store.Person // accounts this mail created from its recipients
	notes              []string       // for the people told: attachments not stored …
}

type event struct{ kind, detail string }

func (f *filing) note(kind, format string, a ...any) {
	f.events = append(f.events, event{kind, fmt.Sprintf(format, a...)})
}

// appendTo records activity on an existing request; outsider reports a
// sender who is not a participant of it (never made a follower).
func (f *filing) appendTo(ctx context.Context, req store.Request) (outsider bool, err error) {
	ok, err := isParticipant(ctx, f.tx, req, f.sender)
	if err != nil {
		return false, err
	}
	if err := f.tx.TouchRequest(ctx, req.ID); err != nil {
		return false, err
	}
	if key := threadKey(f.j.p.ThreadIndex); key != "" && ok {
		if err := f.tx.SetThreadKey(ctx, req.ID, key); err != nil {
			return false, err
		}
	}
	return !ok, nil
}

// create opens a request. A staff member's forward files it for the
// original sender; its location follows the rules.
func (f *filing) create(ctx context.Context, cmds []rules.Command) (store.Request, error) {
	p, tx := f.j.p, f.tx
	requester := f.sender
	var forwardedFrom *store.Person
	if f.trusted {
		if fw, ok := FindForward(p); ok && !f.in.opt.Identity.IsOwn(fw.From.Email) && !notAPerson(fw.From.Email) && fw.From.Email != f.sender.Email {
			orig, _, err := ensurePerson(ctx, tx, fw.From, "follower")
			if err != nil {
				return store.Request{}, err
			}
			requester, forwardedFrom = orig, &orig
			// The occupant's own words are what the request is about.
			if t := strings.TrimSpace(fw.Text); t != "" && !strings.Contains(f.j.visible, t) {
				f.j.visible = strings.TrimSpace(f.j.visible + "\n\n" + t)
			}
		}
	}
	subject := NormalizeSubject(StripSubjectTags(p.Subject, f.in.opt.SubjectTagPrefix))
	if subject == "" {
		subject = "(no subject)"
	}
	req, err := tx.InsertRequest(ctx, store.Request{
		Subject: subject, NormSubject: strings.ToLower(subject),
		RequesterID: requester.ID, CreatorID: f.sender.ID, ThreadKey: threadKey(p.ThreadIndex),
	}, f.in.opt.FirstRequestNumber)
	if err != nil {
		return req, err
	}
	if _, err := tx.AddFollower(ctx, req.ID, requester.ID, "requester"); err != nil {
		return req, err
	}
	f.req, f.requester = req, requester
	if err := f.chooseLocation(ctx, requester, cmds); err != nil {
		return req, err
	}
	if forwardedFrom != nil {
		f.note("forwarded", "filed by %s for %s", f.sender.Email, forwardedFrom.Email)
		if err := f.limitToLocation(ctx, *forwardedFrom); err != nil {
			return req, err
		}
	}
	return f.req, nil
}

// chooseLocation sets the new request's location: a staff #location
// command, else a location named in the mail that the requester may use
// (staff may name any), else the requester's only private area.
func (f *filing) chooseLocation(ctx context.Context, requester store.Person, cmds []rules.Command) error {
	tree, err := f.tree(ctx)
	if err != nil || tree == nil {
		return err
	}
	var explicit int64
	for _, c := range cmds {
		if c.Name == "location" {
			if l, err := f.tx.LocationByPath(ctx, c.Arg); err == nil {
				explicit = l.ID
			}
		}
	}
	access, err := f.access(ctx, requester)
	if err != nil {
		return err
	}
	// A location named in the text must be one the requester may use; a
	// staff member's #location may be any.
	loc, how := rules.ChooseLocation(tree, access, explicit, f.trusted, f.j.p.Subject+"\n"+f.j.visible)
	if loc == 0 {
		return nil
	}
	f.req.LocationID = sql.NullInt64{Int64: loc, Valid: true}
	if l, ok := tree.Get(loc); ok {
		f.note("location", "%s (%s)", l.Path, how)
	}
	return f.tx.SetRequestLocation(ctx, f.req.ID, f.req.LocationID)
}

// tree loads the location tree; nil when there are no locations.
func (f *filing) tree(ctx context.Context) (*rules.Tree, error) {
	return f.in.locations.get(ctx, f.tx)
}

// treeCache keeps the location tree for treeTTL: building it (with the
// word index for names in mail) costs milliseconds for a large estate, and
// locations change rarely — one added by the CLI is found in mail text
// within treeTTL (a #location command finds it at once).
type treeCache struct {
	mu     sync.Mutex
	tree   *rules.Tree
	loaded time.Time
}

const treeTTL = 5 * time.Second

func (c *treeCache) get(ctx context.Context, tx *store.Tx) (*rules.Tree, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded.IsZero() && time.Since(c.loaded) < treeTTL {
		return c.tree, nil
	}
	t, err := loadTree(ctx, tx)
	if err != nil {
		return nil, err
	}
	c.tree, c.loaded = t, time.Now()
	return t, nil
}

// loadTree reads the location tree; nil when there are no locations.
func loadTree(ctx context.Context, tx *store.Tx) (*rules.Tree, error) {
	ls, err := tx.Locations(ctx)
	if err != nil || len(ls) == 0 {
		return nil, err
	}
	out := make([]rules.Location, 0, len(ls))
	for _, l := range ls {
		var aliases []string
		for _, a := range strings.Split(l.Aliases, "\n") {
			if a = strings.TrimSpace(a); a != "" {
				aliases = append(aliases, a)
			}
		}
		out = append(out, rules.Location{ID: l.ID, Parent: l.ParentID.Int64, Name: l.Name, Path: l.Path, Common: l.Common, Aliases: aliases})
	}
	return rules.NewTree(out), nil
}

func (f *filing) access(ctx context.Context, p store.Person) (rules.Access, error) {
	all, locs, err := f.tx.PersonAccess(ctx, p.ID)
	return rules.Access{All: all, Locations: locs}, err
}

// followerStatus is the status of an account made for someone this mail
// adds: active in open registration or when trusted staff add them (staff
// vouch for them); otherwise pending, so that being CC'd lets a person
// follow that request but not file their own until approved.
func (f *filing) followerStatus() string {
	if f.trusted || f.in.opt.Registration.Mode == rules.ModeOpen {
		return "active"
	}
	return "pending"
}

// limitToLocation gives an occupant made for this request (a forwarded
// sender, a CC'd person) access to the request's location only.
func (f *filing) limitToLocation(ctx context.Context, p store.Person) error {
	if !f.req.LocationID.Valid || p.Kind == "staff" {
		return nil
	}
	return f.tx.AddGrant(ctx, store.Grant{PersonID: sql.NullInt64{Int64: p.ID, Valid: true}, LocationID: f.req.LocationID})
}

// run carries out staff commands; it reports whether the message is internal.
func (f *filing) run(ctx context.Context, cmds []rules.Command, errs []rules.CommandError) (internal bool, err error) {
	tx, req := f.tx, f.req
	// Arguments that name things must name existing ones before anything runs.
	for _, c := range cmds {
		if c.Name != "location" {
			continue
		}
		if _, lerr := tx.LocationByPath(ctx, c.Arg); errors.Is(lerr, store.ErrNotFound) {
			errs = append(errs, rules.CommandError{Line: "#location " + c.Arg, Reason: "no such location"})
		} else if lerr != nil {
			return false, lerr
		}
	}
	if len(errs) > 0 {
		// A mistyped command (say "#intrenal") must not make a note public
		// or half-apply: run none, keep the mail internal, report each.
		for _, e := range errs {
			f.note("command_error", "%s: %s", e.Line, e.Reason)
		}
		f.note("command_error", "no command of this mail was run; it was kept as an internal note")
		return true, nil
	}
	for _, c := range cmds {
		switch c.Name {
		case "close", "reopen":
			state := map[string]string{"close": "closed", "reopen": "open"}[c.Name]
			if req.State != state {
				err = tx.SetRequestState(ctx, req.ID, state)
				f.oldState, f.newState = req.State, map[string]string{"closed": "closed", "open": "reopened"}[state]
				req.State = state
				f.note(state, "by %s", f.sender.Email)
			}
		case "internal":
			internal = true
		case "location":
			l, lerr := tx.LocationByPath(ctx, c.Arg)
			if errors.Is(lerr, store.ErrNotFound) {
				f.note("command_error", "#location %s: no such location", c.Arg)
				continue
			} else if lerr != nil {
				return false, lerr
			}
			if req.LocationID.Int64 != l.ID {
				req.LocationID = sql.NullInt64{Int64: l.ID, Valid: true}
				err = tx.SetRequestLocation(ctx, req.ID, req.LocationID)
				f.note("location", "%s (command)", l.Path)
			}
		case "priority":
			err = tx.SetRequestPriority(ctx, req.ID, c.Arg)
			f.note("priority", "%s", c.Arg)
		case "label":
			err = tx.AddLabel(ctx, req.ID, c.Arg)
			f.labels = append(f.labels, c.Arg)
			f.note("label", "%s", c.Arg)
		case "requester", "follow":
			var person store.Person
			person, _, err = ensurePerson(ctx, tx, Address{Email: NormalizeEmail(c.Arg)}, map[string]string{"requester": "staff", "follow": "follower"}[c.Name])
			if err != nil {
				return false, err
			}
			if c.Name == "requester" {
				if old := req.RequesterID; old != person.ID {
					// The former requester keeps following, no longer as requester.
					if err = tx.SetFollowerReason(ctx, req.ID, old, "cc"); err != nil {
						return false, err
					}
				}
				err = tx.SetRequester(ctx, req.ID, person.ID)
				req.RequesterID = person.ID
				f.requester = person
				f.note("requester", "%s", person.Email)
				if err == nil {
					if _, err = tx.AddFollower(ctx, req.ID, person.ID, "requester"); err == nil {
						err = tx.SetFollowerReason(ctx, req.ID, person.ID, "requester")
					}
				}
			} else {
				_, err = tx.AddFollower(ctx, req.ID, person.ID, "staff-added")
				f.note("follower", "%s added by %s", person.Email, f.sender.Email)
			}
			f.req = req
			if err == nil {
				err = f.limitToLocation(ctx, person)
			}
		}
		if err != nil {
			return false, err
		}
	}
	f.req = req
	return internal, nil
}

// addRecipients makes the mail's other To/Cc people followers (rules
// decide who); new accounts get the request's location only.
func (f *filing) addRecipients(ctx context.Context) error {
	var rs []rules.Recipient
	seen := map[string]bool{f.sender.Email: true}
	for _, a := range append(append([]Address{}, f.j.p.To...), f.j.p.Cc...) {
		if a.Email == "" || seen[a.Email] {
			continue
		}
		seen[a.Email] = true
		r := rules.Recipient{Email: a.Email, Own: f.in.opt.Identity.IsOwn(a.Email), NoReply: notAPerson(a.Email)}
		if r.Own || r.NoReply {
			rs = append(rs, r) // never followers: no need to look them up
			continue
		}
		if p, err := f.tx.PersonByEmail(ctx, a.Email); err == nil {
			r.Known, r.Status = true, p.Status
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		rs = append(rs, r)
	}
	add, dropped := rules.NewFollowers(rs, f.in.opt.MaxNewFollowers)
	names := map[string]string{}
	for _, a := range append(append([]Address{}, f.j.p.To...), f.j.p.Cc...) {
		if names[a.Email] == "" {
			names[a.Email] = a.Name
		}
	}
	for _, r := range add {
		person, created, err := ensurePersonStatus(ctx, f.tx, Address{Email: r.Email, Name: names[r.Email]}, "follower", f.followerStatus())
		if err != nil {
			return err
		}
		if _, err := f.tx.AddFollower(ctx, f.req.ID, person.ID, "cc"); err != nil {
			return err
		}
		if created {
			if err := f.limitToLocation(ctx, person); err != nil {
				return err
			}
			f.welcomed = append(f.welcomed, person)
		}
	}
	if len(dropped) > 0 {
		var emails []string
		for _, r := range dropped {
			emails = append(emails, r.Email)
		}
		return f.tx.AddEvent(ctx, f.req.ID, f.sender.ID, f.msg, "followers_limited",
			fmt.Sprintf("more than %d new recipients; not added: %s", f.in.opt.MaxNewFollowers, strings.Join(emails, ", ")))
	}
	return nil
}
