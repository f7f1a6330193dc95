package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// seedRequest makes a person and a request to hang outbox rows on.
func seedRequest(t *testing.T, s *Store) (Person, Request) {
	t.Helper()
	ctx := context.Background()
	var p Person
	var r Request
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if p, err = tx.InsertPerson(ctx, Person{Email: "jane@example.org", Name: "Jane", CreatedVia: "email"}); err != nil {
			return err
		}
		r, err = tx.InsertRequest(ctx, Request{Subject: "Leak", NormSubject: "leak", RequesterID: p.ID, CreatorID: p.ID}, 1001)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}

func enqueue(t *testing.T, s *Store, r OutboxRow) int64 {
	t.Helper()
	if r.Kind == "" {
		r.Kind = "ack"
	}
	if r.ToEmail == "" {
		r.ToEmail = "jane@example.org"
	}
	if r.Subject == "" {
		r.Subject = "[REQ-1001] Leak"
	}
	var id int64
	err := s.Update(context.Background(), func(tx *Tx) error {
		var err error
		id, err = tx.EnqueueMail(context.Background(), r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestEnqueueAndLookUp(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	p, r := seedRequest(t, s)
	id := enqueue(t, s, OutboxRow{RequestID: nullInt(r.ID), PersonID: nullInt(p.ID), OutMessageID: "<ack-1001.1@tikkit.example>",
		Refs: "a@b c@d", Data: `{"n":1001}`, Automatic: true})
	got, err := s.OutboxByMessageID(ctx, "ack-1001.1@tikkit.example")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Status != OutboxQueued || got.Attempts != 0 || got.RequestID.Int64 != r.ID || !got.Automatic ||
		got.Data != `{"n":1001}` || got.Refs != "a@b c@d" || got.ClaimedUntil.Valid || got.SentAt.Valid || got.NextAttemptAt.IsZero() {
		t.Errorf("row = %+v", got)
	}
	if _, err := s.OutboxByMessageID(ctx, "nope@x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	for name, bad := range map[string]OutboxRow{
		"no kind":       {ToEmail: "a@b", Subject: "s", OutMessageID: "x@y"},
		"no recipient":  {Kind: "ack", Subject: "s", OutMessageID: "x@y"},
		"no subject":    {Kind: "ack", ToEmail: "a@b", OutMessageID: "x@y"},
		"no message-id": {Kind: "ack", ToEmail: "a@b", Subject: "s", OutMessageID: "<>"},
	} {
		if _, err := s.EnqueueMail(ctx, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Message-IDs are unique.
	err = s.Update(ctx, func(tx *Tx) error {
		_, err := tx.EnqueueMail(ctx, OutboxRow{Kind: "ack", ToEmail: "a@b", Subject: "s", OutMessageID: "ack-1001.1@tikkit.example"})
		return err
	})
	if err == nil {
		t.Error("duplicate Message-ID accepted")
	}
}

func TestEnqueueRollsBackWithItsChange(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.EnqueueMail(ctx, OutboxRow{Kind: "ack", ToEmail: "a@b", Subject: "s", OutMessageID: "gone@x"}); err != nil {
			return err
		}
		return errors.New("the change failed")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if _, err := s.OutboxByMessageID(ctx, "gone@x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("row survived a rolled-back change: %v", err)
	}
}

func TestClaimLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	a := enqueue(t, s, OutboxRow{OutMessageID: "a@x", NextAttemptAt: t0, CreatedAt: t0})
	b := enqueue(t, s, OutboxRow{OutMessageID: "b@x", NextAttemptAt: t0.Add(time.Hour), CreatedAt: t0})

	if next, err := s.NextDue(ctx); err != nil || !next.Equal(t0) {
		t.Errorf("NextDue = %v, %v; want %v", next, err, t0)
	}
	rows, err := s.ClaimDue(ctx, t0, 5*time.Minute, 10)
	if err != nil || len(rows) != 1 || rows[0].ID != a {
		t.Fatalf("claim at t0 = %+v, %v; want only a", rows, err)
	}
	if r := rows[0]; r.Status != OutboxSending || r.Attempts != 1 || !r.ClaimedUntil.Time.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("claimed row = %+v", r)
	}
	// Within the lease nobody else gets it.
	if rows, _ := s.ClaimDue(ctx, t0.Add(4*time.Minute), 5*time.Minute, 10); len(rows) != 0 {
		t.Errorf("claimed within lease: %+v", rows)
	}
	// A crash mid-delivery: the lease expires and the row is due again.
	if next, err := s.NextDue(ctx); err != nil || !next.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("NextDue = %v, %v; want lease expiry", next, err)
	}
	rows, err = s.ClaimDue(ctx, t0.Add(5*time.Minute), 5*time.Minute, 10)
	if err != nil || len(rows) != 1 || rows[0].ID != a || rows[0].Attempts != 2 {
		t.Fatalf("reclaim after lease = %+v, %v", rows, err)
	}
	if err := s.MarkRetry(ctx, a, t0.Add(30*time.Minute), "451 try later"); err != nil {
		t.Fatal(err)
	}
	r, _ := s.OutboxByID(ctx, a)
	if r.Status != OutboxQueued || r.LastError != "451 try later" || r.ClaimedUntil.Valid || r.Attempts != 2 {
		t.Errorf("after retry: %+v", r)
	}
	rows, _ = s.ClaimDue(ctx, t0.Add(time.Hour), time.Minute, 10)
	if len(rows) != 2 || rows[0].ID != a || rows[1].ID != b {
		t.Fatalf("claim at t0+1h = %+v; want a, b", rows)
	}
	if err := s.MarkSent(ctx, a, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, b, "550 no such user"); err != nil {
		t.Fatal(err)
	}
	// A sent row stays sent.
	if err := s.MarkRetry(ctx, a, t0, "late"); !errors.Is(err, ErrNotFound) {
		t.Errorf("retry of a sent row: %v", err)
	}
	if err := s.MarkFailed(ctx, a, "late"); !errors.Is(err, ErrNotFound) {
		t.Errorf("fail of a sent row: %v", err)
	}
	r, _ = s.OutboxByID(ctx, a)
	if r.Status != OutboxSent || !r.SentAt.Time.Equal(t0.Add(time.Hour)) || r.LastError != "" {
		t.Errorf("sent row: %+v", r)
	}
	if r, _ := s.OutboxByID(ctx, b); r.Status != OutboxFailed || r.LastError != "550 no such user" {
		t.Errorf("failed row: %+v", r)
	}
	if rows, _ := s.ClaimDue(ctx, t0.Add(48*time.Hour), time.Minute, 10); len(rows) != 0 {
		t.Errorf("sent or failed rows claimed: %+v", rows)
	}
	if _, err := s.NextDue(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("NextDue with nothing waiting: %v", err)
	}
}

func TestUnclaim(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := enqueue(t, s, OutboxRow{OutMessageID: "a@x"})
	if rows, err := s.ClaimDue(ctx, time.Now(), time.Hour, 1); err != nil || len(rows) != 1 {
		t.Fatalf("claim: %v %v", rows, err)
	}
	if err := s.Unclaim(ctx, id); err != nil {
		t.Fatal(err)
	}
	r, _ := s.OutboxByID(ctx, id)
	if r.Status != OutboxQueued || r.Attempts != 0 || r.ClaimedUntil.Valid {
		t.Errorf("after unclaim: %+v", r)
	}
}

// TestClaimDueConcurrent runs several claimers against one queue: every row
// is claimed exactly once.
func TestClaimDueConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const rows = 200
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range rows {
			if _, err := tx.EnqueueMail(ctx, OutboxRow{Kind: "update", ToEmail: "a@b", Subject: "s", OutMessageID: fmt.Sprintf("m%d@x", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimDue(ctx, time.Now(), time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, r := range got {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != rows {
		t.Errorf("claimed %d distinct rows, want %d", len(seen), rows)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d claimed %d times", id, n)
		}
	}
}

func TestOutboxCountsAndList(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	t0 := time.Now().UTC().Add(-time.Hour)
	old := t0.Add(-48 * time.Hour)
	enqueue(t, s, OutboxRow{OutMessageID: "1@x", Automatic: true, CreatedAt: old})
	enqueue(t, s, OutboxRow{OutMessageID: "2@x", Automatic: true, CreatedAt: t0})
	enqueue(t, s, OutboxRow{OutMessageID: "3@x", Automatic: false, CreatedAt: t0})
	enqueue(t, s, OutboxRow{OutMessageID: "4@x", Automatic: true, CreatedAt: t0, Status: OutboxSuppressed})
	enqueue(t, s, OutboxRow{OutMessageID: "5@x", Automatic: true, CreatedAt: t0, ToEmail: "bob@example.org"})
	failed := enqueue(t, s, OutboxRow{OutMessageID: "6@x", Automatic: true, CreatedAt: t0})
	if err := s.MarkFailed(ctx, failed, "550"); err != nil {
		t.Fatal(err)
	}
	since := t0.Add(-time.Minute)
	if n, err := s.CountAutomaticSince(ctx, "jane@example.org", since, 0); err != nil || n != 1 {
		t.Errorf("CountAutomaticSince = %d, %v; want 1 (not old, manual, suppressed, failed or other)", n, err)
	}
	if n, err := s.CountAllSince(ctx, since); err != nil || n != 3 {
		t.Errorf("CountAllSince = %d, %v; want 3", n, err)
	}
	c, err := s.OutboxCounts(ctx)
	if err != nil || c[OutboxQueued] != 4 || c[OutboxFailed] != 1 || c[OutboxSuppressed] != 1 || c[OutboxSent] != 0 {
		t.Errorf("OutboxCounts = %v, %v", c, err)
	}
	list, err := s.Outbox(ctx, 2)
	if err != nil || len(list) != 2 || list[0].OutMessageID != "6@x" || list[1].OutMessageID != "5@x" {
		t.Errorf("Outbox(2) = %+v, %v", list, err)
	}
}

// TestRequestForMessageIDsThroughOutbox: a reply that references only mail
// we sent threads to that mail's request; a stored message still wins.
func TestRequestForMessageIDsThroughOutbox(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	p, r1 := seedRequest(t, s)
	var r2 Request
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		r2, err = tx.InsertRequest(ctx, Request{Subject: "Door", NormSubject: "door", RequesterID: p.ID, CreatorID: p.ID}, 1001)
		if err != nil {
			return err
		}
		_, err = tx.InsertMessage(ctx, Message{MessageID: "in-2@example.org", RequestID: nullInt(r2.ID), Outcome: "created"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, OutboxRow{RequestID: nullInt(r1.ID), OutMessageID: "ack-1001@tikkit.example"})
	enqueue(t, s, OutboxRow{OutMessageID: "welcome@tikkit.example"}) // no request
	for _, tc := range []struct {
		name string
		ids  []string
		want int64
	}{
		{"outbox only", []string{"unknown@x", "ack-1001@tikkit.example"}, r1.ID},
		{"stored message wins", []string{"ack-1001@tikkit.example", "in-2@example.org"}, r2.ID},
		{"stored message only", []string{"in-2@example.org"}, r2.ID},
		{"outbox row without request", []string{"welcome@tikkit.example"}, 0},
		{"nothing known", []string{"zz@q"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := s.RequestForMessageIDs(ctx, tc.ids)
			if tc.want == 0 {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("= %d, %v; want ErrNotFound", id, err)
				}
				return
			}
			if err != nil || id != tc.want {
				t.Errorf("= %d, %v; want %d", id, err, tc.want)
			}
		})
	}
}
