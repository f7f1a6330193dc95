package rules

import (
	"fmt"
	"strings"
	"testing"
)

// verdictCode renders a Verdict without its Reason, compactly:
// "create:active file", "upgrade:active file", "file pending", "refuse",
// "stored" (nothing happens besides storing the mail).
func verdictCode(v Verdict) string {
	var parts []string
	switch {
	case v.Create:
		parts = append(parts, "create:"+v.Status)
	case v.Upgrade:
		parts = append(parts, "upgrade:"+v.Status)
	case v.Status != "":
		parts = append(parts, "status:"+v.Status)
	}
	if v.Create && v.Upgrade {
		parts = append(parts, "UPGRADE-TOO")
	}
	if v.MayFile {
		parts = append(parts, "file")
	}
	if v.Pending {
		parts = append(parts, "pending")
	}
	if v.Refuse {
		parts = append(parts, "refuse")
	}
	if len(parts) == 0 {
		return "stored"
	}
	return strings.Join(parts, " ")
}

// Registration settings used by the matrix. All require DKIM for
// auto-approval (the default) and list campus.example and *.edu.example.
var regConfigs = map[string]Registration{
	"staff_only":         {Mode: ModeStaffOnly},
	"staff_only+pcf":     {Mode: ModeStaffOnly, PendingCanFile: true, UnknownSender: UnknownRegister},
	"open":               {Mode: ModeOpen},
	"open+refuse":        {Mode: ModeOpen, UnknownSender: UnknownRefuse},
	"approval/register":  {Mode: ModeApproval, UnknownSender: UnknownRegister},
	"approval/reg+pcf":   {Mode: ModeApproval, UnknownSender: UnknownRegister, PendingCanFile: true},
	"approval/refuse":    {Mode: ModeApproval, UnknownSender: UnknownRefuse},
	"approval/refuse+pc": {Mode: ModeApproval, UnknownSender: UnknownRefuse, PendingCanFile: true},
	"approval/empty":     {Mode: ModeApproval},
}

func regConfig(name string) Registration {
	r := regConfigs[name]
	r.AutoApproveDomains = []string{"campus.example", "*.edu.example"}
	r.RequireDKIMForAutoApprove = true
	return r
}

// Domain situations: the sender's address and whether the mail passed
// DKIM/DMARC.
var regDomains = map[string]struct {
	email string
	auth  bool
}{
	"other+auth":     {"ann@elsewhere.example", true},
	"other":          {"ann@elsewhere.example", false},
	"listed+auth":    {"ann@campus.example", true},
	"listed":         {"ann@campus.example", false},
	"sublisted+auth": {"ann@math.edu.example", true},
}

var regSenders = map[string]Sender{
	"unknown":          {},
	"staff":            {Known: true, Kind: "staff", Status: "active"},
	"staff-nostatus":   {Known: true, Kind: "staff"},
	"staff-pending":    {Known: true, Kind: "staff", Status: "pending"},
	"staff-blocked":    {Known: true, Kind: "staff", Status: "blocked"},
	"occupant-active":  {Known: true, Kind: "occupant", Status: "active"},
	"occupant-pending": {Known: true, Kind: "occupant", Status: "pending"},
	"occupant-denied":  {Known: true, Kind: "occupant", Status: "denied"},
	"occupant-blocked": {Known: true, Kind: "occupant", Status: "blocked"},
	"occupant-weird":   {Known: true, Kind: "occupant", Status: "archived"},
	"kindless-active":  {Known: true, Status: "active"},
	"kindless-pending": {Known: true, Status: "pending"},
}

func runDecide(t *testing.T, cfg, sender, dom, want string) {
	t.Helper()
	r := regConfig(cfg)
	s, ok := regSenders[sender]
	d, ok2 := regDomains[dom]
	if _, ok3 := regConfigs[cfg]; !ok || !ok2 || !ok3 {
		t.Fatalf("bad test row %s/%s/%s", cfg, sender, dom)
	}
	s.Email, s.Authenticated = d.email, d.auth
	v := Decide(r, s)
	if got := verdictCode(v); got != want {
		t.Errorf("Decide = %q (reason %q), want %q", got, v.Reason, want)
	}
	if v.Reason == "" {
		t.Errorf("empty Reason")
	}
	if v.Pending && !v.MayFile {
		t.Errorf("Pending without MayFile")
	}
	if v.Refuse && (v.MayFile || v.Create) {
		t.Errorf("Refuse with MayFile or Create")
	}
}

// TestDecideFixed covers senders whose verdict depends on neither the
// mode nor the domain: every config × every domain situation.
func TestDecideFixed(t *testing.T) {
	fixed := []struct{ sender, want string }{
		{"staff", "file"},
		{"staff-nostatus", "file"},
		{"staff-pending", "file"}, // staff are never pending
		{"staff-blocked", "stored"},
		{"occupant-active", "file"},
		{"kindless-active", "file"},
		{"occupant-denied", "stored"}, // auto-approve domain does not undo a denial
		{"occupant-blocked", "stored"},
		{"occupant-weird", "stored"}, // unknown status: fail closed
	}
	for _, f := range fixed {
		for cfg := range regConfigs {
			for dom := range regDomains {
				t.Run(f.sender+"/"+cfg+"/"+dom, func(t *testing.T) {
					runDecide(t, cfg, f.sender, dom, f.want)
				})
			}
		}
	}
}

// TestDecide covers the senders whose verdict depends on mode and domain:
// pending occupants and unknown senders, row by row.
func TestDecide(t *testing.T) {
	rows := []struct{ cfg, sender, dom, want string }{
		// Pending occupant: upgraded when auto-approved, in any mode.
		{"staff_only", "occupant-pending", "listed+auth", "upgrade:active file"},
		{"staff_only", "occupant-pending", "sublisted+auth", "upgrade:active file"},
		{"staff_only", "occupant-pending", "listed", "stored"},
		{"staff_only", "occupant-pending", "other+auth", "stored"},
		{"staff_only+pcf", "occupant-pending", "listed", "stored"}, // staff_only: pending accounts only follow
		{"staff_only+pcf", "occupant-pending", "other", "stored"},
		{"open", "occupant-pending", "listed+auth", "upgrade:active file"},
		{"open", "occupant-pending", "listed", "stored"},
		{"open", "occupant-pending", "other+auth", "stored"},
		{"approval/register", "occupant-pending", "listed+auth", "upgrade:active file"},
		{"approval/register", "occupant-pending", "listed", "stored"},
		{"approval/register", "occupant-pending", "other", "stored"},
		{"approval/reg+pcf", "occupant-pending", "listed+auth", "upgrade:active file"},
		{"approval/reg+pcf", "occupant-pending", "listed", "file pending"},
		{"approval/reg+pcf", "occupant-pending", "other+auth", "file pending"},
		{"approval/refuse+pc", "occupant-pending", "other", "file pending"},
		{"approval/refuse", "occupant-pending", "other", "stored"},
		{"approval/reg+pcf", "kindless-pending", "other", "file pending"},

		// Unknown sender, auto-approved: active in every mode.
		{"staff_only", "unknown", "listed+auth", "create:active file"},
		{"staff_only", "unknown", "sublisted+auth", "create:active file"},
		{"open", "unknown", "listed+auth", "create:active file"},
		{"approval/register", "unknown", "listed+auth", "create:active file"},
		{"approval/refuse", "unknown", "listed+auth", "create:active file"},
		{"approval/reg+pcf", "unknown", "sublisted+auth", "create:active file"},

		// Unknown sender, not auto-approved: by mode.
		{"staff_only", "unknown", "listed", "refuse"},
		{"staff_only", "unknown", "other", "refuse"},
		{"staff_only", "unknown", "other+auth", "refuse"},
		{"staff_only+pcf", "unknown", "other", "refuse"}, // unknown_sender is irrelevant in staff_only
		{"open", "unknown", "listed", "create:active file"},
		{"open", "unknown", "other", "create:active file"},
		{"open", "unknown", "other+auth", "create:active file"},
		{"open+refuse", "unknown", "other", "create:active file"}, // unknown_sender is irrelevant in open
		{"approval/register", "unknown", "listed", "create:pending"},
		{"approval/register", "unknown", "other", "create:pending"},
		{"approval/register", "unknown", "other+auth", "create:pending"},
		{"approval/reg+pcf", "unknown", "listed", "create:pending file pending"},
		{"approval/reg+pcf", "unknown", "other", "create:pending file pending"},
		{"approval/refuse", "unknown", "listed", "refuse"},
		{"approval/refuse", "unknown", "other+auth", "refuse"},
		{"approval/refuse+pc", "unknown", "other", "refuse"},
		{"approval/empty", "unknown", "other", "refuse"}, // empty unknown_sender means refuse
	}
	for _, r := range rows {
		t.Run(r.cfg+"/"+r.sender+"/"+r.dom, func(t *testing.T) {
			runDecide(t, r.cfg, r.sender, r.dom, r.want)
		})
	}
}

func TestDecideEdges(t *testing.T) {
	noDKIM := Registration{Mode: ModeStaffOnly, AutoApproveDomains: []string{"campus.example"}}
	cases := []struct {
		name       string
		r          Registration
		s          Sender
		want       string
		wantReason string // substring
	}{
		{"no DKIM required: unauthenticated unknown is auto-approved", noDKIM,
			Sender{Email: "a@campus.example"}, "create:active file", "auto-approve domain"},
		{"no DKIM required: unauthenticated pending is upgraded", noDKIM,
			Sender{Email: "a@campus.example", Known: true, Kind: "occupant", Status: "pending"}, "upgrade:active file", "auto-approve"},
		{"no DKIM required: other domain still refused", noDKIM,
			Sender{Email: "a@other.example"}, "refuse", "staff_only"},
		{"staff_only reason", regConfig("staff_only"),
			Sender{Email: "a@other.example"}, "refuse", "unknown sender in staff_only mode"},
		{"unauthenticated listed domain is explained", regConfig("staff_only"),
			Sender{Email: "a@campus.example"}, "refuse", "no DKIM/DMARC pass"},
		{"pending cannot file: reason says pending approval", regConfig("open"),
			Sender{Email: "a@x.example", Known: true, Kind: "occupant", Status: "pending"}, "stored", "pending approval"},
		{"pending files: reason says requester pending approval", regConfig("approval/reg+pcf"),
			Sender{Email: "a@x.example", Known: true, Kind: "occupant", Status: "pending"}, "file pending", "requester pending approval"},
		{"denied reason", regConfig("open"),
			Sender{Email: "a@campus.example", Authenticated: true, Known: true, Kind: "occupant", Status: "denied"}, "stored", "denied"},
		{"invalid mode refuses unknown", Registration{Mode: "opne"},
			Sender{Email: "a@x.example"}, "refuse", "invalid registration mode"},
		{"invalid mode still lets active occupant file", Registration{Mode: "opne"},
			Sender{Email: "a@x.example", Known: true, Kind: "occupant", Status: "active"}, "file", "active"},
		{"address without @ is not auto-approved", noDKIM,
			Sender{Email: "campus.example"}, "refuse", ""},
		{"IDN sender in punycode matches Unicode pattern",
			Registration{Mode: ModeStaffOnly, AutoApproveDomains: []string{"bücher.example"}, RequireDKIMForAutoApprove: true},
			Sender{Email: "a@xn--bcher-kva.example", Authenticated: true}, "create:active file", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Decide(c.r, c.s)
			if got := verdictCode(v); got != c.want {
				t.Errorf("Decide = %q (reason %q), want %q", got, v.Reason, c.want)
			}
			if !strings.Contains(v.Reason, c.wantReason) {
				t.Errorf("Reason = %q, want it to contain %q", v.Reason, c.wantReason)
			}
		})
	}
}

func TestDomainMatches(t *testing.T) {
	cases := []struct {
		name, pattern, domain string
		want                  bool
	}{
		{"exact", "example.org", "example.org", true},
		{"exact case-insensitive", "Example.ORG", "EXAMPLE.org", true},
		{"exact trailing dot", "example.org.", "example.org", true},
		{"exact does not match subdomain", "example.org", "a.example.org", false},
		{"exact does not match parent", "a.example.org", "example.org", false},
		{"exact does not match suffix lookalike", "example.org", "badexample.org", false},
		{"wildcard matches subdomain", "*.example.org", "a.example.org", true},
		{"wildcard matches deep subdomain", "*.example.org", "x.y.example.org", true},
		{"wildcard case-insensitive", "*.EXAMPLE.org", "Mail.Example.Org", true},
		{"wildcard does not match base itself", "*.example.org", "example.org", false},
		{"wildcard does not match lookalike", "*.example.org", "aexample.org", false},
		{"wildcard does not match other domain", "*.example.org", "example.org.evil.example", false},
		{"IDN unicode pattern, punycode domain", "bücher.example", "xn--bcher-kva.example", true},
		{"IDN punycode pattern, unicode domain", "xn--bcher-kva.example", "Bücher.example", true},
		{"IDN unicode both sides", "*.münchen.example", "rathaus.MÜNCHEN.example", true},
		{"IDN wildcard punycode domain", "*.münchen.example", "rathaus.xn--mnchen-3ya.example", true},
		{"IDN differs", "bücher.example", "bucher.example", false},
		{"empty pattern", "", "example.org", false},
		{"empty domain", "example.org", "", false},
		{"bare star", "*", "example.org", false},
		{"inner star", "a.*.example.org", "a.b.example.org", false},
		{"wildcard TLD rejected", "*.org", "example.org", false},
		{"domain with @", "example.org", "a@example.org", false},
		{"invalid domain", "example.org", "exa mple.org", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DomainMatches(c.pattern, c.domain); got != c.want {
				t.Errorf("DomainMatches(%q, %q) = %v, want %v", c.pattern, c.domain, got, c.want)
			}
		})
	}
}

func TestAutoApproved(t *testing.T) {
	req := Registration{AutoApproveDomains: []string{"campus.example", "*.edu.example"}, RequireDKIMForAutoApprove: true}
	noReq := req
	noReq.RequireDKIMForAutoApprove = false
	cases := []struct {
		name  string
		r     Registration
		email string
		auth  bool
		want  bool
	}{
		{"listed, authenticated", req, "a@campus.example", true, true},
		{"listed, not authenticated, DKIM required", req, "a@campus.example", false, false},
		{"listed, not authenticated, DKIM not required", noReq, "a@campus.example", false, true},
		{"subdomain pattern, authenticated", req, "a@math.edu.example", true, true},
		{"wildcard base not listed", req, "a@edu.example", true, false},
		{"not listed, authenticated", req, "a@other.example", true, false},
		{"not listed, DKIM not required", noReq, "a@other.example", false, false},
		{"upper-case address", req, "A@CAMPUS.EXAMPLE", true, true},
		{"no list", Registration{}, "a@campus.example", true, false},
		{"not an address", req, "campus.example", true, false},
		{"empty local part", req, "@campus.example", true, false},
		{"quoted local with @", req, `"x@campus.example"@other.example`, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := AutoApproved(c.r, c.email, c.auth); got != c.want {
				t.Errorf("AutoApproved(%q, %v) = %v, want %v", c.email, c.auth, got, c.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := Registration{Mode: ModeOpen, RequireDKIMForAutoApprove: true}
	with := func(f func(*Registration)) Registration { r := ok; f(&r); return r }
	cases := []struct {
		name string
		r    Registration
		want []string // substrings of the error; nil = valid
	}{
		{"default open", ok, nil},
		{"staff_only", with(func(r *Registration) { r.Mode = ModeStaffOnly }), nil},
		{"approval register", with(func(r *Registration) { r.Mode, r.UnknownSender = ModeApproval, UnknownRegister }), nil},
		{"approval refuse", with(func(r *Registration) { r.Mode, r.UnknownSender = ModeApproval, UnknownRefuse }), nil},
		{"good domains", with(func(r *Registration) {
			r.AutoApproveDomains = []string{"example.org", "*.example.org", "Bücher.example", "xn--bcher-kva.example", "EXAMPLE.net."}
		}), nil},
		{"misspelt mode", with(func(r *Registration) { r.Mode = "opne" }),
			[]string{`registration.mode: "opne" is not staff_only, open or approval`}},
		{"empty mode", with(func(r *Registration) { r.Mode = "" }),
			[]string{`registration.mode: "" is not`}},
		{"mode is case-sensitive", with(func(r *Registration) { r.Mode = "Open" }),
			[]string{`registration.mode: "Open"`}},
		{"bad unknown_sender", with(func(r *Registration) { r.UnknownSender = "reject" }),
			[]string{`registration.unknown_sender: "reject" is not refuse or register`}},
		{"empty pattern", with(func(r *Registration) { r.AutoApproveDomains = []string{"ok.example", ""} }),
			[]string{`registration.auto_approve_domains[1]: "": empty domain`}},
		{"bare star", with(func(r *Registration) { r.AutoApproveDomains = []string{"*"} }),
			[]string{`auto_approve_domains[0]: "*"`}},
		{"inner star", with(func(r *Registration) { r.AutoApproveDomains = []string{"a.*.example"} }),
			[]string{`auto_approve_domains[0]: "a.*.example": "*" is only allowed`}},
		{"wildcard TLD", with(func(r *Registration) { r.AutoApproveDomains = []string{"*.org"} }),
			[]string{`"*.org": a wildcard would approve a whole top-level domain`}},
		{"address instead of domain", with(func(r *Registration) { r.AutoApproveDomains = []string{"ann@example.org"} }),
			[]string{`"ann@example.org": not a domain name`}},
		{"space", with(func(r *Registration) { r.AutoApproveDomains = []string{"example .org"} }),
			[]string{`not a domain name`}},
		{"empty label", with(func(r *Registration) { r.AutoApproveDomains = []string{"a..example"} }),
			[]string{`empty or over-long label`}},
		{"IP address", with(func(r *Registration) { r.AutoApproveDomains = []string{"192.0.2.1"} }),
			[]string{`numeric top-level label`}},
		{"bad punycode", with(func(r *Registration) { r.AutoApproveDomains = []string{"xn--zz.example"} }),
			[]string{`"xn--zz.example": not a domain name`}},
		{"leading hyphen", with(func(r *Registration) { r.AutoApproveDomains = []string{"-a.example"} }),
			[]string{`"-a.example": not a domain name`}},
		{"every error reported", Registration{Mode: "x", UnknownSender: "y", AutoApproveDomains: []string{"*"}},
			[]string{"registration.mode", "registration.unknown_sender", "registration.auto_approve_domains[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.r.Validate()
			if c.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// Every configuration the matrix uses is valid.
func TestRegConfigsValid(t *testing.T) {
	for name := range regConfigs {
		t.Run(name, func(t *testing.T) {
			if err := regConfig(name).Validate(); err != nil {
				t.Error(fmt.Sprint(err))
			}
		})
	}
}
