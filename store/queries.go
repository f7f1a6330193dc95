package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

func now() time.Time { return time.Now().UTC() }

func nullInt(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: v != 0} }

// PersonByEmail looks a person up by normalised address.
func (q Q) PersonByEmail(ctx context.Context, email string) (Person, error) {
	var p Person
	err := q.get(ctx, &p, "person-by-email", email)
	return p, err
}

// PersonByID looks a person up by id.
func (q Q) PersonByID(ctx context.Context, id int64) (Person, error) {
	var p Person
	err := q.get(ctx, &p, "person-by-id", id)
	return p, err
}

// InsertPerson creates a person and returns it with its id.
func (q Q) InsertPerson(ctx context.Context, p Person) (Person, error) {
	if p.Kind == "" {
		p.Kind = "occupant"
	}
	if p.Status == "" {
		p.Status = "active"
	}
	p.CreatedAt = now()
	id, err := q.insert(ctx, "insert-person", p.Email, p.Name, p.Kind, p.Status, p.CreatedVia, p.IsAdmin, p.CreatedAt)
	p.ID = id
	return p, err
}

// SetPersonNameIfEmpty fills in a name we learn later.
func (q Q) SetPersonNameIfEmpty(ctx context.Context, id int64, name string) error {
	_, err := q.exec(ctx, "set-person-name", name, id)
	return err
}

// SetUndeliverable marks (or clears) an address as undeliverable.
func (q Q) SetUndeliverable(ctx context.Context, id int64, v bool) error {
	_, err := q.exec(ctx, "set-person-undeliverable", v, id)
	return err
}

// People lists everyone.
func (q Q) People(ctx context.Context) ([]Person, error) {
	var ps []Person
	err := q.sel(ctx, &ps, "list-people")
	return ps, err
}

// RequestByNumber looks a request up by its number.
func (q Q) RequestByNumber(ctx context.Context, n int64) (Request, error) {
	var r Request
	err := q.get(ctx, &r, "request-by-number", n)
	return r, err
}

// RequestByID looks a request up by id.
func (q Q) RequestByID(ctx context.Context, id int64) (Request, error) {
	var r Request
	err := q.get(ctx, &r, "request-by-id", id)
	return r, err
}

// Requests lists every request by number.
func (q Q) Requests(ctx context.Context) ([]Request, error) {
	var rs []Request
	err := q.sel(ctx, &rs, "list-requests")
	return rs, err
}

// InsertRequest creates a request with the next number (at least first).
func (q Q) InsertRequest(ctx context.Context, r Request, first int64) (Request, error) {
	if r.Priority == "" {
		r.Priority = "normal"
	}
	r.State = "open"
	r.CreatedAt = now()
	r.UpdatedAt = r.CreatedAt
	err := q.stmt("insert-request").QueryRowxContext(ctx, first, first, r.Subject, r.NormSubject, r.Priority,
		r.RequesterID, r.CreatorID, r.ThreadKey, r.CreatedAt, r.UpdatedAt).Scan(&r.ID, &r.Number)
	if err != nil {
		return r, fmt.Errorf("store: insert-request: %w", err)
	}
	return r, nil
}

// TouchRequest records activity on a request.
func (q Q) TouchRequest(ctx context.Context, id int64) error {
	_, err := q.exec(ctx, "touch-request", now(), id)
	return err
}

// SetThreadKey records the Outlook conversation key once.
func (q Q) SetThreadKey(ctx context.Context, id int64, key string) error {
	_, err := q.exec(ctx, "set-request-thread-key", key, id)
	return err
}

// RequestsByThreadKey finds requests of an Outlook conversation, newest first.
func (q Q) RequestsByThreadKey(ctx context.Context, key string) ([]Request, error) {
	var rs []Request
	err := q.sel(ctx, &rs, "requests-by-thread-key", key)
	return rs, err
}

// OpenRequestsBySubject finds a requester's open requests with this
// normalised subject active since the given time, newest first.
func (q Q) OpenRequestsBySubject(ctx context.Context, requester int64, norm string, since time.Time) ([]Request, error) {
	var rs []Request
	err := q.sel(ctx, &rs, "open-requests-by-subject", requester, norm, since.UTC())
	return rs, err
}

// FollowerReason returns why the person follows the request, or ErrNotFound.
func (q Q) FollowerReason(ctx context.Context, request, person int64) (string, error) {
	var reason string
	err := q.get(ctx, &reason, "follower", request, person)
	return reason, err
}

// AddFollower adds a follower unless already following; reports whether it was added.
func (q Q) AddFollower(ctx context.Context, request, person int64, reason string) (bool, error) {
	n, err := q.exec(ctx, "insert-follower", request, person, reason, now())
	return n > 0, err
}

// Followers lists a request's followers.
func (q Q) Followers(ctx context.Context, request int64) ([]Follower, error) {
	var fs []Follower
	err := q.sel(ctx, &fs, "request-followers", request)
	return fs, err
}

// PutRaw records a raw message: inline bytes, or inBlobs when the bytes are
// already in the blob store. Storing the same bytes twice is a no-op.
func (q Q) PutRaw(ctx context.Context, sha string, size int64, data []byte, inBlobs bool) error {
	if inBlobs {
		data = nil
	}
	_, err := q.exec(ctx, "insert-raw", sha, size, data, inBlobs, now())
	return err
}

// Raw returns the bytes of a stored raw message.
func (q Q) Raw(ctx context.Context, sha string) ([]byte, error) {
	var row struct {
		SHA     string `db:"sha256"`
		Size    int64  `db:"size"`
		Data    []byte `db:"data"`
		InBlobs bool   `db:"in_blobs"`
	}
	if err := q.get(ctx, &row, "raw-by-sha", sha); err != nil {
		return nil, err
	}
	if !row.InBlobs {
		return row.Data, nil
	}
	f, err := q.s.Blobs.Open(sha)
	if err != nil {
		return nil, fmt.Errorf("store: raw %s: %w", sha, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("store: raw %s: %w", sha, err)
	}
	return b, nil
}

// MessageByMessageID finds a stored message by Message-ID.
func (q Q) MessageByMessageID(ctx context.Context, msgid string) (MessageRef, error) {
	var m MessageRef
	err := q.get(ctx, &m, "message-by-message-id", msgid)
	return m, err
}

// RequestForMessageIDs returns the request of the newest stored message
// whose Message-ID is among ids or, when none is, of the newest outbox
// mail among them (a reply to mail we sent).
func (q Q) RequestForMessageIDs(ctx context.Context, ids []string) (int64, error) {
	if len(ids) == 0 {
		return 0, ErrNotFound
	}
	if len(ids) > 200 {
		ids = ids[len(ids)-200:]
	}
	query, args, err := sqlx.In(`SELECT request_id FROM (
		SELECT request_id, 0 AS src, id FROM messages WHERE message_id IN (?) AND request_id IS NOT NULL
		UNION ALL
		SELECT request_id, 1 AS src, id FROM outbox WHERE out_message_id IN (?) AND request_id IS NOT NULL
	) refs ORDER BY src, id DESC LIMIT 1`, ids, ids)
	if err != nil {
		return 0, err
	}
	var id int64
	err = sqlx.GetContext(ctx, q.ext, &id, q.ext.Rebind(query), args...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: request for message ids: %w", err)
	}
	return id, nil
}

// InsertMessage stores a message and returns its id.
func (q Q) InsertMessage(ctx context.Context, m Message) (int64, error) {
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = now()
	}
	if m.Direction == "" {
		m.Direction = "in"
	}
	visible := m.VisibleText
	if visible != "" && visible == strings.TrimSpace(m.BodyText) {
		visible = sameAsBody // most new mail: nothing folded, no need to write it twice
	}
	return q.insert(ctx, "insert-message", m.MessageID, m.SyntheticID, m.RequestID, m.Direction, m.AuthorID, m.FromEmail,
		m.FromName, m.Subject, m.SentAt, m.BodyText, m.TextFrom, visible, m.HTML, m.Internal, m.Auto, m.Class,
		m.Outcome, m.Reason, m.Problems, m.ThreadIndex, m.RawSHA256, m.Source, m.ReceivedAt, m.ContentHash)
}

// MessageByID returns one message.
func (q Q) MessageByID(ctx context.Context, id int64) (Message, error) {
	var m Message
	err := q.get(ctx, &m, "message-by-id", id)
	m.expand()
	return m, err
}

// RequestMessages lists a request's messages in order.
func (q Q) RequestMessages(ctx context.Context, request int64) ([]Message, error) {
	var ms []Message
	err := q.sel(ctx, &ms, "request-messages", request)
	expandAll(ms)
	return ms, err
}

// HeldMessages lists messages kept without a request.
func (q Q) HeldMessages(ctx context.Context) ([]Message, error) {
	var ms []Message
	err := q.sel(ctx, &ms, "held-messages")
	expandAll(ms)
	return ms, err
}

// DeleteMessage removes a message with its attachments and events (for reprocessing).
func (q Q) DeleteMessage(ctx context.Context, id int64) error {
	for _, name := range []string{"delete-message-attachments", "delete-message-events", "delete-message"} {
		if _, err := q.exec(ctx, name, id); err != nil {
			return err
		}
	}
	return nil
}

// InsertAttachment stores an attachment row.
func (q Q) InsertAttachment(ctx context.Context, a Attachment) (int64, error) {
	return q.insert(ctx, "insert-attachment", a.MessageID, a.Name, a.ContentType, a.Size, a.SHA256, a.ContentID, a.Inline, a.Stored, a.FromTNEF)
}

// Attachments lists a message's attachments.
func (q Q) Attachments(ctx context.Context, message int64) ([]Attachment, error) {
	var as []Attachment
	err := q.sel(ctx, &as, "message-attachments", message)
	return as, err
}

// InsertDelivery logs one accepted delivery.
func (q Q) InsertDelivery(ctx context.Context, d Delivery) error {
	_, err := q.exec(ctx, "insert-delivery", d.RawSHA256, d.MessageID, d.Source, d.EnvelopeFrom, d.EnvelopeTo, d.Outcome, now())
	return err
}

// AddEvent records an event; zero ids are stored as NULL.
func (q Q) AddEvent(ctx context.Context, request, person, message int64, kind, detail string) error {
	_, err := q.insert(ctx, "insert-event", nullInt(request), nullInt(person), nullInt(message), kind, detail, now())
	return err
}

// RequestEvents lists a request's events.
func (q Q) RequestEvents(ctx context.Context, request int64) ([]Event, error) {
	var es []Event
	err := q.sel(ctx, &es, "request-events", request)
	return es, err
}

// Stats returns the aggregate numbers for the status page (no personal data).
func (q Q) Stats(ctx context.Context, since time.Time) (Stats, error) {
	var st Stats
	var rows []struct {
		State string `db:"state"`
		N     int64  `db:"n"`
	}
	if err := q.sel(ctx, &rows, "count-requests-by-state"); err != nil {
		return st, err
	}
	for _, r := range rows {
		switch r.State {
		case "open":
			st.OpenRequests = r.N
		case "closed":
			st.ClosedRequests = r.N
		}
	}
	if err := q.get(ctx, &st.MessagesToday, "count-deliveries-since", since.UTC()); err != nil {
		return st, err
	}
	if err := q.get(ctx, &st.HeldMessages, "count-held"); err != nil {
		return st, err
	}
	if err := q.get(ctx, &st.TotalMessages, "count-messages"); err != nil {
		return st, err
	}
	var last time.Time
	if err := q.get(ctx, &last, "last-delivery"); err == nil {
		st.LastMessageAt = last
	} else if !errors.Is(err, ErrNotFound) {
		return st, err
	}
	return st, nil
}

// FirstEnvelope returns the envelope sender recorded with the first
// delivery of a message: "<>" for the null sender, "" when unknown.
func (q Q) FirstEnvelope(ctx context.Context, msgid string) (string, error) {
	var env string
	err := q.get(ctx, &env, "first-envelope", msgid)
	return env, err
}

// RequestRootMessageID is the Message-ID of a request's first message: the
// root every mail about the request refers to, so clients keep one thread.
func (q Q) RequestRootMessageID(ctx context.Context, request int64) (string, error) {
	var id string
	err := q.get(ctx, &id, "request-root-message-id", request)
	return id, err
}

// SetFollowerReason changes why a person follows a request.
func (q Q) SetFollowerReason(ctx context.Context, request, person int64, reason string) error {
	_, err := q.exec(ctx, "set-follower-reason", reason, request, person)
	return err
}

// RemoveFollower stops a person following a request.
func (q Q) RemoveFollower(ctx context.Context, request, person int64) error {
	_, err := q.exec(ctx, "delete-follower", request, person)
	return err
}

// StaffEmails lists the addresses of all staff.
func (q Q) StaffEmails(ctx context.Context) ([]string, error) {
	var es []string
	err := q.sel(ctx, &es, "staff-emails")
	return es, err
}

// sameAsBody is stored as visible_text when the visible text is the whole
// body, trimmed; reads give the text back.
const sameAsBody = "\x00body"

func (m *Message) expand() {
	if m.VisibleText == sameAsBody {
		m.VisibleText = strings.TrimSpace(m.BodyText)
	}
}

func expandAll(ms []Message) {
	for i := range ms {
		ms[i].expand()
	}
}
