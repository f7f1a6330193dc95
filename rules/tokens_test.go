package rules

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func testSigner(t testing.TB, key []byte) *Signer {
	t.Helper()
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seqKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

func TestNewSigner(t *testing.T) {
	for _, n := range []int{0, 1, 16, 31} {
		if _, err := NewSigner(make([]byte, n)); err == nil {
			t.Errorf("NewSigner(%d bytes) accepted", n)
		}
	}
	for _, n := range []int{32, 64} {
		if _, err := NewSigner(make([]byte, n)); err != nil {
			t.Errorf("NewSigner(%d bytes): %v", n, err)
		}
	}
	// The key is copied: changing the caller's slice changes nothing.
	k := testKey(1)
	s := testSigner(t, k)
	tok := s.ReplyToken(1001, "a@example.org")
	k[0] = 99
	if _, ok := s.ParseReplyToken(tok, "a@example.org"); !ok {
		t.Error("signer depends on the caller's key slice")
	}
}

// Known answers computed independently (Python hmac/base64) from the
// documented formulas, with key bytes 0..31.
func TestTokenKnownAnswers(t *testing.T) {
	s := testSigner(t, seqKey())
	cases := []struct{ got, want string }{
		{s.ReplyToken(1001, "jane.doe@example.org"), "r1001.v1lgimjokm3hkszadn"},
		{s.ReplyToken(1001, " Jane.Doe@EXAMPLE.org "), "r1001.v1lgimjokm3hkszadn"},
		{s.ReplyToken(1001, "j@bücher.example"), "r1001.v1aryklz5x5mltfgcw"},
		{s.ReplyToken(1001, "j@xn--bcher-kva.example"), "r1001.v1aryklz5x5mltfgcw"},
		{s.PageKey(1001, 42), "42-v1cwdhx43tzlq2pte4ut4a"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func localPartSafe(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func TestReplyTokenShape(t *testing.T) {
	s := testSigner(t, testKey(7))
	for _, n := range []int64{1, 1001, 999999, math.MaxInt64} {
		tok := s.ReplyToken(n, "Someone.Long+tag@Sub.Example.org")
		if !localPartSafe(tok) {
			t.Errorf("token %q not safe in a local part", tok)
		}
		if len(tok) > 40 {
			t.Errorf("token %q is %d chars", tok, len(tok))
		}
		if got, ok := s.ParseReplyToken(tok, "someone.long+tag@sub.example.org"); !ok || got != n {
			t.Errorf("round trip %d: %d %v", n, got, ok)
		}
	}
	for _, n := range []int64{0, -1, math.MinInt64} {
		if tok := s.ReplyToken(n, "a@example.org"); tok != "" {
			t.Errorf("ReplyToken(%d) = %q, want empty", n, tok)
		}
	}
	if a, b := s.ReplyToken(1001, "a@example.org"), s.ReplyToken(1001, "a@example.org"); a != b {
		t.Errorf("not deterministic: %q %q", a, b)
	}
}

func TestParseReplyToken(t *testing.T) {
	s := testSigner(t, testKey(7))
	other := testSigner(t, testKey(8))
	const jane = "jane@example.org"
	tok := s.ReplyToken(1001, jane)
	mac := strings.TrimPrefix(tok, "r1001.v1")
	flip := func(str string, i int) string {
		b := []byte(str)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := []struct {
		name   string
		token  string
		sender string
		num    int64
		ok     bool
	}{
		{"round trip", tok, jane, 1001, true},
		{"sender in other case", tok, "Jane@Example.ORG", 1001, true},
		{"sender with spaces", tok, "  jane@example.org\t", 1001, true},
		{"sender's domain with a trailing dot", tok, "jane@example.org.", 1001, true},
		{"token upper-cased by an MTA", strings.ToUpper(tok), jane, 1001, true},
		{"token mixed case", "R1001.V1" + strings.ToUpper(mac[:5]) + mac[5:], jane, 1001, true},
		{"wrong sender", tok, "bob@example.org", 1001, false},
		{"sender's sub-address differs", tok, "jane+x@example.org", 1001, false},
		{"empty sender", tok, "", 1001, false},
		{"other request", "r1002.v1" + mac, jane, 1002, false},
		{"other request's token for the same sender", s.ReplyToken(1002, jane), jane, 1002, true},
		{"different key", other.ReplyToken(1001, jane), jane, 1001, false},
		{"tampered first MAC char", "r1001.v1" + flip(mac, 0), jane, 1001, false},
		{"tampered last MAC char", "r1001.v1" + flip(mac, len(mac)-1), jane, 1001, false},
		{"truncated by one", tok[:len(tok)-1], jane, 1001, false},
		{"truncated to the version", "r1001.v1", jane, 1001, false},
		{"truncated to the number", "r1001.", jane, 1001, false},
		{"no dot", "r1001", jane, 0, false},
		{"extended", tok + "a", jane, 1001, false},
		{"version 2", "r1001.v2" + mac, jane, 1001, false},
		{"version 0", "r1001.v0" + mac, jane, 1001, false},
		{"version missing", "r1001." + mac, jane, 1001, false},
		{"version 10", "r1001.v10" + mac[:len(mac)-1], jane, 1001, false},
		{"MAC with base32 padding", tok + "======", jane, 1001, false},
		{"MAC with a character outside the alphabet", "r1001.v1" + mac[:15] + "1", jane, 1001, false},
		{"leading zero", "r01001.v1" + mac, jane, 0, false},
		{"sign", "r+1001.v1" + mac, jane, 0, false},
		{"negative", "r-1001.v1" + mac, jane, 0, false},
		{"zero", "r0.v1" + mac, jane, 0, false},
		{"overflow", "r9223372036854775808.v1" + mac, jane, 0, false},
		{"no r", "1001.v1" + mac, jane, 0, false},
		{"other letter", "x1001.v1" + mac, jane, 0, false},
		{"empty", "", jane, 0, false},
		{"unicode Kelvin sign for k is not k", strings.Replace(tok, "k", "\u212a", 1), jane, 1001, false},
		{"very long", "r1001.v1" + strings.Repeat("a", 1000), jane, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "unicode Kelvin sign for k is not k" && !strings.Contains(tok, "k") {
				t.Skip("token has no k")
			}
			num, ok := s.ParseReplyToken(c.token, c.sender)
			if num != c.num || ok != c.ok {
				t.Errorf("ParseReplyToken(%q, %q) = %d, %v; want %d, %v", c.token, c.sender, num, ok, c.num, c.ok)
			}
		})
	}
}

func TestReplyTokenIDN(t *testing.T) {
	s := testSigner(t, testKey(3))
	tok := s.ReplyToken(7, "Jörg@Bücher.example")
	for _, sender := range []string{"jörg@bücher.example", "JÖRG@xn--bcher-kva.example", "jörg@BÜCHER.EXAMPLE"} {
		if _, ok := s.ParseReplyToken(tok, sender); !ok {
			t.Errorf("token for Jörg@Bücher.example does not verify for %q", sender)
		}
	}
	if _, ok := s.ParseReplyToken(tok, "jorg@bucher.example"); ok {
		t.Error("verifies for a different address")
	}
}

func TestPageKey(t *testing.T) {
	s := testSigner(t, testKey(7))
	other := testSigner(t, testKey(8))
	key := s.PageKey(1001, 42)
	mac := strings.TrimPrefix(key, "42-v1")
	if len(mac) != 20 {
		t.Fatalf("key %q: MAC part %q", key, mac)
	}
	for _, n := range []int64{1, math.MaxInt64} {
		k := s.PageKey(n, math.MaxInt64)
		if !localPartSafe(k) || len(k) > 42 {
			t.Errorf("key %q not URL/local-part safe or too long", k)
		}
		if id, ok := s.VerifyPageKey(n, k); !ok || id != math.MaxInt64 {
			t.Errorf("round trip %d: %d %v", n, id, ok)
		}
	}
	for _, c := range [][2]int64{{0, 1}, {1, 0}, {-1, 1}, {1, -1}} {
		if k := s.PageKey(c[0], c[1]); k != "" {
			t.Errorf("PageKey(%d, %d) = %q, want empty", c[0], c[1], k)
		}
	}
	flip := func(str string, i int) string {
		b := []byte(str)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := []struct {
		name   string
		number int64
		key    string
		id     int64
		ok     bool
	}{
		{"round trip", 1001, key, 42, true},
		{"upper-cased", 1001, strings.ToUpper(key), 42, true},
		{"other request", 1002, key, 0, false},
		{"other person", 1001, "43-v1" + mac, 0, false},
		{"another person's own key is theirs", 1001, s.PageKey(1001, 43), 43, true},
		{"different key", 1001, other.PageKey(1001, 42), 0, false},
		{"tampered first", 1001, "42-v1" + flip(mac, 0), 0, false},
		{"tampered last", 1001, "42-v1" + flip(mac, len(mac)-1), 0, false},
		{"truncated", 1001, key[:len(key)-1], 0, false},
		{"extended", 1001, key + "a", 0, false},
		{"version 2", 1001, "42-v2" + mac, 0, false},
		{"no version", 1001, "42-" + mac, 0, false},
		{"leading zero", 1001, "042-v1" + mac, 0, false},
		{"id zero", 1001, "0-v1" + mac, 0, false},
		{"no hyphen", 1001, "42v1" + mac, 0, false},
		{"empty", 1001, "", 0, false},
		{"number zero", 0, key, 0, false},
		{"number negative", -1001, key, 0, false},
		{"reply token is not a page key", 1001, s.ReplyToken(1001, "42"), 0, false},
		{"very long", 1001, "42-v1" + strings.Repeat("a", 10000), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, ok := s.VerifyPageKey(c.number, c.key)
			if id != c.id || ok != c.ok {
				t.Errorf("VerifyPageKey(%d, %q) = %d, %v; want %d, %v", c.number, c.key, id, ok, c.id, c.ok)
			}
		})
	}
}

func FuzzParseReplyToken(f *testing.F) {
	s := testSigner(f, testKey(7))
	f.Add(s.ReplyToken(1001, "jane@example.org"), "jane@example.org")
	f.Add("r1001.v1", "")
	f.Add("R9223372036854775807.V1AAAAAAAAAAAAAAAA", "a@b")
	f.Add("r.\u212a", "x@\u00e9.example")
	f.Add("r1.v1", "@")
	f.Fuzz(func(t *testing.T, token, sender string) {
		n, ok := s.ParseReplyToken(token, sender)
		if ok {
			if n <= 0 {
				t.Fatalf("ok with number %d", n)
			}
			if got := s.ReplyToken(n, sender); !strings.EqualFold(got, token) {
				t.Fatalf("accepted %q for %q, but the token is %q", token, sender, got)
			}
		}
		if n < 0 {
			t.Fatalf("negative number %d", n)
		}
	})
}

func FuzzVerifyPageKey(f *testing.F) {
	s := testSigner(f, testKey(7))
	f.Add(int64(1001), s.PageKey(1001, 42))
	f.Add(int64(0), "")
	f.Add(int64(-1), "1-v1")
	f.Add(int64(1), "9223372036854775807-V1AAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, number int64, key string) {
		id, ok := s.VerifyPageKey(number, key)
		if !ok && id != 0 {
			t.Fatalf("not ok but id %d", id)
		}
		if ok && (id <= 0 || !strings.EqualFold(s.PageKey(number, id), key)) {
			t.Fatalf("accepted %q for %d as %d", key, number, id)
		}
	})
}
