package web

import (
	_ "embed"
	"fmt"
	"html/template"
	"time"
)

// Stats are the aggregate counts shown on the status page. cmd fills them
// from the store; none of them is personal data.
type Stats struct {
	OpenRequests   int64
	ClosedRequests int64
	MessagesToday  int64 // inbound messages received since local midnight
	HeldMessages   int64 // kept but unparseable or otherwise held for an operator
	OutboxQueued   int64 // outbound mail waiting (queued or being sent)
	OutboxSent     int64 // outbound mail delivered
	OutboxFailed   int64 // outbound mail that failed for good
	OutboxHeld     int64 // automatic mail held back by the per-address or global limits
	TotalMessages  int64
	LastMessageAt  time.Time // zero when no message was ever received
}

// Listener is one inbound endpoint as shown on the page, e.g.
// {"smtp", "127.0.0.1:2525", true}.
type Listener struct {
	Name string
	Addr string
	Up   bool
}

// IMAPAccount is one polled IMAP account as shown on the page. Name is the
// name the administrator gave the account; nothing else about the mailbox
// (no user name, no address) reaches the page.
type IMAPAccount struct {
	Name      string
	Connected bool
	LastPoll  time.Time // last cycle that read every mailbox; zero when none yet
	Fetched   int64     // messages committed since start
	Errors    int64     // failed cycles and connection attempts since start
	Skipped   int64     // messages the server would not return, left in the mailbox
	// MoveRefused: the server refuses the move to processed_mailbox; filed
	// mail is marked \Seen in place instead.
	MoveRefused bool
	// The last error: the step that failed ("login", "connect", "tls" …;
	// "" when unknown) and when. Its text stays in the log: it can carry
	// the user name.
	LastErrorStep string
	LastErrorAt   time.Time
}

// imapRow is an IMAPAccount preformatted for the template.
type imapRow struct {
	Name      string
	Connected bool
	LastPoll  string // "12 s ago", "never"
	Fetched   int64
	Errors    int64
	Skipped   int64
	LastError string // "login failed, 3 min ago"; "" without errors
}

// card is one count in the "Requests and mail" grid.
type card struct {
	Value int64
	Label string // "open requests", "1 open request"
	Warn  bool
	Hint  string // a command to run, shown when Warn
}

//go:embed status.html
var statusHTML string

var statusTmpl = template.Must(template.New("status.html").Parse(statusHTML))

// statusPage is the template's data. Every field is preformatted so the
// template stays free of logic beyond if/range.
type statusPage struct {
	Level     string // "ok", "warn" or "down": the colour of the headline
	Headline  string
	Version   string
	Uptime    string
	Now       string
	DBDown    bool
	Stats     Stats
	Cards     []card
	LastMsg   string
	Listeners []Listener
	IMAP      []imapRow
}

// buildPage turns the inputs into the page model. statsErr non-nil means
// the database could not be read; st is then ignored.
func buildPage(version string, started, now time.Time, st Stats, statsErr error, ls []Listener, imap []IMAPAccount) statusPage {
	p := statusPage{
		Version:   version,
		Uptime:    humanDuration(now.Sub(started)),
		Now:       now.Format("2006-01-02 15:04 MST"),
		Listeners: ls,
	}
	if p.Version == "" {
		p.Version = "unknown"
	}
	down := 0
	for _, l := range ls {
		if !l.Up {
			down++
		}
	}
	offline, failing, unmoved, skipped := 0, 0, 0, int64(0)
	for _, a := range imap {
		switch {
		case !a.Connected:
			offline++
		case a.Errors > 0 && (a.LastPoll.IsZero() || a.LastErrorAt.After(a.LastPoll)):
			// Connected, but the last error is newer than the last poll
			// of every mailbox (one the server will not open, say).
			failing++
		}
		skipped += a.Skipped
		if a.MoveRefused {
			unmoved++
		}
		p.IMAP = append(p.IMAP, imapRow{Name: a.Name, Connected: a.Connected, LastPoll: ago(a.LastPoll, now),
			Fetched: a.Fetched, Errors: a.Errors, Skipped: a.Skipped, LastError: lastError(a, now)})
	}
	switch {
	case statsErr != nil:
		p.Level, p.Headline, p.DBDown = "down", "Database unavailable", true
	case down > 0:
		p.Level, p.Headline = "warn", plural(down, "listener", "listeners")+" down"
	case offline > 0:
		p.Level, p.Headline = "warn", plural(offline, "IMAP account", "IMAP accounts")+" not connected"
	case failing > 0:
		p.Level, p.Headline = "warn", plural(failing, "IMAP account", "IMAP accounts")+" failing"
	case unmoved > 0:
		p.Level, p.Headline = "warn", plural(unmoved, "IMAP account cannot", "IMAP accounts cannot")+" move filed mail to processed_mailbox: see the log"
	case skipped > 0:
		p.Level, p.Headline = "warn", plural64(skipped, "message", "messages")+" left in an IMAP mailbox: see the log"
	case st.HeldMessages > 0:
		p.Level, p.Headline = "warn", plural64(st.HeldMessages, "held message needs", "held messages need")+" a look"
	default:
		p.Level, p.Headline = "ok", "All systems normal"
	}
	if statsErr == nil {
		p.Stats = st
		p.Cards = cards(st)
		p.LastMsg = lastMessage(st.LastMessageAt, now)
	}
	return p
}

// cards are the counts of the page, each labelled in the singular or the
// plural its value needs.
func cards(st Stats) []card {
	label := func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	}
	return []card{
		{Value: st.OpenRequests, Label: label(st.OpenRequests, "open request", "open requests")},
		{Value: st.ClosedRequests, Label: label(st.ClosedRequests, "closed request", "closed requests")},
		{Value: st.MessagesToday, Label: label(st.MessagesToday, "message today", "messages today")},
		{Value: st.TotalMessages, Label: label(st.TotalMessages, "message in total", "messages in total")},
		{Value: st.HeldMessages, Label: label(st.HeldMessages, "held message", "held messages"),
			Warn: st.HeldMessages > 0, Hint: "tikkitd held --json"},
		{Value: st.OutboxQueued, Label: "outbound waiting"},
		{Value: st.OutboxSent, Label: "outbound sent"},
		{Value: st.OutboxHeld, Label: "outbound held back (limits)"},
		{Value: st.OutboxFailed, Label: "outbound failed", Warn: st.OutboxFailed > 0, Hint: "tikkitd outbox --json"},
	}
}

// lastError says which step of an account failed last, and when: "login
// failed, 3 min ago". The error's text is not shown: it can name the user.
func lastError(a IMAPAccount, now time.Time) string {
	if a.Errors == 0 || a.LastErrorAt.IsZero() {
		return ""
	}
	step := "error"
	if isStep(a.LastErrorStep) {
		step = a.LastErrorStep + " failed"
	}
	return step + ", " + ago(a.LastErrorAt, now)
}

// isStep reports whether s is a step name ("login", "connect" …): a short
// lower-case word, nothing that could carry a name or an address.
func isStep(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// lastMessage formats the time of the last inbound message with how long
// ago it was: "2026-05-01 14:03 CEST (5 min ago)".
func lastMessage(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	ago := now.Sub(t)
	if ago < 0 {
		ago = 0
	}
	rel := "just now"
	if ago >= time.Minute {
		rel = humanDuration(ago) + " ago"
	}
	return t.In(now.Location()).Format("2006-01-02 15:04 MST") + " (" + rel + ")"
}

// ago says how long before now t was: "12 s ago", "3 h 5 min ago", "never".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return humanDuration(now.Sub(t)) + " ago"
}

// humanDuration formats d coarsely for people: "45 s", "12 min",
// "3 h 12 min", "2 d 5 h".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%d d %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

func plural(n int, one, many string) string { return plural64(int64(n), one, many) }

func plural64(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
