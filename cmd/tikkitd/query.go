package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tikkit/tikkit/mailin"
	"github.com/tikkit/tikkit/store"
)

// The JSON views of DESIGN §6. Field names are an interface: scripts rely on them.
type personRef struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

type followerView struct {
	Email  string `json:"email"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

type attachmentView struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentID   string `json:"content_id"`
	Inline      bool   `json:"inline"`
	Stored      bool   `json:"stored"`
}

type messageView struct {
	MessageID   string           `json:"message_id"`
	From        personRef        `json:"from"`
	Subject     string           `json:"subject"`
	Date        *time.Time       `json:"date,omitempty"`
	VisibleText string           `json:"visible_text"`
	BodyText    string           `json:"body_text"`
	HTML        string           `json:"html,omitempty"`
	Internal    bool             `json:"internal"`
	Auto        bool             `json:"auto"`
	Outcome     string           `json:"outcome"`
	Problems    []string         `json:"problems,omitempty"` // what the parser had to work around
	Attachments []attachmentView `json:"attachments"`
}

type eventView struct {
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

type requestView struct {
	Number    int64     `json:"number"`
	Subject   string    `json:"subject"`
	State     string    `json:"state"`
	Priority  string    `json:"priority"`
	Location  *string   `json:"location"`
	Labels    []string  `json:"labels"`
	Requester personRef `json:"requester"`
	// RequesterPending: the requester's account awaits approval.
	RequesterPending bool           `json:"requester_pending"`
	Creator          personRef      `json:"creator"`
	Followers        []followerView `json:"followers"`
	Messages         []messageView  `json:"messages,omitempty"`
	Events           []eventView    `json:"events,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

type personView struct {
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Kind          string    `json:"kind"`
	Status        string    `json:"status"`
	CreatedVia    string    `json:"created_via"`
	Admin         bool      `json:"admin"`
	Undeliverable bool      `json:"undeliverable"`
	CreatedAt     time.Time `json:"created_at"`
}

type heldView struct {
	ID         int64     `json:"id"`
	MessageID  string    `json:"message_id"`
	From       personRef `json:"from"`
	Subject    string    `json:"subject"`
	Reason     string    `json:"reason"`
	Source     string    `json:"source"`
	RawSHA256  string    `json:"raw_sha256"`
	ReceivedAt time.Time `json:"received_at"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func personOf(ctx context.Context, q store.Q, id int64) personRef {
	p, err := q.PersonByID(ctx, id)
	if err != nil {
		return personRef{}
	}
	return personRef{Email: p.Email, Name: p.Name}
}

func buildRequest(ctx context.Context, q store.Q, r store.Request, full bool) (requestView, error) {
	v := requestView{Number: r.Number, Subject: r.Subject, State: r.State, Priority: r.Priority,
		Requester: personOf(ctx, q, r.RequesterID), Creator: personOf(ctx, q, r.CreatorID),
		Followers: []followerView{}, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.LocationID.Valid {
		if l, err := q.LocationByID(ctx, r.LocationID.Int64); err == nil {
			v.Location = &l.Path
		} else if !errors.Is(err, store.ErrNotFound) {
			return v, err
		}
	}
	labels, err := q.Labels(ctx, r.ID)
	if err != nil {
		return v, err
	}
	v.Labels = append([]string{}, labels...)
	if p, err := q.PersonByID(ctx, r.RequesterID); err == nil {
		v.RequesterPending = p.Status == "pending"
	}
	fs, err := q.Followers(ctx, r.ID)
	if err != nil {
		return v, err
	}
	for _, f := range fs {
		v.Followers = append(v.Followers, followerView{Email: f.Email, Name: f.Name, Reason: f.Reason})
	}
	if !full {
		return v, nil
	}
	ms, err := q.RequestMessages(ctx, r.ID)
	if err != nil {
		return v, err
	}
	v.Messages = []messageView{}
	for _, m := range ms {
		mv := messageView{MessageID: m.MessageID, From: personRef{Email: m.FromEmail, Name: m.FromName}, Subject: m.Subject,
			VisibleText: m.VisibleText, BodyText: m.BodyText, HTML: m.HTML, Internal: m.Internal, Auto: m.Auto,
			Outcome: m.Outcome, Attachments: []attachmentView{}}
		if m.Problems != "" {
			mv.Problems = strings.Split(m.Problems, "\n")
		}
		if m.SentAt.Valid {
			t := m.SentAt.Time
			mv.Date = &t
		}
		as, err := q.Attachments(ctx, m.ID)
		if err != nil {
			return v, err
		}
		for _, a := range as {
			mv.Attachments = append(mv.Attachments, attachmentView{Name: a.Name, ContentType: a.ContentType, Size: a.Size,
				SHA256: a.SHA256, ContentID: a.ContentID, Inline: a.Inline, Stored: a.Stored})
		}
		v.Messages = append(v.Messages, mv)
	}
	es, err := q.RequestEvents(ctx, r.ID)
	if err != nil {
		return v, err
	}
	for _, e := range es {
		v.Events = append(v.Events, eventView{Kind: e.Kind, Detail: e.Detail, At: e.CreatedAt})
	}
	return v, nil
}

func cmdRequests(args []string, stdout, stderr io.Writer) int {
	c := newCommon("requests", stderr).withJSON()
	st, code, ok := c.openForRead(args, stderr)
	if !ok {
		return code
	}
	defer st.Close()
	ctx := context.Background()
	rs, err := st.Requests(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitTempFail
	}
	views := []requestView{}
	for _, r := range rs {
		v, err := buildRequest(ctx, st.Q, r, false)
		if err != nil {
			fmt.Fprintf(stderr, "tikkitd: %v\n", err)
			return exitTempFail
		}
		views = append(views, v)
	}
	return printViews(stdout, c.json, views, "NUMBER\tSTATE\tREQUESTER\tSUBJECT", func(tw io.Writer, v requestView) {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", v.Number, v.State, v.Requester.Email, v.Subject)
	})
}

func cmdRequest(args []string, stdout, stderr io.Writer) int {
	c := newCommon("request", stderr).withJSON()
	c.readOnly = true
	if code, done := c.parse(args, stderr, slog.LevelWarn); done {
		return code
	}
	if len(c.args) != 2 || c.args[0] != "show" {
		fmt.Fprintln(stderr, "usage: tikkitd request show N [--json]")
		return exitUsage
	}
	n, err := strconv.ParseInt(c.args[1], 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %q is not a request number\n", c.args[1])
		return exitUsage
	}
	st, ok := c.openStore(stderr)
	if !ok {
		return c.storeFailure()
	}
	defer st.Close()
	ctx := context.Background()
	r, err := st.RequestByNumber(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(stderr, "tikkitd: no request %d\n", n)
		return exitNoInput
	} else if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitTempFail
	}
	v, err := buildRequest(ctx, st.Q, r, true)
	if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitTempFail
	}
	if c.json {
		writeJSON(stdout, v)
		return exitOK
	}
	fmt.Fprintf(stdout, "[%s%d] %s\nstate: %s  priority: %s\nrequester: %s", c.cfg.Mail.SubjectTagPrefix, v.Number, v.Subject, v.State, v.Priority, v.Requester.Email)
	if v.RequesterPending {
		fmt.Fprint(stdout, " (pending approval)")
	}
	fmt.Fprintf(stdout, "\ncreator: %s\n", v.Creator.Email)
	if v.Location != nil {
		fmt.Fprintf(stdout, "location: %s\n", *v.Location)
	}
	if len(v.Labels) > 0 {
		fmt.Fprintf(stdout, "labels: %s\n", strings.Join(v.Labels, ", "))
	}
	for _, f := range v.Followers {
		fmt.Fprintf(stdout, "follower: %s (%s)\n", f.Email, f.Reason)
	}
	for _, m := range v.Messages {
		var marks string
		if m.Internal {
			marks += " (internal note)"
		}
		if m.Auto {
			marks += " (automatic)"
		}
		fmt.Fprintf(stdout, "\n--- %s <%s>%s\n%s\n", m.From.Name, m.From.Email, marks, m.VisibleText)
		for _, a := range m.Attachments {
			fmt.Fprintf(stdout, "  attachment: %s (%s, %d bytes)\n", a.Name, a.ContentType, a.Size)
		}
	}
	return exitOK
}

func cmdPeople(args []string, stdout, stderr io.Writer) int {
	c := newCommon("people", stderr).withJSON()
	st, code, ok := c.openForRead(args, stderr)
	if !ok {
		return code
	}
	defer st.Close()
	ps, err := st.People(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitTempFail
	}
	views := []personView{}
	for _, p := range ps {
		views = append(views, personView{Email: p.Email, Name: p.Name, Kind: p.Kind, Status: p.Status, CreatedVia: p.CreatedVia,
			Admin: p.IsAdmin, Undeliverable: p.Undeliverable, CreatedAt: p.CreatedAt})
	}
	return printViews(stdout, c.json, views, "EMAIL\tNAME\tKIND\tSTATUS\tCREATED VIA", func(tw io.Writer, v personView) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Email, v.Name, v.Kind, v.Status, v.CreatedVia)
	})
}

func cmdHeld(args []string, stdout, stderr io.Writer) int {
	c := newCommon("held", stderr).withJSON()
	st, code, ok := c.openForRead(args, stderr)
	if !ok {
		return code
	}
	defer st.Close()
	ms, err := st.HeldMessages(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitTempFail
	}
	views := []heldView{}
	for _, m := range ms {
		views = append(views, heldView{ID: m.ID, MessageID: m.MessageID, From: personRef{Email: m.FromEmail, Name: m.FromName},
			Subject: m.Subject, Reason: m.Reason, Source: m.Source, RawSHA256: m.RawSHA256, ReceivedAt: m.ReceivedAt})
	}
	return printViews(stdout, c.json, views, "ID\tRECEIVED\tFROM\tREASON", func(tw io.Writer, v heldView) {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", v.ID, v.ReceivedAt.Format(time.DateTime), v.From.Email, v.Reason)
	})
}

func cmdReprocess(args []string, stdout, stderr io.Writer) int {
	c := newCommon("reprocess", stderr)
	c.readOnly = true
	var all bool
	c.fs.BoolVar(&all, "all", false, "reprocess every held message")
	if code, done := c.parse(args, stderr, slog.LevelWarn); done {
		return code
	}
	if all == (len(c.args) > 0) {
		fmt.Fprintln(stderr, "usage: tikkitd reprocess ID... | --all")
		return exitUsage
	}
	st, ok := c.openStore(stderr)
	if !ok {
		return c.storeFailure()
	}
	defer st.Close()
	ctx := context.Background()
	var ids []int64
	if all {
		ms, err := st.HeldMessages(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "tikkitd: %v\n", err)
			return exitTempFail
		}
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
	}
	for _, a := range c.args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "tikkitd: %q is not a held message id (see tikkitd held)\n", a)
			return exitUsage
		}
		ids = append(ids, id)
	}
	signer, ok := c.signer(stderr)
	if !ok {
		return exitTempFail
	}
	in := mailin.NewIngester(st, c.ingestOptions(signer))
	defer in.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	code := exitOK
	for _, id := range ids {
		res, err := in.Reprocess(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			fmt.Fprintf(stderr, "tikkitd: reprocess: no message %d (see tikkitd held)\n", id)
			code = exitNoInput
			continue
		case errors.Is(err, mailin.ErrNotHeld):
			fmt.Fprintf(stderr, "tikkitd: reprocess: %v; only held or refused messages can be reprocessed\n", err)
			code = exitUsage
			continue
		case err != nil:
			fmt.Fprintf(stderr, "tikkitd: reprocess %d: %v\n", id, err)
			code = exitTempFail
			continue
		}
		enc.Encode(struct {
			ID int64 `json:"id"`
			mailin.Result
		}{id, res})
	}
	return code
}

// outboxView is one line of `tikkitd outbox --json` (DESIGN §6).
type outboxView struct {
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	MessageID string     `json:"message_id"`
	Kind      string     `json:"kind"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	Request   int64      `json:"request,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

func cmdOutbox(args []string, stdout, stderr io.Writer) int {
	c := newCommon("outbox", stderr).withJSON()
	var limit int
	c.fs.IntVar(&limit, "n", 200, "show at most this many, newest first")
	st, code, ok := c.openForRead(args, stderr)
	if !ok {
		return code
	}
	defer st.Close()
	ctx := context.Background()
	rows, err := st.Outbox(ctx, limit)
	if err != nil {
		fmt.Fprintf(stderr, "tikkitd: %v\n", err)
		return exitTempFail
	}
	views := []outboxView{}
	for _, r := range rows {
		v := outboxView{To: r.ToEmail, Subject: r.Subject, MessageID: r.OutMessageID, Kind: r.Kind, Status: r.Status,
			Attempts: r.Attempts, LastError: r.LastError, CreatedAt: r.CreatedAt}
		if r.RequestID.Valid {
			if req, err := st.RequestByID(ctx, r.RequestID.Int64); err == nil {
				v.Request = req.Number
			}
		}
		if r.SentAt.Valid {
			t := r.SentAt.Time
			v.SentAt = &t
		}
		views = append(views, v)
	}
	return printViews(stdout, c.json, views, "CREATED\tSTATUS\tTRIES\tKIND\tTO\tSUBJECT", func(tw io.Writer, v outboxView) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", v.CreatedAt.Format(time.DateTime), v.Status, v.Attempts, v.Kind, v.To, v.Subject)
	})
}

// openForRead parses a read command's arguments and opens the existing
// database; ok false means exit with code.
func (c *common) openForRead(args []string, stderr io.Writer) (*store.Store, int, bool) {
	c.readOnly = true
	if code, done := c.parse(args, stderr, slog.LevelWarn); done {
		return nil, code, false
	}
	st, ok := c.openStore(stderr)
	if !ok {
		return nil, c.storeFailure(), false
	}
	return st, exitOK, true
}

// printViews writes views as indented JSON, or as a table with header
// (tab-separated columns) and one row written by row for each view.
func printViews[T any](w io.Writer, asJSON bool, views []T, header string, row func(tw io.Writer, v T)) int {
	if asJSON {
		writeJSON(w, views)
		return exitOK
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, v := range views {
		row(tw, v)
	}
	tw.Flush()
	return exitOK
}
