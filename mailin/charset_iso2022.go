package mailin

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// hasISO2022JPEscape reports whether b carries an ISO-2022-JP designation
// (RFC 1468) that selects a Japanese set.
func hasISO2022JPEscape(b []byte) bool {
	i := bytes.IndexByte(b, 0x1b)
	for i >= 0 && i+2 < len(b) {
		switch string(b[i+1 : i+3]) {
		case "$B", "$@", "(J", "(I", "$(":
			return true
		}
		j := bytes.IndexByte(b[i+1:], 0x1b)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// jisMode is the set designated into G0 of an ISO-2022-JP stream.
type jisMode int

const (
	jisASCII jisMode = iota
	jisRoman
	jisKana    // JIS X 0201 katakana (ESC ( I), CP50221
	jisX0208   // ESC $ @, ESC $ B; includes NEC row 13 and IBM rows 89-92 (CP50220)
	jisX0212   // ESC $ ( D
	jisGB2312  // ESC $ A (ISO-2022-JP-2)
	jisKSC5601 // ESC $ ( C (ISO-2022-JP-2)
)

// decodeISO2022JP decodes ISO-2022-JP and its extensions leniently. Two-byte
// JIS sets are converted to their EUC form (each byte OR 0x80) and decoded
// by x/text, whose JIS X 0208 table is the WHATWG one with the NEC and IBM
// extensions, so CP50220/ISO-2022-JP-MS text such as ① (row 13) decodes.
// Unknown escapes are skipped; SO/SI select half-width katakana (CP50222);
// 8-bit bytes are half-width katakana (CP50221) or, failing that, taken as
// UTF-8 / windows-1252.
func decodeISO2022JP(b []byte) string {
	if bytes.IndexByte(b, 0x1b) < 0 && bytes.IndexByte(b, 0x0e) < 0 && utf8.Valid(b) {
		return string(b)
	}
	var (
		sb       strings.Builder
		pend     []byte
		pendEnc  encoding.Encoding
		mode     = jisASCII
		shiftOut bool
		g2       *charmap.Charmap
	)
	sb.Grow(len(b) * 2)
	flush := func() {
		if len(pend) > 0 && pendEnc != nil {
			s, _ := pendEnc.NewDecoder().Bytes(pend)
			sb.Write(s)
		}
		pend = pend[:0]
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0x1b:
			flush()
			i = jisEscape(b, i, &mode, &g2, &sb)
			continue
		case c == 0x0e:
			flush()
			shiftOut = true
		case c == 0x0f:
			flush()
			shiftOut = false
		case c >= 0x80:
			flush()
			j := i
			for j < len(b) && b[j] >= 0x80 {
				j++
			}
			sb.WriteString(decodeHighRun(b[i:j]))
			i = j
			continue
		case c < 0x21 || c == 0x7f:
			flush()
			sb.WriteByte(c)
		case shiftOut || mode == jisKana:
			flush()
			if c <= 0x5f {
				sb.WriteRune(rune(0xff61 + int(c) - 0x21))
			} else {
				sb.WriteByte(c)
			}
		case mode == jisASCII || mode == jisRoman:
			flush()
			sb.WriteByte(c) // JIS Roman as ASCII, as Windows does (keeps ~ and \ in URLs)
		default:
			if i+1 >= len(b) || b[i+1] < 0x21 || b[i+1] > 0x7e {
				i++ // lone byte of a pair: drop
				continue
			}
			enc := japanese.EUCJP
			switch mode {
			case jisGB2312:
				enc = simplifiedchinese.GB18030
			case jisKSC5601:
				enc = korean.EUCKR
			}
			if pendEnc != enc {
				flush()
				pendEnc = enc
			}
			if mode == jisX0212 {
				pend = append(pend, 0x8f)
			}
			pend = append(pend, c|0x80, b[i+1]|0x80)
			i += 2
			continue
		}
		i++
	}
	flush()
	return sb.String()
}

// jisEscape interprets the escape sequence at b[i] and returns the index
// after it.
func jisEscape(b []byte, i int, mode *jisMode, g2 **charmap.Charmap, sb *strings.Builder) int {
	rest := string(b[i+1 : min(len(b), i+4)])
	set := func(m jisMode, n int) int { *mode = m; return i + 1 + n }
	switch {
	case strings.HasPrefix(rest, "(B"):
		return set(jisASCII, 2)
	case strings.HasPrefix(rest, "(J"), strings.HasPrefix(rest, "(H"):
		return set(jisRoman, 2)
	case strings.HasPrefix(rest, "(I"):
		return set(jisKana, 2)
	case strings.HasPrefix(rest, "$B"), strings.HasPrefix(rest, "$@"):
		return set(jisX0208, 2)
	case strings.HasPrefix(rest, "$A"):
		return set(jisGB2312, 2)
	case strings.HasPrefix(rest, "$(D"):
		return set(jisX0212, 3)
	case strings.HasPrefix(rest, "$(C"):
		return set(jisKSC5601, 3)
	case strings.HasPrefix(rest, "$(B"), strings.HasPrefix(rest, "$(@"), strings.HasPrefix(rest, "$(O"), strings.HasPrefix(rest, "$(Q"):
		return set(jisX0208, 3) // JIS X 0213 plane 1 is a superset of JIS X 0208
	case strings.HasPrefix(rest, ".A"):
		*g2 = charmap.ISO8859_1
		return i + 3
	case strings.HasPrefix(rest, ".F"):
		*g2 = charmap.ISO8859_7
		return i + 3
	case strings.HasPrefix(rest, "N") && len(rest) >= 2: // single shift 2 (ISO-2022-JP-2)
		if *g2 != nil {
			sb.WriteRune((*g2).DecodeByte(rest[1] | 0x80))
		}
		return i + 3
	}
	// Unknown: skip intermediates (0x20-0x2F) and one final byte.
	j := i + 1
	for j < len(b) && b[j] >= 0x20 && b[j] <= 0x2f {
		j++
	}
	if j < len(b) && b[j] >= 0x30 && b[j] <= 0x7e {
		j++
	}
	return j
}

// decodeHighRun decodes a run of 8-bit bytes found in a 7-bit stream.
func decodeHighRun(run []byte) string {
	if utf8.Valid(run) {
		return string(run)
	}
	var sb strings.Builder
	for _, c := range run {
		if c >= 0xa1 && c <= 0xdf {
			sb.WriteRune(rune(0xff61 + int(c) - 0xa1))
		} else {
			sb.WriteString(decode1252([]byte{c}))
		}
	}
	return sb.String()
}

// decodeISO2022KR decodes RFC 1557 ISO-2022-KR: ESC $ ) C designates KS C
// 5601 to G1, SO/SI switch between it and ASCII.
func decodeISO2022KR(b []byte) string {
	b = bytes.ReplaceAll(b, []byte("\x1b$)C"), nil)
	var sb strings.Builder
	var pend []byte
	shifted := false
	flush := func() {
		if len(pend) > 0 {
			s, _ := korean.EUCKR.NewDecoder().Bytes(pend)
			sb.Write(s)
			pend = pend[:0]
		}
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x0e:
			shifted = true
		case c == 0x0f:
			flush()
			shifted = false
		case c >= 0x80:
			flush()
			sb.WriteString(decode1252([]byte{c}))
		case shifted && c >= 0x21 && c <= 0x7e && i+1 < len(b) && b[i+1] >= 0x21 && b[i+1] <= 0x7e:
			pend = append(pend, c|0x80, b[i+1]|0x80)
			i++
		default:
			flush()
			sb.WriteByte(c)
		}
	}
	flush()
	return sb.String()
}

// decodeUTF7 decodes RFC 2152 UTF-7; ok is false when b cannot be UTF-7.
func decodeUTF7(b []byte) (string, bool) {
	var sb strings.Builder
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x80 {
			return "", false
		}
		if c != '+' {
			sb.WriteByte(c)
			i++
			continue
		}
		i++
		j := i
		for j < len(b) && b64Value(b[j]) >= 0 {
			j++
		}
		if j == i {
			sb.WriteByte('+')
			if j < len(b) && b[j] == '-' {
				i++
			}
			continue
		}
		var bits uint32
		var nbits int
		var units []uint16
		for _, ch := range b[i:j] {
			bits = bits<<6 | uint32(b64Value(ch))
			nbits += 6
			if nbits >= 16 {
				nbits -= 16
				units = append(units, uint16(bits>>nbits))
				bits &= 1<<nbits - 1
			}
		}
		sb.WriteString(string(utf16.Decode(units)))
		i = j
		if i < len(b) && b[i] == '-' {
			i++
		}
	}
	return sb.String(), true
}

func b64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}
