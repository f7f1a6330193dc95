package mailin

import (
	"bytes"
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
