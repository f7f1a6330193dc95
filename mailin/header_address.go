package mailin

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// maxAddressHeader bounds the work done on one hostile header.
const maxAddressHeader = maxHeaderValue

// ParseAddressList parses a raw (undecoded) address header value leniently.
//
// Well-formed values go through net/mail; anything it rejects, and every
// value with encoded words (so that all charsets and split words decode the
// same way as DecodeHeaderValue), goes through a lenient tokenizer that
// accepts: an unquoted comma inside a display name before an angle address
// ("Smith, Bob <bob@x>"), groups (members only, RFC 5322 §3.4), comments as
// names ("jane@x (Jane Doe)"), bare addresses, a missing ">", empty items,
// ";" as a separator, source routes and raw 8-bit names. Items without an
// address are dropped. Emails are normalised with NormalizeEmail; names are
// decoded, unquoted, unescaped, with white space collapsed, and dropped when
// equal to the address. The list is deduplicated by email, first wins.
func ParseAddressList(raw string) []Address {
	s := unfold(raw)
	if len(s) > maxAddressHeader {
		s = s[:maxAddressHeader]
	}
	if !utf8.ValidString(s) || hasISO2022JPEscape([]byte(s)) {
		s = finishDecoded(decodeCharset("", []byte(s)))
	}
	var list []Address
	parsed := false
	if !strings.Contains(s, "=?") {
		if as, err := (&mail.AddressParser{}).ParseList(s); err == nil {
			for _, a := range as {
				email := a.Address
				// net/mail unquotes a quoted local part ("john doe"@x); quote it again.
				if i := strings.LastIndexByte(email, '@'); i > 0 && strings.ContainsAny(email[:i], " \t\"(),:;<>@[\\]") {
					email = quoteLocal(email[:i]) + email[i:]
				}
				list = append(list, Address{Email: email, Name: a.Name})
			}
			parsed = true
		}
	}
	if !parsed {
		list = parseAddressesLenient(s)
	}
	return finishAddresses(list)
}

// finishAddresses normalises emails and names, drops non-addresses and
// deduplicates by email (the first wins; a later name fills an empty one).
func finishAddresses(list []Address) []Address {
	var out []Address
	idx := map[string]int{}
	for _, a := range list {
		email := NormalizeEmail(a.Email)
		if email == "" {
			continue
		}
		name := cleanName(a.Name, email)
		if i, ok := idx[email]; ok {
			if out[i].Name == "" {
				out[i].Name = name
			}
			continue
		}
		idx[email] = len(out)
		out = append(out, Address{Email: email, Name: name})
	}
	return out
}

// cleanName decodes a display name, strips surrounding quotes and drops it
// when it only repeats the address.
func cleanName(name, email string) string {
	name = DecodeHeaderValue(name)
	for len(name) >= 2 {
		f, l := name[0], name[len(name)-1]
		if (f == '"' && l == '"') || (f == '\'' && l == '\'') {
			name = strings.TrimSpace(name[1 : len(name)-1])
			continue
		}
		break
	}
	if name == "" || strings.EqualFold(name, email) || NormalizeEmail(name) == email {
		return ""
	}
	return name
}

type addrTokKind int

const (
	tAtom addrTokKind = iota
	tQuoted
	tComment
	tAngle
	tComma
	tSemi
	tColon
)

type addrTok struct {
	kind  addrTokKind
	text  string // content, escapes resolved, without delimiters
	space bool   // white space before the token
}

// lexAddresses splits an address header into tokens; it never fails.
func lexAddresses(s string) []addrTok {
	var toks []addrTok
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			space = true
			i++
			continue
		case c == '"':
			text, n := readDelimited(s[i+1:], '"', 0)
			toks = append(toks, addrTok{tQuoted, text, space})
			i += 1 + n
		case c == '(':
			text, n := readDelimited(s[i+1:], ')', '(')
			toks = append(toks, addrTok{tComment, text, space})
			i += 1 + n
		case c == '<':
			// Look for '>' only up to the next '<', so that "<<<<…" stays linear.
			scope := s[i+1:]
			if k := strings.IndexByte(scope, '<'); k >= 0 {
				scope = scope[:k]
			}
			j := strings.IndexByte(scope, '>')
			if j < 0 {
				// Missing '>': the address runs to the next break.
				j = strings.IndexAny(s[i+1:], " \t,;<")
				if j < 0 {
					j = len(s) - i - 1
				}
				toks = append(toks, addrTok{tAngle, s[i+1 : i+1+j], space})
				i += 1 + j
			} else {
				toks = append(toks, addrTok{tAngle, s[i+1 : i+1+j], space})
				i += j + 2
			}
		case c == '>':
			i++
		case c == ',':
			toks = append(toks, addrTok{tComma, ",", space})
			i++
		case c == ';':
			toks = append(toks, addrTok{tSemi, ";", space})
			i++
		case c == ':':
			toks = append(toks, addrTok{tColon, ":", space})
			i++
		default:
			j := i
			if strings.HasPrefix(s[i:], "=?") { // an encoded word may hold specials
				if _, n, ok := parseEncodedWord(s[i:]); ok {
					j = i + n
				}
			}
			for j < len(s) && !strings.ContainsRune(" \t\r\n\"(<>,;:", rune(s[j])) {
				j++
			}
			if j == i {
				j++
			}
			toks = append(toks, addrTok{tAtom, s[i:j], space})
			i = j
		}
		space = false
	}
	return toks
}

// readDelimited reads up to the closing delimiter (nesting on open when it
// is not 0), resolving backslash escapes; it returns the content and the
// bytes consumed including the closing delimiter (or to the end).
func readDelimited(s string, closing, open byte) (string, int) {
	var sb strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			sb.WriteByte(s[i])
			continue
		case open != 0 && c == open:
			depth++
		case c == closing:
			if depth == 0 {
				return sb.String(), i + 1
			}
			depth--
		}
		sb.WriteByte(c)
	}
	return sb.String(), len(s)
}

// addrItem is what one comma- or semicolon-separated item holds.
type addrItem struct {
	email    string
	angle    bool
	phrase   string
	comments string
}

// parseAddressesLenient is the fallback parser; see ParseAddressList.
func parseAddressesLenient(s string) []Address {
	toks := lexAddresses(s)
	var out []Address
	var pending []string // name-only items before an angle address: "Smith, Bob <…>"
	var cur []addrTok
	endItem := func(sep addrTokKind) {
		it := buildItem(cur)
		cur = cur[:0]
		switch {
		case it.email == "" && it.phrase != "":
			pending = append(pending, it.phrase)
		case it.email != "":
			name := it.phrase
			if it.angle && len(pending) > 0 {
				parts := make([]string, 0, len(pending)+1)
				for _, p := range pending {
					parts = append(parts, DecodeHeaderValue(p))
				}
				if d := DecodeHeaderValue(name); d != "" {
					parts = append(parts, d)
				}
				name = strings.Join(parts, ", ")
			}
			if strings.TrimSpace(name) == "" {
				name = it.comments
			}
			out = append(out, Address{Email: it.email, Name: name})
			pending = nil
		}
		if sep != tComma {
			pending = nil
		}
	}
	for _, t := range toks {
		switch t.kind {
		case tComma, tSemi:
			endItem(t.kind)
		case tColon:
			// RFC 5322 §3.4 group: what precedes ':' is the group's name.
			if !itemHasAddress(cur) {
				cur = cur[:0]
				pending = nil
			}
		default:
			// A second address in one item means a missing comma:
			// "Bob <b@x> Jane <j@x>", "a@x b@y". Words after the first
			// address go with the second.
			// A bare address before an angle address is its display name.
			if k := lastAddressToken(cur); k >= 0 && (isAddrAtom(t) || (t.kind == tAngle && cur[k].kind == tAngle)) {
				keep, tail := cur[:k+1], []addrTok(nil)
				for _, x := range cur[k+1:] {
					if t.kind == tAngle && (x.kind == tAtom || x.kind == tQuoted) {
						tail = append(tail, x)
					} else {
						keep = append(keep, x)
					}
				}
				cur = keep
				endItem(tSemi)
				cur = append(cur, tail...)
			}
			cur = append(cur, t)
		}
	}
	endItem(tSemi)
	return out
}

func itemHasAddress(toks []addrTok) bool {
	return lastAddressToken(toks) >= 0
}

// lastAddressToken returns the index of the last angle address or bare
// address in toks, or -1.
func lastAddressToken(toks []addrTok) int {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].kind == tAngle || isAddrAtom(toks[i]) {
			return i
		}
	}
	return -1
}

func isAddrAtom(t addrTok) bool {
	return t.kind == tAtom && strings.Contains(t.text, "@") && !strings.HasPrefix(t.text, "=?")
}

// buildItem turns the tokens of one item into an address and its name parts.
func buildItem(toks []addrTok) addrItem {
	var it addrItem
	emailAt, quotedLocal := -1, -1
	for i, t := range toks {
		if t.kind == tAngle {
			it.email, it.angle, emailAt = angleAddress(t.text), true, i
			break
		}
	}
	if !it.angle {
		for i, t := range toks {
			if isAddrAtom(t) {
				it.email, emailAt = t.text, i
				// "john doe"@example.org: a quoted local part glued to the domain.
				if strings.HasPrefix(t.text, "@") && i > 0 && toks[i-1].kind == tQuoted && !t.space {
					it.email, quotedLocal = quoteLocal(toks[i-1].text)+t.text, i-1
				}
				break
			}
		}
	}
	var phrase, comments []string
	for i, t := range toks {
		switch {
		case i == emailAt || i == quotedLocal:
		case t.kind == tComment:
			comments = append(comments, t.text)
		case it.angle && i > emailAt:
			// text after an angle address is junk
		case t.kind == tAtom || t.kind == tQuoted:
			phrase = append(phrase, t.text)
		}
	}
	it.phrase = strings.Join(phrase, " ")
	it.comments = strings.Join(comments, " ")
	return it
}

// angleAddress returns the addr-spec inside <…>, dropping an obsolete
// source route (RFC 5322 §4.4: <@relay:user@host>).
func angleAddress(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			s = s[i+1:]
		}
	}
	return strings.Join(strings.Fields(s), "")
}

// quoteLocal makes a quoted-string local part (RFC 5322 §3.4.1).
func quoteLocal(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
