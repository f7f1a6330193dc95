package main

// location and group verbs of the admin commands (see admin.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tikkit/tikkit/store"
)

func locationAdd(ctx context.Context, a *admin) int {
	path := a.args[0]
	_, err := a.st.LocationByPath(ctx, path)
	existed := err == nil
	l, err := a.st.AddLocation(ctx, path, a.opts.comm, a.opts.aliases)
	if errors.Is(err, store.ErrExists) {
		fmt.Fprintf(a.stderr, "tikkitd: location %q exists with other settings (%s); see tikkitd location list\n", l.Path, locationText(l))
		return exitDataErr
	} else if err != nil {
		return a.fail(err)
	}
	v, err := buildLocation(ctx, a.st.Q, l)
	if err != nil {
		return a.fail(err)
	}
	if existed {
		return a.done(v, "location %s exists (%s); nothing changed", l.Path, locationText(l))
	}
	return a.done(v, "added location %s (%s)", l.Path, locationText(l))
}

func locationText(l store.Location) string {
	s := "private"
	if l.Common {
		s = "common"
	}
	if as := l.AliasList(); len(as) > 0 {
		s += ", aliases " + strings.Join(as, ", ")
	}
	return s
}

func locationList(ctx context.Context, a *admin) int {
	ls, err := a.st.Locations(ctx)
	if err != nil {
		return a.fail(err)
	}
	views := []locationView{}
	for _, l := range ls {
		v, err := buildLocation(ctx, a.st.Q, l)
		if err != nil {
			return a.fail(err)
		}
		views = append(views, v)
	}
	return printViews(a.stdout, a.json, views, "PATH\tCOMMON\tALIASES", func(tw io.Writer, v locationView) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Path, yesNo(v.Common), orDash(strings.Join(v.Aliases, ", ")))
	})
}

func groupAdd(ctx context.Context, a *admin) int {
	_, err := a.st.GroupByName(ctx, a.args[0])
	existed := err == nil
	g, err := a.st.AddGroup(ctx, a.args[0])
	if err != nil {
		return a.fail(err)
	}
	msg := "added group " + g.Name
	if existed {
		msg = "group " + g.Name + " exists; nothing changed"
	}
	return a.groupDone(ctx, g, msg)
}

func (a *admin) groupDone(ctx context.Context, g store.Group, msg string) int {
	v, err := buildGroup(ctx, a.st.Q, g)
	if err != nil {
		return a.fail(err)
	}
	return a.done(v, "%s", msg)
}

// groupMember adds people to a group: all of them, or none when one is unknown.
func groupMember(ctx context.Context, a *admin) int {
	g, code := a.group(ctx, a.st.Q, a.args[0])
	if code != exitOK {
		return code
	}
	var people []store.Person
	for _, e := range a.args[1:] {
		p, code := a.person(ctx, a.st.Q, e)
		if code != exitOK {
			return code
		}
		people = append(people, p)
	}
	var emails []string
	err := a.st.Update(ctx, func(tx *store.Tx) error {
		for _, p := range people {
			if err := tx.AddGroupMember(ctx, g.ID, p.ID); err != nil {
				return err
			}
			emails = append(emails, p.Email)
		}
		return nil
	})
	if err != nil {
		return a.fail(err)
	}
	return a.groupDone(ctx, g, fmt.Sprintf("group %s: added %s", g.Name, strings.Join(emails, ", ")))
}

func groupGrant(ctx context.Context, a *admin) int {
	if code := a.grantUsage(); code != exitOK {
		return code
	}
	g, code := a.group(ctx, a.st.Q, a.args[0])
	if code != exitOK {
		return code
	}
	gr, what, code := a.grantTarget(ctx, a.args[1:])
	if code != exitOK {
		return code
	}
	gr.GroupID = nullID(g.ID)
	if err := a.st.AddGrant(ctx, gr); err != nil {
		return a.fail(err)
	}
	return a.groupDone(ctx, g, fmt.Sprintf("granted %s to group %s", what, g.Name))
}

func groupList(ctx context.Context, a *admin) int {
	gs, err := a.st.Groups(ctx)
	if err != nil {
		return a.fail(err)
	}
	views := []groupView{}
	for _, g := range gs {
		v, err := buildGroup(ctx, a.st.Q, g)
		if err != nil {
			return a.fail(err)
		}
		views = append(views, v)
	}
	return printViews(a.stdout, a.json, views, "NAME\tMEMBERS\tGRANTS", func(tw io.Writer, v groupView) {
		var ms []string
		for _, m := range v.Members {
			ms = append(ms, m.Email)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, orDash(strings.Join(ms, ", ")), grantsText(v.Grants))
	})
}
