package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var reqNum int64
	err := s.Update(ctx, func(tx *Tx) error {
		p, err := tx.InsertPerson(ctx, Person{Email: "jane@example.org", Name: "Jane", CreatedVia: "email"})
		if err != nil {
			return err
		}
		r, err := tx.InsertRequest(ctx, Request{Subject: "Leak", NormSubject: "leak", RequesterID: p.ID, CreatorID: p.ID}, 1001)
		if err != nil {
			return err
		}
		reqNum = r.Number
		if _, err := tx.AddFollower(ctx, r.ID, p.ID, "requester"); err != nil {
			return err
		}
		added, err := tx.AddFollower(ctx, r.ID, p.ID, "cc")
		if err != nil || added {
			t.Errorf("second AddFollower: added=%v err=%v", added, err)
		}
		id, err := tx.InsertMessage(ctx, Message{MessageID: "a@b", RequestID: nullInt(r.ID), Outcome: "created", Subject: "Leak"})
		if err != nil {
			return err
		}
		_, err = tx.InsertAttachment(ctx, Attachment{MessageID: id, Name: "x.png", ContentType: "image/png", Size: 3, SHA256: "abc", Stored: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if reqNum != 1001 {
		t.Errorf("first number = %d, want 1001", reqNum)
	}
	r, err := s.RequestByNumber(ctx, 1001)
	if err != nil || r.Subject != "Leak" {
		t.Fatalf("RequestByNumber: %+v %v", r, err)
	}
	id, err := s.RequestForMessageIDs(ctx, []string{"zz@q", "a@b"})
	if err != nil || id != r.ID {
		t.Errorf("RequestForMessageIDs = %d, %v", id, err)
	}
	if _, err := s.PersonByEmail(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing person: err = %v, want ErrNotFound", err)
	}
	st, err := s.Stats(ctx, time.Now().Add(-time.Hour))
	if err != nil || st.OpenRequests != 1 || st.TotalMessages != 1 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
}

func TestSavepointUndoesOnlyFailedPart(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Savepoint(ctx, func() error {
			_, err := tx.InsertPerson(ctx, Person{Email: "a@x", CreatedVia: "email"})
			return err
		}); err != nil {
			return err
		}
		err := tx.Savepoint(ctx, func() error {
			if _, err := tx.InsertPerson(ctx, Person{Email: "b@x", CreatedVia: "email"}); err != nil {
				return err
			}
			return errors.New("boom")
		})
		if err == nil {
			t.Error("savepoint error lost")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := s.People(ctx)
	if len(ps) != 1 || ps[0].Email != "a@x" {
		t.Errorf("people = %+v, want only a@x", ps)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.DB().MustExec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', CURRENT_TIMESTAMP)")
	s.Close()
	_, err = Open(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open on newer schema: %v", err)
	}
}

func TestBlobsLimitAndDedupe(t *testing.T) {
	s := openTest(t)
	sha, n, stored, err := s.Blobs.Put(strings.NewReader("hello world"), 5)
	if err != nil || stored || n != 11 || sha != "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9" {
		t.Fatalf("over limit: %s %d %v %v", sha, n, stored, err)
	}
	if s.Blobs.Has(sha) {
		t.Error("over-limit blob kept")
	}
	for i := 0; i < 2; i++ {
		sha, _, stored, err = s.Blobs.Put(strings.NewReader("hello world"), -1)
		if err != nil || !stored {
			t.Fatalf("put %d: %v %v", i, stored, err)
		}
	}
	if !s.Blobs.Has(sha) {
		t.Error("blob missing")
	}
}
