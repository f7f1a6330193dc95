package store

import (
	"context"
	"errors"
	"testing"
)

func TestIMAPState(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.IMAPState(ctx, "acc", "INBOX"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before the first poll: %v, want ErrNotFound", err)
	}
	for _, st := range []IMAPState{
		{Account: "acc", Mailbox: "INBOX", UIDValidity: 7, LastUID: 3},
		{Account: "acc", Mailbox: "INBOX", UIDValidity: 4294967295, LastUID: 4294967290},
		{Account: "acc", Mailbox: "Other", UIDValidity: 1, LastUID: 1},
		{Account: "other", Mailbox: "INBOX", UIDValidity: 1, LastUID: 9},
	} {
		if err := s.PutIMAPState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.IMAPState(ctx, "acc", "INBOX")
	if err != nil || got.UIDValidity != 4294967295 || got.LastUID != 4294967290 || got.UpdatedAt.IsZero() {
		t.Errorf("IMAPState = %+v, %v", got, err)
	}
	all, err := s.IMAPStates(ctx, "acc")
	if err != nil || len(all) != 2 || all[0].Mailbox != "INBOX" || all[1].Mailbox != "Other" {
		t.Errorf("IMAPStates = %+v, %v", all, err)
	}
}
