package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
)

// MinSignerKey is the least key length NewSigner accepts, in bytes.
const MinSignerKey = 32

// Token versions. A version names the MAC input and the truncation; a
// token of any other version does not verify.
const (
	replyVersion = "v1"
	pageVersion  = "v1"
	replyMACLen  = 10 // bytes of HMAC-SHA256 kept: 16 base32 characters
	pageMACLen   = 12 // 20 base32 characters
	maxTokenLen  = 64 // longer input is malformed without further parsing
)

// b32 is lower-case base32 without padding: letters and digits 2–7 only,
// safe in an email local part and in a URL path.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Signer makes and checks signed, versioned capabilities: reply tokens for
// the Reply-To sub-address and keys for request status pages (HMAC-SHA256
// with a secret key the caller keeps in the data directory). It is safe
// for concurrent use.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for key, which must be at least MinSignerKey
// bytes. The key is copied.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinSignerKey {
		return nil, errors.New("signing key must be at least " + strconv.Itoa(MinSignerKey) + " bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

func (s *Signer) mac(n int, parts ...string) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(strings.Join(parts, "|")))
	return b32.EncodeToString(h.Sum(nil)[:n])
}

// ReplyToken returns the token for the Reply-To sub-address
// "<local>+<token>@<domain>" of the mail about request number sent to
// email:
//
//	"r" + number + "." + "v1" + base32(first 10 bytes of HMAC(key, "reply|v1|<number>|<email>"))
//
// with the address lower-cased and its domain in punycode, e.g.
// "r1001.v1mfrggzdfmztwq2lk". Only lower-case letters, digits and one dot:
// safe in any local part, at most 39 characters. number must be positive;
// otherwise the result is "".
func (s *Signer) ReplyToken(number int64, email string) string {
	if number <= 0 {
		return ""
	}
	n := strconv.FormatInt(number, 10)
	return "r" + n + "." + replyVersion + s.mac(replyMACLen, "reply", replyVersion, n, normalEmail(email))
}

// ParseReplyToken extracts the request number from a reply token and
// checks it against the sender's address. The token is compared
// case-insensitively (many MTAs lower- or upper-case addresses). ok is
// true only when the token is well formed, of a known version and its MAC
// matches senderEmail (lower-cased, IDN domain to punycode; an empty
// sender never matches). When the "r<number>." prefix parses, number is
// returned even if ok is false, so the caller can fall back to the
// subject-tag rules; otherwise number is 0.
func (s *Signer) ParseReplyToken(token, senderEmail string) (number int64, ok bool) {
	if len(token) > maxTokenLen {
		return 0, false
	}
	token = asciiLower(token)
	rest, found := strings.CutPrefix(token, "r")
	if !found {
		return 0, false
	}
	num, sig, found := strings.Cut(rest, ".")
	if !found {
		return 0, false
	}
	number, good := parsePositive(num)
	if !good {
		return 0, false
	}
	mac, found := strings.CutPrefix(sig, replyVersion)
	if !found || len(mac) != b32.EncodedLen(replyMACLen) {
		return number, false
	}
	sender := normalEmail(senderEmail)
	if sender == "" {
		return number, false
	}
	want := s.mac(replyMACLen, "reply", replyVersion, num, sender)
	return number, subtle.ConstantTimeCompare([]byte(mac), []byte(want)) == 1
}

// PageKey returns the key of the status page "/r/<number>/<key>" of
// request number for person personID:
//
//	personID + "-" + "v1" + base32(first 12 bytes of HMAC(key, "page|v1|<number>|<personID>"))
//
// e.g. "42-v1mfrggzdfmztwq2lkmfrggzdf". Lower-case letters, digits and one
// hyphen, at most 42 characters. number and personID must be positive;
// otherwise the result is "".
func (s *Signer) PageKey(number, personID int64) string {
	if number <= 0 || personID <= 0 {
		return ""
	}
	id := strconv.FormatInt(personID, 10)
	return id + "-" + pageVersion + s.mac(pageMACLen, "page", pageVersion, strconv.FormatInt(number, 10), id)
}

// VerifyPageKey returns the person a status page key of request number was
// made for. ok is false, and personID 0, for a malformed key, another
// version, another request or a wrong MAC (compared in constant time; the
// key is compared case-insensitively). Whether the person may still see
// the request (still follows it, not blocked) is the caller's check.
func (s *Signer) VerifyPageKey(number int64, key string) (personID int64, ok bool) {
	if number <= 0 || len(key) > maxTokenLen {
		return 0, false
	}
	key = asciiLower(key)
	idText, sig, found := strings.Cut(key, "-")
	if !found {
		return 0, false
	}
	id, good := parsePositive(idText)
	if !good {
		return 0, false
	}
	mac, found := strings.CutPrefix(sig, pageVersion)
	if !found || len(mac) != b32.EncodedLen(pageMACLen) {
		return 0, false
	}
	want := s.mac(pageMACLen, "page", pageVersion, strconv.FormatInt(number, 10), idText)
	if subtle.ConstantTimeCompare([]byte(mac), []byte(want)) != 1 {
		return 0, false
	}
	return id, true
}

// asciiLower lower-cases ASCII letters only: a token is ASCII, and
// Unicode case folding (the Kelvin sign to "k") must not make other
// strings equivalent to one.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// parsePositive parses a positive decimal int64 in canonical form: digits
// only, no sign, no leading zero.
func parsePositive(s string) (int64, bool) {
	if s == "" || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// normalEmail is the form of an address a reply token is bound to: trimmed,
// lower-cased, the domain in punycode when it converts (otherwise kept
// lower-cased as it is). "" when there is no address.
func normalEmail(e string) string {
	e = strings.ToLower(strings.TrimSpace(e))
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	if d, err := asciiDomain(e[at+1:]); err == nil {
		e = e[:at+1] + d
	}
	return e
}

// UnfollowPrefix marks the sub-address of an unfollow request (RFC 2369
// List-Unsubscribe): mail to address+unfollow.<reply token>@domain from the
// token's owner stops the updates of that request.
const UnfollowPrefix = "unfollow."
