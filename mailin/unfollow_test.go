package mailin

import (
	"bytes"
	"fmt"
	"github.com/tikkit/tikkit/store"
	"strings"
	"testing"

	"github.com/tikkit/tikkit/rules"
)

func testSigner(t testing.TB) *rules.Signer {
	t.Helper()
	s, err := rules.NewSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A reply token in the address a reply goes to threads it, for its owner only.
func TestReplyTokenThreads(t *testing.T) {
	signer := testSigner(t)
	h := newHarness(t, "ingest", func(o *Options) { o.Tokens = signer })
	h.feed("04-a-original-with-cc.eml")
	tok := signer.ReplyToken(1001, "ken.ito@example.org")
	reply := "From: Ken Ito <ken.ito@example.org>\r\nTo: maintenance+" + tok + "@example.com\r\nSubject: brand new words\r\nMessage-ID: <ken-tok@example.org>\r\n\r\nI will be there at 3.\r\n"
	r := h.feedBytes("token", []byte(reply))
	if r.Outcome != OutcomeAppended || r.Request != 1001 || !strings.Contains(r.Reason, ByToken) {
		t.Errorf("owner's reply: %+v", r)
	}
	stolen := strings.NewReplacer("Ken Ito <ken.ito@example.org>", "Max <max.power@example.net>", "ken-tok", "max-tok").Replace(reply)
	if r := h.feedBytes("stolen token", []byte(stolen)); r.Request == 1001 {
		t.Errorf("another sender's use of the token threaded: %+v", r)
	}
}

// List-Unsubscribe: mail to the unfollow address stops that follower's updates.
func TestUnfollowByMail(t *testing.T) {
	signer := testSigner(t)
	h := newHarness(t, "smtp", func(o *Options) { o.Tokens = signer })
	h.feed("04-a-original-with-cc.eml")
	if _, ok := h.followers(1001)["ken.ito@example.org"]; !ok {
		t.Fatal("ken is not a follower to begin with")
	}
	addr := "maintenance+" + rules.UnfollowPrefix + signer.ReplyToken(1001, "ken.ito@example.org") + "@example.com"
	msg := "From: Ken Ito <ken.ito@example.org>\r\nTo: " + addr + "\r\nSubject: unfollow\r\nMessage-ID: <unf1@example.org>\r\n\r\n\r\n"
	if err := sendSMTP(h.addr, "ken.ito@example.org", []string{addr}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.followers(1001)["ken.ito@example.org"]; ok {
		t.Error("ken still follows after unfollowing")
	}
	// Someone else's token does nothing.
	h.feed("19-display-names-commas-quotes.eml") // REQ-1002 with followers
	addr = "maintenance+" + rules.UnfollowPrefix + signer.ReplyToken(1002, "bob.smith@example.org") + "@example.com"
	forged := "From: Mallory <mallory@evil.example>\r\nTo: " + addr + "\r\nSubject: unfollow\r\nMessage-ID: <unf2@evil.example>\r\n\r\n\r\n"
	h.feedBytes("forged", []byte(forged))
	if _, ok := h.followers(1002)["bob.smith@example.org"]; !ok {
		t.Error("a forged unfollow removed bob")
	}
}

// A stranger refused by staff_only registration gets one refusal a day,
// however often they write.
func TestRefusalOnceADay(t *testing.T) {
	h := newHarness(t, "ingest", func(o *Options) { o.Registration.Mode = rules.ModeStaffOnly })
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("From: Stranger <STRANGER@Example.NET>\r\nTo: maintenance@example.com\r\nSubject: help %d\r\nMessage-ID: <s%d@example.net>\r\n\r\nplease\r\n", i, i)
		if r := h.feedBytes("stranger", []byte(msg)); r.Outcome != OutcomeRefused {
			t.Fatalf("mail %d: %+v", i, r)
		}
	}
	rows, _ := h.st.Outbox(h.ctx, 100)
	n := 0
	for _, r := range rows {
		if r.Kind == "refusal" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d refusals, want 1", n)
	}
}

// Two staff out-of-office responders answering each other's relayed
// replies: what reaches the occupant stops at the hard cap.
func TestStaffReplyLoopStops(t *testing.T) {
	h := newHarness(t, "ingest", func(o *Options) { o.Limits.PerAddressPerDay = 2 })
	h.feed("04-a-original-with-cc.eml")
	staff, err := h.st.InsertPerson(h.ctx, store.Person{Email: "away@example.com", Kind: "staff", CreatedVia: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	_ = staff
	for i := 0; i < 20; i++ {
		msg := fmt.Sprintf("From: Away <away@example.com>\r\nTo: maintenance@example.com\r\nSubject: Re: [REQ-1001] away %d\r\nMessage-ID: <away%d@example.com>\r\n\r\nI am on holiday.\r\n", i, i)
		h.feedBytes("away", []byte(msg))
	}
	rows, _ := h.st.Outbox(h.ctx, 1000)
	sent := 0
	for _, r := range rows {
		if r.ToEmail == "priya.raman@example.org" && r.Status != "suppressed" {
			sent++
		}
	}
	if sent > 2*humanReplyFactor {
		t.Errorf("%d mails to the occupant, want at most %d", sent, 2*humanReplyFactor)
	}
	if sent < 2 {
		t.Errorf("only %d mails to the occupant: staff replies should reach them", sent)
	}
}
