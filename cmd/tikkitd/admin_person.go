package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tikkit/tikkit/mailin"
	"github.com/tikkit/tikkit/store"
	"github.com/tikkit/tikkit/templates"
)

// personAdd adds a person, or makes an existing one staff or admin.
func personAdd(ctx context.Context, a *admin) int {
	email := mailin.NormalizeEmail(a.args[0])
	if email == "" {
		return a.usageErr("%q is not an email address", a.args[0])
	}
	o := a.opts
	o.staff = o.staff || o.admin
	var p store.Person
	var msg string
	err := a.st.Update(ctx, func(tx *store.Tx) error {
		var err error
		p, err = tx.PersonByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			p = store.Person{Email: email, Name: o.name, Kind: "occupant", Status: "active", CreatedVia: "staff", IsAdmin: o.admin}
			if o.staff {
				p.Kind = "staff"
			}
			if p, err = tx.InsertPerson(ctx, p); err != nil {
				return err
			}
			msg = fmt.Sprintf("added %s %s", describe(p), p.Email)
			return tx.AddEvent(ctx, 0, p.ID, 0, "added", "by CLI")
		} else if err != nil {
			return err
		}
		var changes, events []string
		if o.name != "" && o.name != p.Name {
			p.Name = o.name
			changes = append(changes, fmt.Sprintf("name %q", o.name))
		}
		if o.staff && p.Kind != "staff" {
			p.Kind = "staff"
			changes, events = append(changes, "staff"), append(events, "made_staff")
			if p.Status != "active" {
				p.Status = "active"
				events = append(events, "approved")
			}
		}
		if o.admin && !p.IsAdmin {
			p.IsAdmin = true
			changes, events = append(changes, "admin"), append(events, "made_admin")
		}
		if len(changes) == 0 {
			msg = fmt.Sprintf("%s exists (%s, %s); nothing changed", p.Email, describe(p), p.Status)
			return nil
		}
		msg = fmt.Sprintf("updated %s: %s", p.Email, strings.Join(changes, ", "))
		if err := tx.UpdatePerson(ctx, p); err != nil {
			return err
		}
		for _, kind := range events {
			if err := tx.AddEvent(ctx, 0, p.ID, 0, kind, "by CLI"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return a.fail(err)
	}
	return a.personDone(ctx, p, msg)
}

func describe(p store.Person) string {
	switch {
	case p.IsAdmin:
		return "staff admin"
	case p.Kind == "staff":
		return "staff member"
	}
	return "occupant"
}

// personStatus approves, denies or blocks a person and records the event.
func personStatus(ctx context.Context, a *admin, status, event string) int {
	p, code := a.person(ctx, a.st.Q, a.args[0])
	if code != exitOK {
		return code
	}
	if p.Status == status {
		return a.personDone(ctx, p, fmt.Sprintf("%s is already %s; nothing changed", p.Email, status))
	}
	was := p.Status
	p.Status = status
	// The person is told of approval or denial (not of a block), by a mail
	// queued in the same transaction; the daemon delivers it.
	kind := map[string]templates.Kind{"approved": templates.Approved, "denied": templates.Denied}[event]
	var in *mailin.Ingester
	if kind != "" && p.Kind != "staff" {
		signer, ok := a.signer(a.stderr)
		if !ok {
			return exitTempFail
		}
		in = mailin.NewIngester(a.st, a.ingestOptions(signer))
		defer in.Close()
	}
	err := a.st.Update(ctx, func(tx *store.Tx) error {
		if err := tx.UpdatePerson(ctx, p); err != nil {
			return err
		}
		if err := tx.AddEvent(ctx, 0, p.ID, 0, event, "by CLI"); err != nil {
			return err
		}
		if in != nil {
			return in.QueuePersonMail(ctx, tx, p, kind)
		}
		return nil
	})
	if err != nil {
		return a.fail(err)
	}
	return a.personDone(ctx, p, fmt.Sprintf("%s %s (was %s)", event, p.Email, was))
}

func (a *admin) personDone(ctx context.Context, p store.Person, msg string) int {
	v, err := buildAdminPerson(ctx, a.st.Q, p)
	if err != nil {
		return a.fail(err)
	}
	return a.done(v, "%s", msg)
}

func personGrant(ctx context.Context, a *admin) int {
	if code := a.grantUsage(); code != exitOK {
		return code
	}
	p, code := a.person(ctx, a.st.Q, a.args[0])
	if code != exitOK {
		return code
	}
	g, what, code := a.grantTarget(ctx, a.args[1:])
	if code != exitOK {
		return code
	}
	g.PersonID = nullID(p.ID)
	if err := a.st.AddGrant(ctx, g); err != nil {
		return a.fail(err)
	}
	return a.personDone(ctx, p, fmt.Sprintf("granted %s to %s", what, p.Email))
}

func personList(ctx context.Context, a *admin) int {
	ps, err := a.st.People(ctx)
	if err != nil {
		return a.fail(err)
	}
	views := []adminPersonView{}
	for _, p := range ps {
		v, err := buildAdminPerson(ctx, a.st.Q, p)
		if err != nil {
			return a.fail(err)
		}
		views = append(views, v)
	}
	return printViews(a.stdout, a.json, views, "EMAIL\tNAME\tKIND\tSTATUS\tCREATED VIA\tADMIN\tGROUPS\tGRANTS", func(tw io.Writer, v adminPersonView) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Email, v.Name, v.Kind, v.Status, v.CreatedVia,
			yesNo(v.Admin), orDash(strings.Join(v.Groups, ", ")), grantsText(v.Grants))
	})
}

// personShow is the per-person view: who they are, what they may use and
// which requests they see (their own, followed, and their groups').
func personShow(ctx context.Context, a *admin) int {
	p, code := a.person(ctx, a.st.Q, a.args[0])
	if code != exitOK {
		return code
	}
	v, err := buildPersonShow(ctx, a.st.Q, p)
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		writeJSON(a.stdout, v)
		return exitOK
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{{"email", v.Email}, {"name", v.Name}, {"kind", v.Kind}, {"status", v.Status},
		{"created via", v.CreatedVia}, {"admin", yesNo(v.Admin)}, {"groups", orDash(strings.Join(v.Groups, ", "))}, {"grants", grantsText(v.Grants)}} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
	if len(v.Events) > 0 {
		fmt.Fprintln(a.stdout, "\nevents:")
		tw = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		for _, e := range v.Events {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Kind, e.Detail)
		}
		tw.Flush()
	}
	fmt.Fprintf(a.stdout, "\nrequests %s can see: %d\n", v.Email, len(v.Requests))
	if len(v.Requests) > 0 {
		tw = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NUMBER\tSTATE\tLOCATION\tREQUESTER\tRELATION\tSUBJECT")
		for _, r := range v.Requests {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Number, r.State, deref(r.Location), r.Requester.Email, r.Relation, r.Subject)
		}
		tw.Flush()
	}
	return exitOK
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func grantsText(gs []grantView) string {
	var parts []string
	for _, g := range gs {
		s := "all locations"
		if !g.AllLocations {
			s = deref(g.Location)
		}
		if g.Group != "" {
			s += " (group " + g.Group + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
