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
}

// imapRow is an IMAPAccount preformatted for the template.
type imapRow struct {
	Name      string
	Connected bool
	LastPoll  string // "12 s ago", "never"
	Fetched   int64
	Errors    int64
	Skipped   int64
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
	offline := 0
	for _, a := range imap {
		if !a.Connected {
			offline++
		}
		p.IMAP = append(p.IMAP, imapRow{Name: a.Name, Connected: a.Connected, LastPoll: ago(a.LastPoll, now),
			Fetched: a.Fetched, Errors: a.Errors, Skipped: a.Skipped})
	}
	switch {
	case statsErr != nil:
		p.Level, p.Headline, p.DBDown = "down", "Database unavailable", true
	case down > 0:
		p.Level, p.Headline = "warn", plural(down, "listener", "listeners")+" down"
	case offline > 0:
		p.Level, p.Headline = "warn", plural(offline, "IMAP account", "IMAP accounts")+" not connected"
	case st.HeldMessages > 0:
		p.Level, p.Headline = "warn", plural64(st.HeldMessages, "held message", "held messages")+" need a look"
	default:
		p.Level, p.Headline = "ok", "All systems normal"
	}
	if statsErr == nil {
		p.Stats = st
		p.LastMsg = lastMessage(st.LastMessageAt, now)
	}
	return p
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
