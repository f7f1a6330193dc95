package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The four set-ups of DESIGN §1, end to end through the CLI: the admin
// commands configure, `ingest` delivers, the JSON commands show the result.

type scenario struct {
	t    *testing.T
	conf string
}

func newScenario(t *testing.T, settings string) *scenario {
	t.Helper()
	dir := t.TempDir()
	return &scenario{t: t, conf: writeConfig(t, "data_dir = \""+dir+"\"\n"+settings)}
}

// do runs a tikkitd command that must succeed.
func (s *scenario) do(args ...string) string {
	s.t.Helper()
	code, out, errs := runCmd(s.t, "", append(args, "-config", s.conf)...)
	if code != exitOK {
		s.t.Fatalf("tikkitd %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// mail ingests one message and returns its ingest line.
func (s *scenario) mail(raw string) ingestLine {
	s.t.Helper()
	raw = strings.ReplaceAll(strings.TrimLeft(raw, "\n"), "\n", "\r\n")
	code, out, errs := runCmd(s.t, raw, "ingest", "-config", s.conf)
	if code != exitOK {
		s.t.Fatalf("ingest: exit %d\n%s%s", code, out, errs)
	}
	var l ingestLine
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		s.t.Fatalf("ingest output %q: %v", out, err)
	}
	return l
}

func (s *scenario) request(n int64) requestView {
	s.t.Helper()
	var v requestView
	if err := json.Unmarshal([]byte(s.do("request", "show", fmt.Sprint(n), "--json")), &v); err != nil {
		s.t.Fatal(err)
	}
	return v
}

func (s *scenario) people() map[string]personView {
	s.t.Helper()
	var ps []personView
	if err := json.Unmarshal([]byte(s.do("people", "--json")), &ps); err != nil {
		s.t.Fatal(err)
	}
	out := map[string]personView{}
	for _, p := range ps {
		out[p.Email] = p
	}
	return out
}

func loc(v requestView) string {
	if v.Location == nil {
		return ""
	}
	return *v.Location
}

func plain(from, to, subject, body string, extra ...string) string {
	h := "From: " + from + "\nTo: " + to + "\nSubject: " + subject + "\nMessage-ID: <" + fmt.Sprintf("%x", len(from)*7919+len(subject)*31+len(body)) + "." + strings.ReplaceAll(subject, " ", "") + "@test.example>\n"
	for _, e := range extra {
		h += e + "\n"
	}
	return h + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n"
}

func TestScenarioOffice(t *testing.T) {
	s := newScenario(t, "[mail]\naddress = \"maintenance@office.example\"\n[registration]\nmode = \"staff_only\"\n")
	s.do("location", "add", "Tower A/Floor 2/Suite 201")
	s.do("location", "add", "Tower A/Floor 3/Suite 305")
	s.do("location", "add", "Tower A/Lobby", "--common")
	s.do("person", "add", "alice@acme.example", "--name", "Alice Acme")
	s.do("person", "add", "bob@acme.example", "--name", "Bob Acme")
	s.do("group", "add", "Acme office managers")
	s.do("group", "member", "Acme office managers", "alice@acme.example", "bob@acme.example")
	s.do("group", "grant", "Acme office managers", "Tower A/Floor 2/Suite 201")

	a := s.mail(plain("Alice Acme <alice@acme.example>", "maintenance@office.example", "Light out in suite 201", "The ceiling light in Suite 201 is out."))
	if a.Outcome != "created" {
		t.Fatalf("alice: %+v", a)
	}
	want(t, "suite 201 location", loc(s.request(a.Request)), "Tower A/Floor 2/Suite 201")

	b := s.mail(plain("Alice Acme <alice@acme.example>", "maintenance@office.example", "Lobby door", "The door in the lobby squeaks."))
	want(t, "lobby location", loc(s.request(b.Request)), "Tower A/Lobby")

	// Suite 305 is not hers: never filed there.
	c := s.mail(plain("Alice Acme <alice@acme.example>", "maintenance@office.example", "Chair", "A broken chair is in Suite 305."))
	if l := loc(s.request(c.Request)); l == "Tower A/Floor 3/Suite 305" {
		t.Errorf("occupant filed for a suite she lacks: %q", l)
	}

	// A stranger is refused: kept and listed, no account, no request.
	st := s.mail(plain("Eve <eve@elsewhere.example>", "maintenance@office.example", "Hello", "Please fix my window."))
	if st.Outcome != "refused" || st.Request != 0 {
		t.Errorf("stranger: %+v", st)
	}
	if _, ok := s.people()["eve@elsewhere.example"]; ok {
		t.Error("stranger got an account")
	}
	if !strings.Contains(s.do("held", "--json"), "eve@elsewhere.example") {
		t.Error("refused mail not listed by `tikkitd held`")
	}

	// The group: Bob sees Alice's requests.
	show := s.do("person", "show", "bob@acme.example", "--json")
	for _, n := range []int64{a.Request, b.Request} {
		if !strings.Contains(show, fmt.Sprintf("%d", n)) {
			t.Errorf("bob's view lacks request %d:\n%s", n, show)
		}
	}
}

func TestScenarioSchool(t *testing.T) {
	s := newScenario(t, "[mail]\naddress = \"facilities@school.example\"\n[registration]\nmode = \"approval\"\nunknown_sender = \"register\"\npending_can_file = true\n")
	l := s.mail(plain("New Teacher <new.teacher@school.example>", "facilities@school.example", "Projector broken in room 12", "The projector does not turn on."))
	if l.Outcome != "created" {
		t.Fatalf("teacher: %+v", l)
	}
	v := s.request(l.Request)
	want(t, "requester", v.Requester.Email, "new.teacher@school.example")
	want(t, "requester pending", v.RequesterPending, true)
	p := s.people()["new.teacher@school.example"]
	want(t, "status", p.Status, "pending")
	want(t, "created_via", p.CreatedVia, "email")

	s.do("person", "approve", "new.teacher@school.example")
	want(t, "status after approval", s.people()["new.teacher@school.example"].Status, "active")
	want(t, "requester pending after approval", s.request(l.Request).RequesterPending, false)
}

func TestScenarioApartmentBlock(t *testing.T) {
	// The block's staff mail carries no DKIM; its MTA rejects forged senders.
	s := newScenario(t, "[mail]\naddress = \"desk@block.example\"\n[registration]\nmode = \"staff_only\"\nstaff_require_auth = false\n")
	s.do("location", "add", "Block A/Unit 4B")
	s.do("location", "add", "Block A/Unit 7C")
	s.do("person", "add", "super@block.example", "--staff", "--name", "Sam Super")

	fwd := plain("Sam Super <super@block.example>", "desk@block.example", "Fwd: Dripping tap", `#location Block A/Unit 4B

Please have a look at this one.

---------- Forwarded message ---------
From: Rita Resident <rita@mail.example>
Date: Mon, 30 Nov 2026 08:00:00 +0000
Subject: Dripping tap
To: Sam Super <super@block.example>

The kitchen tap drips all night.
Rita`, "Cc: Rita Resident <rita@mail.example>")
	l := s.mail(fwd)
	if l.Outcome != "created" {
		t.Fatalf("forward: %+v", l)
	}
	v := s.request(l.Request)
	want(t, "requester", v.Requester.Email, "rita@mail.example")
	want(t, "creator", v.Creator.Email, "super@block.example")
	want(t, "location", loc(v), "Block A/Unit 4B")
	var follows bool
	for _, f := range v.Followers {
		follows = follows || f.Email == "rita@mail.example"
	}
	if !follows {
		t.Errorf("resident not a follower: %+v", v.Followers)
	}
	rita := s.people()["rita@mail.example"]
	want(t, "created_via", rita.CreatedVia, "follower")
	want(t, "status", rita.Status, "active")
	show := s.do("person", "show", "rita@mail.example", "--json")
	if !strings.Contains(show, "Block A/Unit 4B") || strings.Contains(show, "Unit 7C") {
		t.Errorf("resident's access is not that unit only:\n%s", show)
	}

	// A forward from a non-staff sender does not change the requester.
	l2 := s.mail(plain("Rita Resident <rita@mail.example>", "desk@block.example", "Fwd: Noise", `---------- Forwarded message ---------
From: Neighbour <n@mail.example>
Subject: Noise

Loud music.`))
	want(t, "non-staff forward requester", s.request(l2.Request).Requester.Email, "rita@mail.example")
}

func TestScenarioCampus(t *testing.T) {
	key, txt := testDKIMKey(t)
	lookupTXT = fakeTXT(map[string]string{"sel._domainkey.campus.example.edu": txt})
	t.Cleanup(func() { lookupTXT = nil })
	s := newScenario(t, "[mail]\naddress = \"help@campus.example.edu\"\n[registration]\nmode = \"approval\"\nunknown_sender = \"register\"\nauto_approve_domains = [\"campus.example.edu\"]\n")

	signed := dkimSign(t, plain("Dana Staffer <dana@campus.example.edu>", "help@campus.example.edu", "Heating in building 4", "Room 4.12 is cold."), "campus.example.edu", "sel", key)
	a := s.mail(signed)
	if a.Outcome != "created" {
		t.Fatalf("signed: %+v", a)
	}
	want(t, "signed sender", s.people()["dana@campus.example.edu"].Status, "active")

	forged := plain("Forged Dean <dean@campus.example.edu>", "help@campus.example.edu", "Give me a key", "Please open the server room.")
	b := s.mail(forged)
	if b.Outcome != "created" {
		t.Fatalf("unsigned: %+v", b)
	}
	want(t, "unsigned sender", s.people()["dean@campus.example.edu"].Status, "pending")
	want(t, "unsigned request pending", s.request(b.Request).RequesterPending, true)
}

// Staff powers need proof of origin: a forged staff From runs no command.
func TestStaffCommandsNeedAuthentication(t *testing.T) {
	key, txt := testDKIMKey(t)
	lookupTXT = fakeTXT(map[string]string{"sel._domainkey.fm.example": txt})
	t.Cleanup(func() { lookupTXT = nil })
	s := newScenario(t, "[mail]\naddress = \"help@office.example\"\n[registration]\nmode = \"staff_only\"\n")
	s.do("person", "add", "alice@acme.example")
	s.do("person", "add", "sam@fm.example", "--staff")
	a := s.mail(plain("Alice <alice@acme.example>", "help@office.example", "Door sticks", "The door sticks."))

	forged := s.mail(plain("Sam <sam@fm.example>", "help@office.example", "Re: [REQ-1001] Door sticks", "#follow spy@evil.example\n#close\n\nok"))
	v := s.request(a.Request)
	want(t, "state after forged #close", v.State, "open")
	for _, f := range v.Followers {
		if f.Email == "spy@evil.example" {
			t.Error("forged #follow ran")
		}
	}
	if _, ok := s.people()["spy@evil.example"]; ok {
		t.Error("forged #follow made an account")
	}
	if m := v.Messages[len(v.Messages)-1]; m.MessageID != forged.MessageID || !m.Internal {
		t.Errorf("forged staff mail not kept as an internal note: %+v", m)
	}

	signed := dkimSign(t, plain("Sam <sam@fm.example>", "help@office.example", "Re: [REQ-1001] Door sticks", "#close\n\nFixed."), "fm.example", "sel", key)
	s.mail(signed)
	want(t, "state after signed #close", s.request(a.Request).State, "closed")
}

// Being CC'd lets a person follow and answer that request, not file their
// own when registration does not allow it.
func TestCCdPersonFollowsButDoesNotFile(t *testing.T) {
	s := newScenario(t, "[mail]\naddress = \"help@office.example\"\n[registration]\nmode = \"staff_only\"\n")
	s.do("location", "add", "Tower A/Floor 2/Suite 201")
	s.do("person", "add", "anna@acme.example")
	s.do("person", "grant", "anna@acme.example", "Tower A/Floor 2/Suite 201")
	a := s.mail(plain("Anna <anna@acme.example>", "help@office.example", "New thing", "Please fix.", "Cc: Olli Outsider <outsider@evil.example>"))
	o := s.people()["outsider@evil.example"]
	want(t, "cc'd status", o.Status, "pending")
	want(t, "cc'd created_via", o.CreatedVia, "follower")
	reply := s.mail(plain("Olli Outsider <outsider@evil.example>", "help@office.example", "Re: [REQ-1001] New thing", "I can let them in."))
	want(t, "cc'd reply", reply.Outcome, "appended")
	want(t, "cc'd reply request", reply.Request, a.Request)
	own := s.mail(plain("Olli Outsider <outsider@evil.example>", "help@office.example", "My own thing", "Fix mine too."))
	want(t, "cc'd person filing", own.Outcome, "refused")
}

func TestStaffCommandDetails(t *testing.T) {
	s := newScenario(t, "[mail]\naddress = \"desk@block.example\"\n[registration]\nmode = \"staff_only\"\nstaff_require_auth = false\n")
	s.do("location", "add", "Block 1/Unit 5C")
	s.do("location", "add", "Block 1/Unit 4B")
	s.do("person", "add", "fred@block.example", "--staff")
	s.do("person", "add", "rita@home.example")
	s.do("person", "grant", "rita@home.example", "Block 1/Unit 5C")
	s.do("person", "add", "bert@home.example")

	// A staff forward: a unit named in the text counts only if the requester may use it.
	l := s.mail(plain("Fred <fred@block.example>", "desk@block.example", "Fwd: Tap", `---------- Forwarded message ---------
From: Rita <rita@home.example>
Subject: Tap

The tap drips. See Unit 4B too.`))
	v := s.request(l.Request)
	want(t, "requester", v.Requester.Email, "rita@home.example")
	want(t, "location", loc(v), "Block 1/Unit 5C")
	if !strings.Contains(v.Messages[0].VisibleText, "The tap drips") {
		t.Errorf("forwarded words not visible: %q", v.Messages[0].VisibleText)
	}

	// A bad #location stops every command of the mail.
	m := s.mail(plain("Fred <fred@block.example>", "desk@block.example", "Re: [REQ-1001] Tap", "#close\n#location Nowhere/Else\n\nDone."))
	v = s.request(l.Request)
	want(t, "state after a bad #location", v.State, "open")
	if last := v.Messages[len(v.Messages)-1]; last.MessageID != m.MessageID || !last.Internal {
		t.Errorf("mail with a bad command is public: %+v", last)
	}

	// #requester: one requester, the former one keeps following.
	s.mail(plain("Fred <fred@block.example>", "desk@block.example", "Re: [REQ-1001] Tap", "#requester bert@home.example\n\nBert reported it first."))
	reasons := map[string]string{}
	for _, f := range s.request(l.Request).Followers {
		reasons[f.Email] = f.Reason
	}
	want(t, "new requester", reasons["bert@home.example"], "requester")
	want(t, "former requester", reasons["rita@home.example"], "cc")
}
