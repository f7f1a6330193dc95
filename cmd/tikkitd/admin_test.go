package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// adminEnv is a temporary data directory with its config in TIKKIT_CONFIG.
func adminEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TIKKIT_CONFIG", writeConfig(t, "data_dir = \""+dir+"\"\n[mail]\naddress = \"maintenance@example.com\"\n"))
}

// mustRun runs a command that must exit with want.
func mustRun(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	code, out, errs := runCmd(t, "", args...)
	if code != want {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errs)
	}
	return out, errs
}

func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	return v
}

func eventKinds(v personShowView) []string {
	var ks []string
	for _, e := range v.Events {
		ks = append(ks, e.Kind+" "+e.Detail)
	}
	return ks
}

func TestAdminPersonCommands(t *testing.T) {
	adminEnv(t)
	// Addresses are normalised as ingest does: lower case, IDN in punycode.
	out, _ := mustRun(t, exitOK, "person", "add", "Tess@Bücher.Example", "--name", "Tess", "--json")
	p := decode[adminPersonView](t, out)
	if p.Email != "tess@xn--bcher-kva.example" || p.Name != "Tess" || p.Kind != "occupant" || p.Status != "active" || p.CreatedVia != "staff" || p.Admin {
		t.Errorf("added %+v", p)
	}
	out, _ = mustRun(t, exitOK, "person", "add", "boss@example.com", "--admin", "--json")
	if p := decode[adminPersonView](t, out); p.Kind != "staff" || !p.Admin {
		t.Errorf("--admin does not imply --staff: %+v", p)
	}
	// An occupant who came in by mail, pending, is made staff (and so active).
	code, _, errs := runCmd(t, "From: Pat <PAT@example.org>\r\nTo: maintenance@example.com\r\nSubject: Hi\r\nMessage-ID: <p1@example.org>\r\n\r\nHello\r\n", "ingest")
	if code != exitOK {
		t.Fatalf("ingest: %d %s", code, errs)
	}
	mustRun(t, exitOK, "person", "deny", "pat@example.org")
	out, _ = mustRun(t, exitOK, "person", "add", "Pat@Example.org", "--staff")
	if !strings.Contains(out, "updated pat@example.org: staff") {
		t.Errorf("make staff: %q", out)
	}
	out, _ = mustRun(t, exitOK, "person", "show", "pat@example.org", "--json")
	pat := decode[personShowView](t, out)
	if pat.Kind != "staff" || pat.Status != "active" || pat.CreatedVia != "email" ||
		!slices.Equal(eventKinds(pat), []string{"denied by CLI", "made_staff by CLI", "approved by CLI"}) {
		t.Errorf("pat %+v events %q", pat, eventKinds(pat))
	}
	out, _ = mustRun(t, exitOK, "person", "add", "pat@example.org", "--staff")
	if !strings.Contains(out, "nothing changed") {
		t.Errorf("second add: %q", out)
	}

	// Approval changes are events on the person; approving a denied person works.
	for _, step := range []struct {
		verb, status, say string
	}{
		{"deny", "denied", "denied tess@xn--bcher-kva.example (was active)"},
		{"approve", "active", "approved tess@xn--bcher-kva.example (was denied)"},
		{"approve", "active", "tess@xn--bcher-kva.example is already active; nothing changed"},
		{"block", "blocked", "blocked tess@xn--bcher-kva.example (was active)"},
		{"block", "blocked", "already blocked"},
		{"approve", "active", "(was blocked)"},
	} {
		out, _ := mustRun(t, exitOK, "person", step.verb, "TESS@bücher.example")
		if !strings.Contains(out, step.say) {
			t.Errorf("%s: %q, want %q", step.verb, out, step.say)
		}
		out, _ = mustRun(t, exitOK, "person", step.verb, "tess@xn--bcher-kva.example", "--json")
		if v := decode[adminPersonView](t, out); v.Status != step.status {
			t.Errorf("%s: status %q, want %q", step.verb, v.Status, step.status)
		}
	}
	out, _ = mustRun(t, exitOK, "person", "show", "tess@xn--bcher-kva.example", "--json")
	want := []string{"added by CLI", "denied by CLI", "approved by CLI", "blocked by CLI", "approved by CLI"}
	if got := eventKinds(decode[personShowView](t, out)); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}

	// person list: the people --json fields plus admin, groups, grants.
	out, _ = mustRun(t, exitOK, "person", "list", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 3 {
		t.Fatalf("list: %v %s", err, out)
	}
	for _, k := range []string{"email", "name", "kind", "status", "created_via", "admin", "undeliverable", "created_at", "groups", "grants"} {
		if _, ok := list[0][k]; !ok {
			t.Errorf("person list lacks %q", k)
		}
	}
	out, _ = mustRun(t, exitOK, "person", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "EMAIL ") {
		t.Fatalf("table:\n%s", out)
	}
	for _, l := range lines[1:] {
		if strings.Index(l, " active ") != strings.Index(lines[0], " STATUS ") {
			t.Errorf("table not aligned:\n%s", out)
		}
	}
}

func TestAdminLocationCommands(t *testing.T) {
	adminEnv(t)
	out, _ := mustRun(t, exitOK, "location", "add", "Tower A / Floor 2/Suite 201", "--alias", "S201", "--alias", "201", "--json")
	l := decode[locationView](t, out)
	if l.Path != "Tower A/Floor 2/Suite 201" || l.Name != "Suite 201" || l.Parent == nil || *l.Parent != "Tower A/Floor 2" ||
		l.Common || !slices.Equal(l.Aliases, []string{"S201", "201"}) {
		t.Errorf("added %+v", l)
	}
	// Flags may come before the verb, -config with its value too.
	mustRun(t, exitOK, "location", "-config", os.Getenv("TIKKIT_CONFIG"), "add", "Tower A/Lobby", "--common")
	out, _ = mustRun(t, exitOK, "location", "add", "tower a/lobby", "--common")
	if !strings.Contains(out, "exists (common); nothing changed") {
		t.Errorf("same again: %q", out)
	}
	out, _ = mustRun(t, exitOK, "location", "list", "--json")
	ls := decode[[]locationView](t, out)
	var paths []string
	for _, l := range ls {
		paths = append(paths, fmt.Sprintf("%s %v %q", l.Path, l.Common, l.Aliases))
	}
	want := []string{`Tower A false []`, `Tower A/Floor 2 false []`, `Tower A/Floor 2/Suite 201 false ["S201" "201"]`, `Tower A/Lobby true []`}
	if !slices.Equal(paths, want) {
		t.Errorf("list %q, want %q", paths, want)
	}
	if ls[0].Parent != nil {
		t.Errorf("root has parent %q", *ls[0].Parent)
	}
	out, _ = mustRun(t, exitOK, "location", "list")
	if want := "PATH                       COMMON  ALIASES\nTower A                    no      -\n"; !strings.HasPrefix(out, want) {
		t.Errorf("table:\n%s", out)
	}
}

// The office set-up: two office managers of one tenant form a group and see
// each other's requests; a third tenant sees only their own.
func TestAdminGroupsOffice(t *testing.T) {
	adminEnv(t)
	for _, p := range []string{"ann@acme.example", "bob@acme.example", "cat@other.example"} {
		mustRun(t, exitOK, "person", "add", p)
	}
	mustRun(t, exitOK, "location", "add", "Tower A/Suite 201")
	mustRun(t, exitOK, "location", "add", "Tower A/Suite 305")
	mustRun(t, exitOK, "group", "add", "Acme managers")
	out, _ := mustRun(t, exitOK, "group", "add", "acme MANAGERS")
	if !strings.Contains(out, "group Acme managers exists") {
		t.Errorf("group add again: %q", out)
	}
	mustRun(t, exitOK, "group", "member", "acme managers", "ANN@acme.example", "bob@acme.example")
	mustRun(t, exitOK, "group", "member", "acme managers", "ann@acme.example") // idempotent
	mustRun(t, exitOK, "group", "grant", "Acme managers", "tower a/suite 201")
	mustRun(t, exitOK, "person", "grant", "cat@other.example", "Tower A/Suite 305")
	mustRun(t, exitOK, "person", "grant", "ann@acme.example", "--all")
	out, _ = mustRun(t, exitOK, "group", "list", "--json")
	gs := decode[[]groupView](t, out)
	if len(gs) != 1 || gs[0].Name != "Acme managers" || len(gs[0].Members) != 2 || gs[0].Members[0].Email != "ann@acme.example" ||
		len(gs[0].Grants) != 1 || gs[0].Grants[0].Location == nil || *gs[0].Grants[0].Location != "Tower A/Suite 201" {
		t.Errorf("group list %s", out)
	}
	out, _ = mustRun(t, exitOK, "group", "list")
	if want := "NAME           MEMBERS                             GRANTS\nAcme managers  ann@acme.example, bob@acme.example  Tower A/Suite 201\n"; out != want {
		t.Errorf("group table:\n%s\nwant:\n%s", out, want)
	}

	for i, from := range []string{"ann@acme.example", "bob@acme.example", "cat@other.example"} {
		msg := fmt.Sprintf("From: %s\r\nTo: maintenance@example.com\r\nSubject: Problem %d\r\nMessage-ID: <m%d@example.org>\r\n\r\nBroken.\r\n", from, i, i)
		if code, out, errs := runCmd(t, msg, "ingest"); code != exitOK {
			t.Fatalf("ingest: %d %s %s", code, out, errs)
		}
	}
	for _, tc := range []struct {
		who       string
		requests  []string // number relation
		grants    []string
		allAccess bool
	}{
		{"ann@acme.example", []string{"1001 requester", "1002 group"}, []string{"all ", "Tower A/Suite 201 Acme managers"}, true},
		{"bob@acme.example", []string{"1001 group", "1002 requester"}, []string{"Tower A/Suite 201 Acme managers"}, false},
		{"cat@other.example", []string{"1003 requester"}, []string{"Tower A/Suite 305 "}, false},
	} {
		t.Run(tc.who, func(t *testing.T) {
			out, _ := mustRun(t, exitOK, "person", "show", tc.who, "--json")
			v := decode[personShowView](t, out)
			var rs, grants []string
			for _, r := range v.Requests {
				rs = append(rs, fmt.Sprintf("%d %s", r.Number, r.Relation))
			}
			for _, g := range v.Grants {
				loc := "all"
				if g.Location != nil {
					loc = *g.Location
				}
				grants = append(grants, loc+" "+g.Group)
			}
			if !slices.Equal(rs, tc.requests) || !slices.Equal(grants, tc.grants) {
				t.Errorf("requests %q grants %q, want %q %q", rs, grants, tc.requests, tc.grants)
			}
		})
	}
	out, _ = mustRun(t, exitOK, "person", "show", "bob@acme.example")
	for _, want := range []string{"groups:       Acme managers", "requests bob@acme.example can see: 2", "1001    open", "group"} {
		if !strings.Contains(out, want) {
			t.Errorf("person show lacks %q:\n%s", want, out)
		}
	}
}

func TestAdminErrors(t *testing.T) {
	adminEnv(t)
	mustRun(t, exitOK, "person", "add", "ann@example.org")
	mustRun(t, exitOK, "location", "add", "Tower A/Lobby", "--common")
	mustRun(t, exitOK, "group", "add", "Managers")
	for _, tc := range []struct {
		name string
		args []string
		code int
		say  string
	}{
		{"no verb", []string{"person"}, exitUsage, "tikkitd person add EMAIL"},
		{"unknown verb", []string{"group", "remove", "x"}, exitUsage, `unknown group command "remove"`},
		{"unknown flag", []string{"person", "approve", "ann@example.org", "--staff"}, exitUsage, "flag provided but not defined: -staff"},
		{"missing email", []string{"person", "add"}, exitUsage, "usage: tikkitd person add EMAIL"},
		{"bad email", []string{"person", "add", "not-an-address"}, exitUsage, `"not-an-address" is not an email address`},
		{"unknown person", []string{"person", "approve", "Nobody@Example.org"}, exitNoInput, `no person "nobody@example.org"; see tikkitd person list`},
		{"unknown location", []string{"person", "grant", "ann@example.org", "Tower C"}, exitNoInput, `no location "Tower C"; see tikkitd location list`},
		{"grant both", []string{"person", "grant", "ann@example.org", "Tower A", "--all"}, exitUsage, "give a location or --all"},
		{"grant neither", []string{"person", "grant", "nobody@example.org"}, exitUsage, "give a location or --all"},
		{"unknown group", []string{"group", "member", "Plumbers", "ann@example.org"}, exitNoInput, `no group "Plumbers"; see tikkitd group list`},
		{"unknown member", []string{"group", "member", "Managers", "ann@example.org", "zed@example.org"}, exitNoInput, `no person "zed@example.org"`},
		{"unknown group grant", []string{"group", "grant", "Plumbers", "--all"}, exitNoInput, `no group "Plumbers"`},
		{"location conflict", []string{"location", "add", "Tower A/Lobby"}, exitDataErr, `location "Tower A/Lobby" exists with other settings (common)`},
		{"empty segment", []string{"location", "add", "Tower A//Lobby"}, exitUsage, "empty segment"},
		{"list takes no args", []string{"location", "list", "x"}, exitUsage, "usage: tikkitd location list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCmd(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.say) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tc.code, tc.say)
			}
		})
	}
	// Nothing half-done: the unknown member stopped the whole command.
	out, _ := mustRun(t, exitOK, "group", "list", "--json")
	if gs := decode[[]groupView](t, out); len(gs[0].Members) != 0 {
		t.Errorf("members added despite an unknown one: %+v", gs[0].Members)
	}
}
