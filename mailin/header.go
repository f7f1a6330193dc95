package mailin

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DecodeHeaderValue decodes an unstructured header value: RFC 2047 encoded
// words, lenient; unfolds; trims. The result is valid UTF-8 without control
// characters; runs of white space are collapsed to one space.
//
// Leniencies, each seen in real mail: B and Q in either case; adjacent words
// separated only by white space are joined without it (RFC 2047 §6.2); the
// bytes of adjacent words in one charset are joined before decoding, so a
// character or an ISO-2022-JP escape state split over two words survives;
// bad base64 padding and base64 chopped across words; words glued to text
// or inside quotes; RFC 2231 §5 language suffixes (=?utf-8*en?q?…?=); raw
// 8-bit text (UTF-8 when valid, else windows-1252; ISO-2022-JP detected).
func DecodeHeaderValue(raw string) string {
	if raw == "" {
		return ""
	}
	if len(raw) > maxHeaderValue {
		raw = raw[:maxHeaderValue]
	}
	toks := splitEncodedWords(unfold(raw))
	var sb strings.Builder
	sb.Grow(len(raw))
	for i := 0; i < len(toks); {
		t := toks[i]
		if !t.word {
			sb.WriteString(decodeCharset("", []byte(t.text)))
			i++
			continue
		}
		j := i + 1
		for j < len(toks) && toks[j].word && toks[j].charset == t.charset {
			j++
		}
		sb.WriteString(decodeCharset(t.charset, wordBytes(toks[i:j])))
		i = j
	}
	return cleanHeaderText(sb.String())
}

// unfold removes the line breaks of a folded header (RFC 5322 §2.2.3); a
// bare CR or LF that is not followed by white space becomes a space.
func unfold(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\r' && c != '\n' {
			sb.WriteByte(c)
			continue
		}
		for i+1 < len(s) && (s[i+1] == '\r' || s[i+1] == '\n') {
			i++
		}
		if i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t') {
			continue
		}
		sb.WriteByte(' ')
	}
	return sb.String()
}

// cleanHeaderText turns controls into spaces, collapses white space and trims.
func cleanHeaderText(s string) string {
	s = finishDecoded(s)
	var sb strings.Builder
	sb.Grow(len(s))
	space := false
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ' ' || (r >= 0x80 && r <= 0x9f) {
			space = true
			continue
		}
		if space && sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		space = false
		sb.WriteRune(r)
	}
	return sb.String()
}

// ewToken is literal text or one RFC 2047 encoded word.
type ewToken struct {
	word    bool
	text    string // literal text, or the encoded text of the word
	charset string // lower-case, language suffix removed
	enc     byte   // 'b' or 'q'
}

// splitEncodedWords cuts s into literal text and encoded words; white space
// that only separates two encoded words is dropped (RFC 2047 §6.2).
func splitEncodedWords(s string) []ewToken {
	var toks []ewToken
	lit := 0
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "=?")
		if j < 0 {
			break
		}
		i += j
		w, n, ok := parseEncodedWord(s[i:])
		if !ok {
			i += 2
			continue
		}
		if lit < i {
			text := s[lit:i]
			if strings.Trim(text, " \t") != "" || len(toks) == 0 || !toks[len(toks)-1].word {
				toks = append(toks, ewToken{text: text})
			}
		}
		toks = append(toks, w)
		i += n
		lit = i
	}
	if lit < len(s) {
		toks = append(toks, ewToken{text: s[lit:]})
	}
	return toks
}

// maxEncodedText is the longest encoded text accepted in one word: RFC 2047
// allows 75 characters for the whole word, real mailers write a few hundred.
const maxEncodedText = 2048

// maxHeaderValue bounds the input of the header functions; longer values are
// cut (no honest header comes near it).
const maxHeaderValue = 256 << 10

// parseEncodedWord parses "=?charset?enc?text?=" at the start of s and
// returns the word and its length.
func parseEncodedWord(s string) (ewToken, int, bool) {
	q1 := strings.IndexByte(s[2:], '?')
	if q1 < 0 || q1 > 64 {
		return ewToken{}, 0, false
	}
	q1 += 2
	cs := s[2:q1]
	if strings.ContainsAny(cs, " \t\"=()<>,;") {
		return ewToken{}, 0, false
	}
	if q1+2 >= len(s) || s[q1+2] != '?' {
		return ewToken{}, 0, false
	}
	enc := s[q1+1] | 0x20
	if enc != 'b' && enc != 'q' {
		return ewToken{}, 0, false
	}
	start := q1 + 3
	window := s[start:]
	if len(window) > maxEncodedText {
		window = window[:maxEncodedText] // bounds the work per "=?" on hostile input
	}
	end := strings.Index(window, "?=")
	var n int
	if end < 0 {
		// Unterminated word at the very end (truncated header).
		end = len(s) - start
		if len(window) < len(s)-start || strings.ContainsAny(window, " \t") {
			return ewToken{}, 0, false
		}
		n = len(s)
	} else {
		n = start + end + 2
	}
	text := s[start : start+end]
	if strings.Contains(text, "=?") || (enc == 'b' && strings.TrimSpace(text) != text) {
		return ewToken{}, 0, false
	}
	cs = strings.ToLower(cs)
	if k := strings.IndexByte(cs, '*'); k >= 0 {
		cs = cs[:k]
	}
	return ewToken{word: true, text: text, charset: cs, enc: enc}, n, true
}

// wordBytes decodes a run of encoded words of one charset to their bytes.
func wordBytes(words []ewToken) []byte {
	var out []byte
	for i := 0; i < len(words); {
		if words[i].enc == 'q' {
			out = append(out, decodeQ(words[i].text)...)
			i++
			continue
		}
		j := i
		for j < len(words) && words[j].enc == 'b' {
			j++
		}
		out = append(out, decodeBRun(words[i:j])...)
		i = j
	}
	return out
}

// decodeBRun decodes consecutive B words. They are normally encoded one by
// one; when a word other than the last has no padding and a length that is
// not a multiple of 4, the encoder chopped one base64 stream, so the texts
// are joined first.
func decodeBRun(words []ewToken) []byte {
	chopped := false
	for _, w := range words[:len(words)-1] {
		c := cleanBase64(w.text)
		if len(c)%4 != 0 && !strings.Contains(w.text, "=") {
			chopped = true
		}
	}
	if chopped {
		var sb strings.Builder
		for _, w := range words {
			sb.WriteString(cleanBase64(w.text))
		}
		return decodeBase64Lenient(sb.String())
	}
	var out []byte
	for _, w := range words {
		out = append(out, decodeBase64Lenient(cleanBase64(w.text))...)
	}
	return out
}

// cleanBase64 keeps the base64 alphabet (URL-safe letters mapped), without
// padding.
func cleanBase64(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			sb.WriteByte('+')
		case c == '_':
			sb.WriteByte('/')
		case b64Value(c) >= 0:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// decodeBase64Lenient decodes unpadded base64, dropping a dangling sixth-bit
// character.
func decodeBase64Lenient(s string) []byte {
	if len(s)%4 == 1 {
		s = s[:len(s)-1]
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// decodeQ decodes RFC 2047 §4.2 Q text; malformed escapes stay literal.
func decodeQ(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			hi, _ := unhex(s[i+1])
			lo, _ := unhex(s[i+2])
			out = append(out, hi<<4|lo)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

// ParseMessageIDs returns the message ids in a Message-ID/In-Reply-To/
// References value, without brackets, in order, deduplicated. Accepts
// comma or space separation, folding, ids without brackets (when they hold
// an @), junk and comments between ids, and ids that Outlook folded inside
// the brackets (the white space is removed).
func ParseMessageIDs(raw string) []string {
	if len(raw) > maxHeaderValue {
		raw = raw[:maxHeaderValue]
	}
	s := unfold(raw)
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.Trim(id, " \t\"'.,;:")
		if id == "" || len(id) > 998 || seen[id] || !utf8.ValidString(id) {
			return
		}
		seen[id] = true
		ids = append(ids, id)
	}
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '<':
			// Look for '>' only up to the next '<', so that "<<<<…" stays linear.
			scope := s[i+1:]
			if next := strings.IndexByte(scope, '<'); next >= 0 {
				scope = scope[:next]
			}
			if end := strings.IndexByte(scope, '>'); end >= 0 {
				add(strings.Join(strings.Fields(s[i+1:i+1+end]), ""))
				i += end + 2
				continue
			}
			// Unclosed: the id runs to white space or the next '<'.
			j := i + 1
			for j < len(s) && !isIDBreak(s[j]) && s[j] != '<' {
				j++
			}
			if strings.Contains(s[i+1:j], "@") {
				add(s[i+1 : j])
			}
			i = j
		case c == '(':
			i = skipComment(s, i)
		case isIDBreak(c):
			i++
		default:
			j := i
			for j < len(s) && !isIDBreak(s[j]) && s[j] != '<' && s[j] != '(' {
				j++
			}
			if w := s[i:j]; strings.Contains(w, "@") && !strings.HasPrefix(w, "@") && !strings.HasSuffix(w, "@") {
				add(w)
			}
			i = j
		}
	}
	return ids
}

func isIDBreak(c byte) bool {
	return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '\r' || c == '\n'
}

// skipComment returns the index after the (nested) comment starting at s[i].
func skipComment(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}

// idnaProfile converts IDN domains for lookup (UTS #46, non-transitional).
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule())

// NormalizeEmail lower-cases an address and converts an IDN domain to
// punycode (ASCII); "" if not an address. Angle brackets, a mailto: prefix
// and surrounding white space are removed; a quoted local part is kept.
func NormalizeEmail(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">"))
	if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
		s = strings.TrimSpace(s[7:])
	}
	if len(s) > 320*4 {
		return ""
	}
	if !utf8.ValidString(s) {
		s = decodeUTF8Lenient([]byte(s))
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return ""
	}
	local, domain := s[:at], s[at+1:]
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		if strings.ContainsAny(local, "\r\n") || hasControl(local) {
			return ""
		}
	} else if strings.ContainsAny(local, " \t\"<>()[],;:\\@") || hasControl(local) {
		return ""
	}
	domain = strings.TrimSuffix(domain, ".")
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		if strings.ContainsAny(domain[1:len(domain)-1], " \t[]\\") || hasControl(domain) {
			return ""
		}
		return strings.ToLower(local) + "@" + strings.ToLower(domain)
	}
	if domain == "" || strings.ContainsAny(domain, " \t\"<>()[],;:\\@") || hasControl(domain) {
		return ""
	}
	domain = asciiDomain(domain)
	if domain == "" {
		return ""
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" {
			return ""
		}
	}
	return strings.ToLower(local) + "@" + domain
}

// asciiDomain lower-cases a domain and converts IDN labels to punycode.
func asciiDomain(d string) string {
	if isASCII(d) {
		return strings.ToLower(d)
	}
	if a, err := idnaProfile.ToASCII(d); err == nil && a != "" {
		return strings.ToLower(a)
	}
	if a, err := idna.Punycode.ToASCII(strings.ToLower(d)); err == nil && isASCII(a) {
		return a
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return true
		}
	}
	return false
}
