package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// TestMigrateFrom001 builds a database from the frozen schema of migration
// 001 with one row in every table, opens it with Open (which migrates it
// forward) and checks that every row survived and the new tables work.
func TestMigrateFrom001(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	schema, err := os.ReadFile("testdata/schema-001.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sqlx.Open("sqlite3", "file:"+filepath.Join(dir, "tikkit.db")+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 5, 9, 30, 0, 0, time.UTC)
	for _, st := range []struct {
		q    string
		args []any
	}{
		{q: string(schema)},
		{`INSERT INTO people (id, email, name, kind, status, created_via, is_admin, undeliverable, created_at)
			VALUES (1, 'jane@example.org', 'Jane', 'occupant', 'pending', 'email', 0, 1, ?)`, []any{at}},
		{`INSERT INTO requests (id, number, subject, norm_subject, state, priority, requester_id, creator_id, thread_key, created_at, updated_at)
			VALUES (1, 1001, 'Leak', 'leak', 'open', 'high', 1, 1, 'tk', ?, ?)`, []any{at, at}},
		{`INSERT INTO followers (request_id, person_id, reason, created_at) VALUES (1, 1, 'requester', ?)`, []any{at}},
		{`INSERT INTO raw_messages (sha256, size, data, in_blobs, received_at) VALUES ('abc', 3, x'616263', 0, ?)`, []any{at}},
		{`INSERT INTO messages (id, message_id, request_id, author_id, from_email, subject, body_text, visible_text, outcome, raw_sha256, received_at)
			VALUES (1, 'm1@example.org', 1, 1, 'jane@example.org', 'Leak', 'It drips.', 'It drips.', 'created', 'abc', ?)`, []any{at}},
		{`INSERT INTO attachments (message_id, name, content_type, size, sha256) VALUES (1, 'leak.jpg', 'image/jpeg', 10, 'def')`, nil},
		{`INSERT INTO deliveries (raw_sha256, message_id, source, outcome, received_at) VALUES ('abc', 'm1@example.org', 'smtp', 'created', ?)`, []any{at}},
		{`INSERT INTO events (request_id, person_id, message_id, kind, detail, created_at) VALUES (1, 1, 1, 'created', 'by mail', ?)`, []any{at}},
	} {
		if _, err := old.Exec(st.q, st.args...); err != nil {
			t.Fatalf("%.60s: %v", st.q, err)
		}
	}
	old.Close()

	s, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open migrates: %v", err)
	}
	defer s.Close()
	var version int
	if err := s.DB().Get(&version, "SELECT MAX(version) FROM schema_migrations"); err != nil || version != SchemaVersion() {
		t.Errorf("schema version %d (%v), want %d", version, err, SchemaVersion())
	}

	p, err := s.PersonByEmail(ctx, "jane@example.org")
	if err != nil || p.Name != "Jane" || p.Status != "pending" || !p.Undeliverable || !p.CreatedAt.Equal(at) {
		t.Errorf("person %+v, %v", p, err)
	}
	r, err := s.RequestByNumber(ctx, 1001)
	if err != nil || r.Subject != "Leak" || r.Priority != "high" || r.ThreadKey != "tk" || r.LocationID.Valid {
		t.Errorf("request %+v, %v", r, err)
	}
	if reason, err := s.FollowerReason(ctx, r.ID, p.ID); err != nil || reason != "requester" {
		t.Errorf("follower %q, %v", reason, err)
	}
	if raw, err := s.Raw(ctx, "abc"); err != nil || string(raw) != "abc" {
		t.Errorf("raw %q, %v", raw, err)
	}
	m, err := s.MessageByID(ctx, 1)
	if err != nil || m.MessageID != "m1@example.org" || m.VisibleText != "It drips." {
		t.Errorf("message %+v, %v", m, err)
	}
	if as, err := s.Attachments(ctx, 1); err != nil || len(as) != 1 || as[0].Name != "leak.jpg" {
		t.Errorf("attachments %+v, %v", as, err)
	}
	if st, err := s.Stats(ctx, at.Add(-time.Hour)); err != nil || st.MessagesToday != 1 || st.OpenRequests != 1 {
		t.Errorf("stats %+v, %v", st, err)
	}
	if es, err := s.RequestEvents(ctx, r.ID); err != nil || len(es) != 1 || es[0].Detail != "by mail" {
		t.Errorf("events %+v, %v", es, err)
	}

	// The old rows work with the new tables.
	loc, err := s.AddLocation(ctx, "Tower A/Suite 201", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetRequestLocation(ctx, r.ID, sql.NullInt64{Int64: loc.ID, Valid: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddGrant(ctx, Grant{PersonID: nullInt(p.ID), LocationID: nullInt(loc.ID)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddLabel(ctx, r.ID, "plumbing"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RequestByNumber(ctx, 1001); err != nil || r.LocationID.Int64 != loc.ID {
		t.Errorf("location not set: %+v %v", r, err)
	}
	if _, err := s.PersonByEmail(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing person: %v", err)
	}
}
