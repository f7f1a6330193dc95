package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/tikkit/tikkit/mailin"
	"github.com/tikkit/tikkit/store"
)

// The admin commands: tikkitd person|location|group VERB …
// Exit codes: 64 usage (and values the store refuses), 65 a conflict with
// what exists, 66 an unknown person, location or group, 75 a store failure.

// verb is one admin subcommand.
type verb struct {
	usage    string // arguments after "tikkitd NOUN VERB"
	min, max int    // positional arguments (max -1: no limit)
	flags    func(fs *flag.FlagSet, o *adminOpts)
	run      func(ctx context.Context, a *admin) int
}

// adminOpts are the flags the verbs may declare.
type adminOpts struct {
	name                    string
	staff, admin, all, comm bool
	aliases                 stringList
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// admin is one running admin command.
type admin struct {
	*common
	noun, verb     string
	opts           adminOpts
	st             *store.Store
	stdout, stderr io.Writer
}

func cmdAdmin(noun string, verbs map[string]verb, args []string, stdout, stderr io.Writer) int {
	name, rest := findVerb(args, verbs)
	v, ok := verbs[name]
	if !ok {
		if name != "" {
			fmt.Fprintf(stderr, "tikkitd: unknown %s command %q\n", noun, name)
		}
		fmt.Fprint(stderr, adminUsage(noun, verbs))
		return exitUsage
	}
	a := &admin{common: newCommon(noun+" "+name, stderr).withJSON(), noun: noun, verb: name, stdout: stdout, stderr: stderr}
	if v.flags != nil {
		v.flags(a.fs, &a.opts)
	}
	if code, done := a.parse(rest, stderr, slog.LevelWarn); done {
		return code
	}
	if len(a.args) < v.min || (v.max >= 0 && len(a.args) > v.max) {
		fmt.Fprintf(stderr, "usage: tikkitd %s %s %s\n", noun, name, v.usage)
		return exitUsage
	}
	// Only the "add" verbs may make a new database (setting up before the
	// first start); the others need the existing one, so a data_dir typo
	// does not silently show an empty one.
	a.readOnly = name != "add"
	st, ok := a.openStore(stderr)
	if !ok {
		return a.storeFailure()
	}
	defer st.Close()
	a.st = st
	return v.run(context.Background(), a)
}

// findVerb picks the verb out of args: the first argument that names one,
// skipping the value of -config.
func findVerb(args []string, verbs map[string]verb) (string, []string) {
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "-config" || arg == "--config":
			i++
		case strings.HasPrefix(arg, "-"):
		default:
			return arg, append(slices.Clone(args[:i]), args[i+1:]...)
		}
	}
	return "", args
}

func adminUsage(noun string, verbs map[string]verb) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage:\n")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range verbs {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "  tikkitd %s %s %s\n", noun, name, verbs[name].usage)
	}
	return b.String()
}

func (a *admin) usageErr(format string, args ...any) int {
	fmt.Fprintf(a.stderr, "tikkitd: "+format+"\n", args...)
	return exitUsage
}

// fail reports a store error with its exit code.
func (a *admin) fail(err error) int {
	fmt.Fprintf(a.stderr, "tikkitd: %s %s: %v\n", a.noun, a.verb, err)
	switch {
	case errors.Is(err, store.ErrInvalid):
		return exitUsage
	case errors.Is(err, store.ErrExists):
		return exitDataErr
	case errors.Is(err, store.ErrNotFound):
		return exitNoInput
	}
	return exitTempFail
}

// person finds a person by address, normalised as ingest does.
func (a *admin) person(ctx context.Context, q store.Q, arg string) (store.Person, int) {
	email := mailin.NormalizeEmail(arg)
	if email == "" {
		return store.Person{}, a.usageErr("%q is not an email address", arg)
	}
	p, err := q.PersonByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(a.stderr, "tikkitd: no person %q; see tikkitd person list, or add them with tikkitd person add %s\n", email, email)
		return p, exitNoInput
	}
	if err != nil {
		return p, a.fail(err)
	}
	return p, exitOK
}

func (a *admin) location(ctx context.Context, q store.Q, path string) (store.Location, int) {
	l, err := q.LocationByPath(ctx, path)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(a.stderr, "tikkitd: no location %q; see tikkitd location list\n", path)
		return l, exitNoInput
	}
	if err != nil {
		return l, a.fail(err)
	}
	return l, exitOK
}

func (a *admin) group(ctx context.Context, q store.Q, name string) (store.Group, int) {
	g, err := q.GroupByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(a.stderr, "tikkitd: no group %q; see tikkitd group list\n", name)
		return g, exitNoInput
	}
	if err != nil {
		return g, a.fail(err)
	}
	return g, exitOK
}

// grantUsage checks that a grant names a location or has --all.
func (a *admin) grantUsage() int {
	if a.opts.all == (len(a.args) == 2) {
		return a.usageErr("give a location or --all, not both\nusage: tikkitd %s grant %s", a.noun, grantVerbs[a.noun])
	}
	return exitOK
}

// grantTarget reads "LOCATION" or --all from the arguments after the grantee.
func (a *admin) grantTarget(ctx context.Context, args []string) (store.Grant, string, int) {
	if a.opts.all {
		return store.Grant{AllLocations: true}, "all locations", exitOK
	}
	l, code := a.location(ctx, a.st.Q, args[0])
	return store.Grant{LocationID: nullID(l.ID)}, l.Path, code
}

var grantVerbs = map[string]string{"person": "EMAIL LOCATION|--all", "group": "GROUP LOCATION|--all"}

// done prints v as JSON with --json, else the message.
func (a *admin) done(v any, format string, args ...any) int {
	if a.json {
		if err := writeJSON(a.stdout, v); err != nil {
			return exitTempFail
		}
		return exitOK
	}
	fmt.Fprintf(a.stdout, format+"\n", args...)
	return exitOK
}

var personVerbs = map[string]verb{
	"add": {usage: "EMAIL [--name N] [--staff] [--admin] [--json]", min: 1, max: 1, run: personAdd,
		flags: func(fs *flag.FlagSet, o *adminOpts) {
			fs.StringVar(&o.name, "name", "", "the person's name")
			fs.BoolVar(&o.staff, "staff", false, "make the person staff (may file for anyone, run commands in mail)")
			fs.BoolVar(&o.admin, "admin", false, "make the person a staff admin (implies --staff)")
		}},
	"approve": {usage: "EMAIL [--json]", min: 1, max: 1, run: func(ctx context.Context, a *admin) int { return personStatus(ctx, a, "active", "approved") }},
	"deny":    {usage: "EMAIL [--json]", min: 1, max: 1, run: func(ctx context.Context, a *admin) int { return personStatus(ctx, a, "denied", "denied") }},
	"block":   {usage: "EMAIL [--json]", min: 1, max: 1, run: func(ctx context.Context, a *admin) int { return personStatus(ctx, a, "blocked", "blocked") }},
	"list":    {usage: "[--json]", min: 0, max: 0, run: personList},
	"show":    {usage: "EMAIL [--json]", min: 1, max: 1, run: personShow},
	"grant": {usage: grantVerbs["person"] + " [--json]", min: 1, max: 2, run: personGrant,
		flags: func(fs *flag.FlagSet, o *adminOpts) { fs.BoolVar(&o.all, "all", false, "grant every location") }},
}

var locationVerbs = map[string]verb{
	"add": {usage: "PATH [--common] [--alias A]... [--json]", min: 1, max: 1, run: locationAdd,
		flags: func(fs *flag.FlagSet, o *adminOpts) {
			fs.BoolVar(&o.comm, "common", false, "a common area (lobby, parking): open to everyone with access to its parent")
			fs.Var(&o.aliases, "alias", "another name for the location found in mail (repeatable)")
		}},
	"list": {usage: "[--json]", min: 0, max: 0, run: locationList},
}

var groupVerbs = map[string]verb{
	"add":    {usage: "NAME [--json]", min: 1, max: 1, run: groupAdd},
	"member": {usage: "GROUP EMAIL [EMAIL...] [--json]", min: 2, max: -1, run: groupMember},
	"grant": {usage: grantVerbs["group"] + " [--json]", min: 1, max: 2, run: groupGrant,
		flags: func(fs *flag.FlagSet, o *adminOpts) { fs.BoolVar(&o.all, "all", false, "grant every location") }},
	"list": {usage: "[--json]", min: 0, max: 0, run: groupList},
}

func cmdPerson(args []string, stdout, stderr io.Writer) int {
	return cmdAdmin("person", personVerbs, args, stdout, stderr)
}

func cmdLocation(args []string, stdout, stderr io.Writer) int {
	return cmdAdmin("location", locationVerbs, args, stdout, stderr)
}

func cmdGroup(args []string, stdout, stderr io.Writer) int {
	return cmdAdmin("group", groupVerbs, args, stdout, stderr)
}
