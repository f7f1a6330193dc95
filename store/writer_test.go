package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Transactions of one process take turns on the writer connection: each
// sees the others' committed rows, a rolled-back one leaves nothing, a
// failed COMMIT leaves the connection usable, and Begin honours its context.
func TestWriterTransactionsTakeTurns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			err := s.Update(ctx, func(tx *Tx) error {
				_, err := tx.InsertPerson(ctx, Person{Email: fmt.Sprintf("p%d@x", i), CreatedVia: "email"})
				if i%4 == 0 {
					return errors.New("undo")
				}
				return err
			})
			if (err != nil) != (i%4 == 0) {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	ps, err := s.People(ctx)
	if err != nil || len(ps) != 15 {
		t.Fatalf("people = %d, %v; want 15", len(ps), err)
	}

	// A deferred foreign key violation fails the COMMIT itself.
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ext.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.InsertRequest(ctx, Request{Subject: "x", NormSubject: "x", RequesterID: 999, CreatorID: 999}, 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("commit with a dangling foreign key succeeded")
	}
	tx.Rollback()
	if _, err := s.RequestByNumber(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("request of the failed commit: %v, want not found", err)
	}
	if err := s.Update(ctx, func(tx *Tx) error {
		_, err := tx.InsertPerson(ctx, Person{Email: "after@x", CreatedVia: "email"})
		return err
	}); err != nil {
		t.Fatalf("update after a failed commit: %v", err)
	}

	// While one transaction is open, Begin waits, until its context ends.
	tx, err = s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Begin(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Begin while a transaction is open: %v, want deadline exceeded", err)
	}
	tx.Rollback()
}

// After Close, Begin fails at once rather than waiting for ever.
func TestBeginAfterClose(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Begin(context.Background()); err == nil {
		t.Fatal("Begin after Close succeeded")
	}
}
