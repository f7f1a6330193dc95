package rules

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// Mode is the registration mode, [registration] mode.
type Mode string

// Registration modes (DESIGN §5).
const (
	ModeStaffOnly Mode = "staff_only" // only people staff created may file
	ModeOpen      Mode = "open"       // anyone may file; accounts are self-made
	ModeApproval  Mode = "approval"   // anyone may register; staff approve
)

// UnknownSender says what approval mode does with an unknown sender,
// [registration] unknown_sender.
type UnknownSender string

// Values of UnknownSender.
const (
	UnknownRefuse   UnknownSender = "refuse"
	UnknownRegister UnknownSender = "register"
)

// Registration is the [registration] section of the settings.
//
// The zero value is not the default configuration: the settings loader must
// set Mode (default open) and RequireDKIMForAutoApprove (default true).
type Registration struct {
	Mode                      Mode
	AutoApproveDomains        []string // "example.org" or "*.example.org"; case-insensitive; IDN given in Unicode or punycode
	PendingCanFile            bool
	UnknownSender             UnknownSender // empty means refuse
	RequireDKIMForAutoApprove bool
}

// Validate reports every bad setting, each error naming its key.
func (r Registration) Validate() error {
	var errs []error
	switch r.Mode {
	case ModeStaffOnly, ModeOpen, ModeApproval:
	default:
		errs = append(errs, fmt.Errorf("registration.mode: %q is not staff_only, open or approval", string(r.Mode)))
	}
	switch r.UnknownSender {
	case "", UnknownRefuse, UnknownRegister:
	default:
		errs = append(errs, fmt.Errorf("registration.unknown_sender: %q is not refuse or register", string(r.UnknownSender)))
	}
	for i, p := range r.AutoApproveDomains {
		if _, _, err := parsePattern(p); err != nil {
			errs = append(errs, fmt.Errorf("registration.auto_approve_domains[%d]: %q: %w", i, p, err))
		}
	}
	return errors.Join(errs...)
}

// Sender is what Decide needs to know about the author of a mail.
type Sender struct {
	Email         string // normalised: lower case, punycode domain
	Known         bool
	Kind          string // "staff" | "occupant"
	Status        string // "pending" | "active" | "denied" | "blocked"
	Authenticated bool   // DKIM aligned with the From domain, or DMARC/aligned DKIM pass from a trusted Authentication-Results
}

// Verdict is Decide's answer. The zero Verdict files nothing, creates
// nothing and refuses nobody: the mail is only stored.
type Verdict struct {
	Create  bool   // make an occupant account for an unknown sender
	Status  string // status of the new account, or the new status of an upgraded one: "active" | "pending"
	Upgrade bool   // a known pending occupant becomes active (authenticated sender of an auto-approve domain)
	MayFile bool   // the mail may create or update a request
	Pending bool   // the request is marked "requester pending approval"
	Refuse  bool   // the sender gets a polite refusal (rate-limited; sent by the outbound issue later)
	Reason  string // short, for logs and `tikkitd held`
}

// Person kinds and statuses as stored (DESIGN §2).
const (
	KindStaff    = "staff"
	KindOccupant = "occupant"

	StatusPending = "pending"
	StatusActive  = "active"
	StatusDenied  = "denied"
	StatusBlocked = "blocked"
)

// Decide says whether a sender may file, and whether an account is made
// or upgraded. "auto" below is AutoApproved(r, s.Email, s.Authenticated).
//
//	sender                       condition              verdict
//	staff, denied or blocked     -                      stored only
//	staff, any other status      -                      MayFile (never Pending)
//	occupant active              -                      MayFile
//	occupant pending             auto                   Upgrade to active, MayFile
//	occupant pending             PendingCanFile         MayFile, Pending
//	occupant pending             otherwise              stored only ("pending approval")
//	occupant denied / blocked    (auto is ignored)      stored only, no refusal
//	occupant, other status       -                      stored only (fail closed)
//	unknown                      auto (any mode)        Create active, MayFile
//	unknown, open                -                      Create active, MayFile (UnknownSender ignored)
//	unknown, approval, register  PendingCanFile         Create pending, MayFile, Pending
//	unknown, approval, register  otherwise              Create pending, stored only
//	unknown, approval, refuse/"" -                      Refuse
//	unknown, staff_only          -                      Refuse (staff create occupants)
//	unknown, invalid mode        -                      Refuse (fail closed)
//
// A known sender whose Kind is not "staff" is treated as an occupant.
func Decide(r Registration, s Sender) Verdict {
	auto := AutoApproved(r, s.Email, s.Authenticated)
	if !s.Known {
		return decideUnknown(r, s, auto)
	}
	if s.Kind == KindStaff {
		if s.Status == StatusDenied || s.Status == StatusBlocked {
			return Verdict{Reason: "staff member is " + s.Status}
		}
		return Verdict{MayFile: true, Reason: "staff"}
	}
	switch s.Status {
	case StatusActive:
		return Verdict{MayFile: true, Reason: "active occupant"}
	case StatusPending:
		switch {
		case auto:
			return Verdict{Upgrade: true, Status: StatusActive, MayFile: true,
				Reason: "pending occupant approved by auto-approve domain"}
		case r.PendingCanFile && r.Mode != ModeStaffOnly:
			// In staff_only mode only people staff added file; a pending
			// account (made for a CC'd person) may only follow its request.
			return Verdict{MayFile: true, Pending: true, Reason: "requester pending approval" + unauthNote(r, s)}
		default:
			return Verdict{Reason: "occupant pending approval" + unauthNote(r, s)}
		}
	case StatusDenied, StatusBlocked:
		return Verdict{Reason: "occupant is " + s.Status}
	default:
		return Verdict{Reason: fmt.Sprintf("occupant has unknown status %q", s.Status)}
	}
}

func decideUnknown(r Registration, s Sender, auto bool) Verdict {
	if auto {
		return Verdict{Create: true, Status: StatusActive, MayFile: true,
			Reason: "unknown sender in auto-approve domain"}
	}
	note := unauthNote(r, s)
	switch r.Mode {
	case ModeOpen:
		return Verdict{Create: true, Status: StatusActive, MayFile: true, Reason: "unknown sender in open mode"}
	case ModeApproval:
		if r.UnknownSender != UnknownRegister {
			return Verdict{Refuse: true, Reason: "unknown sender in approval mode (unknown_sender=refuse)" + note}
		}
		if r.PendingCanFile {
			return Verdict{Create: true, Status: StatusPending, MayFile: true, Pending: true,
				Reason: "unknown sender registered pending approval" + note}
		}
		return Verdict{Create: true, Status: StatusPending,
			Reason: "unknown sender registered pending approval; pending_can_file is off" + note}
	case ModeStaffOnly:
		return Verdict{Refuse: true, Reason: "unknown sender in staff_only mode" + note}
	default:
		return Verdict{Refuse: true, Reason: fmt.Sprintf("unknown sender; invalid registration mode %q", string(r.Mode))}
	}
}

// unauthNote explains, for the logs, why an address in an auto-approve
// domain was not approved.
func unauthNote(r Registration, s Sender) string {
	if !s.Authenticated && r.RequireDKIMForAutoApprove && listedDomain(r, s.Email) {
		return " (auto-approve domain, but no DKIM/DMARC pass)"
	}
	return ""
}

// AutoApproved reports whether email's domain is listed in
// AutoApproveDomains and the mail is authenticated or authentication is
// not required.
func AutoApproved(r Registration, email string, authenticated bool) bool {
	return listedDomain(r, email) && (authenticated || !r.RequireDKIMForAutoApprove)
}

func listedDomain(r Registration, email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return false
	}
	domain := email[at+1:]
	for _, p := range r.AutoApproveDomains {
		if DomainMatches(p, domain) {
			return true
		}
	}
	return false
}

// DomainMatches reports whether domain matches pattern: "example.org"
// matches exactly that domain; "*.example.org" matches any subdomain at any
// depth ("a.example.org", "x.y.example.org") but not "example.org" itself
// (list both to include it). Both sides are compared case-insensitively
// after IDN conversion to punycode, so Unicode and punycode forms match.
// An invalid pattern or domain matches nothing.
func DomainMatches(pattern, domain string) bool {
	wild, base, err := parsePattern(pattern)
	if err != nil {
		return false
	}
	d, err := asciiDomain(domain)
	if err != nil {
		return false
	}
	if !wild {
		return d == base
	}
	return len(d) > len(base)+1 && strings.HasSuffix(d, "."+base)
}

// idnaProfile converts IDN domains for lookup (UTS #46, non-transitional),
// as mailin does for addresses.
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule())

// parsePattern splits an auto-approve pattern into its wildcard flag and
// ASCII base domain.
func parsePattern(p string) (wild bool, base string, err error) {
	if rest, ok := strings.CutPrefix(p, "*."); ok {
		wild, p = true, rest
	}
	if strings.Contains(p, "*") {
		return false, "", errors.New(`"*" is only allowed as a leading "*." label`)
	}
	base, err = asciiDomain(p)
	if err != nil {
		return false, "", err
	}
	if wild && !strings.Contains(base, ".") {
		return false, "", errors.New("a wildcard would approve a whole top-level domain")
	}
	return wild, base, nil
}

// asciiDomain lower-cases a domain, converts IDN labels to punycode and
// checks its syntax. One trailing dot is allowed and removed.
func asciiDomain(d string) (string, error) {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", errors.New("empty domain")
	}
	if strings.ContainsAny(d, "@ \t\r\n/\\[]:,;<>\"") {
		return "", errors.New("not a domain name")
	}
	a, err := idnaProfile.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("not a domain name: %v", err)
	}
	a = strings.ToLower(a)
	if len(a) > 253 {
		return "", errors.New("domain longer than 253 characters")
	}
	labels := strings.Split(a, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 {
			return "", errors.New("empty or over-long label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("character %q not allowed", c)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", errors.New("numeric top-level label (IP addresses are not domains)")
	}
	return a, nil
}
