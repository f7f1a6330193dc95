package mailin

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// charsetKind says how a label is decoded when x/text alone does not serve.
type charsetKind int

const (
	kindAuto      charsetKind = iota // no or unknown label: sniff
	kindUTF8                         // UTF-8 (invalid bytes fall back per byte)
	kindWestern                      // us-ascii, latin-1, windows-1252: WHATWG windows-1252
	kindISO2022JP                    // ISO-2022-JP and its Microsoft/NEC variants
	kindISO2022KR                    // ISO-2022-KR (WHATWG maps it to "replacement")
	kindUTF7                         // RFC 2152
	kindXText                        // any other x/text encoding
)

// Labels x/text does not know, or knows in a way wrong for mail.
var charsetQuirks = map[string]charsetKind{
	"utf-8": kindUTF8, "utf8": kindUTF8, "unicode-1-1-utf-8": kindUTF8, "unicode11utf8": kindUTF8,
	"unicode20utf8": kindUTF8, "x-unicode20utf8": kindUTF8, "x-utf-8": kindUTF8, "x-utf8": kindUTF8, "x-utf-8j": kindUTF8,
	"x-utf_8j": kindUTF8, "utf-8n": kindUTF8,

	"us-ascii": kindWestern, "ascii": kindWestern, "us": kindWestern, "ansi_x3.4-1968": kindWestern,
	"ansi_x3.4-1986": kindWestern, "iso646-us": kindWestern, "iso_646.irv:1991": kindWestern, "cp367": kindWestern,
	"ibm367": kindWestern, "csascii": kindWestern, "iso-ir-6": kindWestern, "default": kindWestern,
	"iso-8859-1": kindWestern, "iso8859-1": kindWestern, "iso88591": kindWestern, "iso_8859-1": kindWestern,
	"iso_8859-1:1987": kindWestern, "latin1": kindWestern, "latin-1": kindWestern, "l1": kindWestern,
	"cp819": kindWestern, "ibm819": kindWestern, "iso-ir-100": kindWestern, "csisolatin1": kindWestern,
	"windows-1252": kindWestern, "cp1252": kindWestern, "x-cp1252": kindWestern, "win-1252": kindWestern,
	"ms-ansi": kindWestern, "ansi": kindWestern, "ansi_x3.110-1983": kindWestern, "8859-1": kindWestern,
	"iso-8859-1-windows-3.1-latin-1": kindWestern, "cswindows31latin1": kindWestern, "x-ansi": kindWestern,

	"iso-2022-jp": kindISO2022JP, "iso2022jp": kindISO2022JP, "csiso2022jp": kindISO2022JP, "iso-2022-jp-1": kindISO2022JP,
	"iso-2022-jp-2": kindISO2022JP, "csiso2022jp2": kindISO2022JP, "iso-2022-jp-3": kindISO2022JP, "iso-2022-jp-ms": kindISO2022JP,
	"cp50220": kindISO2022JP, "cp50221": kindISO2022JP, "cp50222": kindISO2022JP, "jis": kindISO2022JP, "x-jis": kindISO2022JP,
	"iso-2022-jp-2004": kindISO2022JP, "jis_encoding": kindISO2022JP, "csjisencoding": kindISO2022JP,

	"iso-2022-kr": kindISO2022KR, "csiso2022kr": kindISO2022KR, "cp50225": kindISO2022KR,

	"utf-7": kindUTF7, "utf7": kindUTF7, "unicode-1-1-utf-7": kindUTF7, "csunicode11utf7": kindUTF7,
	"x-unicode-2-0-utf-7": kindUTF7, "x-utf-7": kindUTF7, "unicode-2-0-utf-7": kindUTF7,
}

// Encodings chosen over what the indexes say, following what mailers mean.
var charsetEncodings = map[string]encoding.Encoding{
	// x/text korean.EUCKR is the WHATWG EUC-KR, i.e. CP949 (UHC), a superset of KS C 5601.
	"ks_c_5601-1987": korean.EUCKR, "ks_c_5601": korean.EUCKR, "ks_c_5601-1989": korean.EUCKR, "korean": korean.EUCKR,
	"ksc5601": korean.EUCKR, "ksc_5601": korean.EUCKR, "euc-kr": korean.EUCKR, "euckr": korean.EUCKR, "cp949": korean.EUCKR,
	"uhc": korean.EUCKR, "windows-949": korean.EUCKR, "x-windows-949": korean.EUCKR, "ms949": korean.EUCKR,
	"iso-ir-149": korean.EUCKR, "csksc56011987": korean.EUCKR, "cseuckr": korean.EUCKR, "x-uhc": korean.EUCKR,
	// GB2312 and GBK text decodes correctly as GB18030 (a superset of both).
	"gb2312": simplifiedchinese.GB18030, "gbk": simplifiedchinese.GB18030, "gb18030": simplifiedchinese.GB18030,
	"cp936": simplifiedchinese.GB18030, "x-gbk": simplifiedchinese.GB18030, "euc-cn": simplifiedchinese.GB18030,
	"euccn": simplifiedchinese.GB18030, "x-euc-cn": simplifiedchinese.GB18030, "csgb2312": simplifiedchinese.GB18030,
	"chinese": simplifiedchinese.GB18030, "iso-ir-58": simplifiedchinese.GB18030, "gb_2312-80": simplifiedchinese.GB18030,
	"gb_2312": simplifiedchinese.GB18030, "windows-936": simplifiedchinese.GB18030, "ms936": simplifiedchinese.GB18030,
	"gb18030-2000": simplifiedchinese.GB18030, "gb18030-2005": simplifiedchinese.GB18030, "x-mac-chinesesimp": simplifiedchinese.GB18030,
	"hz-gb-2312": simplifiedchinese.HZGB2312, "hz": simplifiedchinese.HZGB2312,
	// WHATWG Big5 includes HKSCS and the CP950 extensions.
	"big5": traditionalchinese.Big5, "big-5": traditionalchinese.Big5, "big5-hkscs": traditionalchinese.Big5,
	"big5hkscs": traditionalchinese.Big5, "cn-big5": traditionalchinese.Big5, "csbig5": traditionalchinese.Big5,
	"x-x-big5": traditionalchinese.Big5, "cp950": traditionalchinese.Big5, "windows-950": traditionalchinese.Big5,
	"ms950": traditionalchinese.Big5, "x-big5": traditionalchinese.Big5, "big5-eten": traditionalchinese.Big5,
	"x-mac-chinesetrad": traditionalchinese.Big5,
	// WHATWG Shift_JIS is Windows-31J (CP932) with the NEC and IBM extensions.
	"shift_jis": japanese.ShiftJIS, "shift-jis": japanese.ShiftJIS, "sjis": japanese.ShiftJIS, "x-sjis": japanese.ShiftJIS,
	"windows-31j": japanese.ShiftJIS, "cp932": japanese.ShiftJIS, "ms932": japanese.ShiftJIS, "ms_kanji": japanese.ShiftJIS,
	"csshiftjis": japanese.ShiftJIS, "cswindows31j": japanese.ShiftJIS, "x-ms-cp932": japanese.ShiftJIS,
	"windows-932": japanese.ShiftJIS, "shift_jisx0213": japanese.ShiftJIS, "shift_jis-2004": japanese.ShiftJIS,
	"x-mac-japanese": japanese.ShiftJIS,
	"euc-jp":         japanese.EUCJP, "eucjp": japanese.EUCJP, "x-euc-jp": japanese.EUCJP, "x-eucjp": japanese.EUCJP,
	"cseucpkdfmtjapanese": japanese.EUCJP, "euc-jis-2004": japanese.EUCJP, "euc-jisx0213": japanese.EUCJP,
	"eucjp-ms": japanese.EUCJP, "eucjp-open": japanese.EUCJP, "cp51932": japanese.EUCJP,
	// RFC 2781 §4.3: UTF-16 without a BOM is big-endian.
	"utf-16":      unicode.UTF16(unicode.BigEndian, unicode.UseBOM),
	"utf16":       unicode.UTF16(unicode.BigEndian, unicode.UseBOM),
	"ucs-2":       unicode.UTF16(unicode.BigEndian, unicode.UseBOM),
	"utf-16be":    unicode.UTF16(unicode.BigEndian, unicode.UseBOM),
	"unicodefffe": unicode.UTF16(unicode.BigEndian, unicode.UseBOM),
	"utf-16le":    unicode.UTF16(unicode.LittleEndian, unicode.UseBOM),
	"unicode":     unicode.UTF16(unicode.LittleEndian, unicode.UseBOM),
	"ucs-2le":     unicode.UTF16(unicode.LittleEndian, unicode.UseBOM),
	"utf-32":      utf32.UTF32(utf32.BigEndian, utf32.UseBOM),
	"utf32":       utf32.UTF32(utf32.BigEndian, utf32.UseBOM),
	"utf-32be":    utf32.UTF32(utf32.BigEndian, utf32.UseBOM),
	"utf-32le":    utf32.UTF32(utf32.LittleEndian, utf32.UseBOM),
	"ucs-4":       utf32.UTF32(utf32.BigEndian, utf32.UseBOM),
	// Thai mail labelled TIS-620 is in practice windows-874.
	"tis-620": charmap.Windows874, "tis620": charmap.Windows874, "iso-8859-11": charmap.Windows874,
}

// DecodeCharset converts b, labelled with charset label (may be "", unknown,
// or wrong), to UTF-8. Never fails: the result is always valid UTF-8 and
// never contains ESC (0x1B) or NUL.
func DecodeCharset(label string, b []byte) string {
	return finishDecoded(decodeCharset(label, b))
}

func decodeCharset(label string, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	kind, enc := lookupCharset(label)
	wide := kind == kindXText && isWideUnicode(enc)
	// An ISO-2022-JP escape cannot occur in honest text of any ASCII-based
	// charset, so it outranks the label (Japanese mailers mislabel it).
	if !wide && kind != kindISO2022KR && hasISO2022JPEscape(b) {
		return decodeISO2022JP(b)
	}
	switch kind {
	case kindUTF8:
		return decodeUTF8Lenient(b)
	case kindWestern:
		return decodeWestern(b)
	case kindISO2022JP:
		return decodeISO2022JP(b)
	case kindISO2022KR:
		return decodeISO2022KR(b)
	case kindUTF7:
		if s, ok := decodeUTF7(b); ok {
			return s
		}
		return decodeUTF8Lenient(b)
	case kindXText:
		s, err := enc.NewDecoder().Bytes(b)
		if err == nil && !(bytes.Contains(s, []byte("\uFFFD")) && !bytes.Contains(b, []byte("\uFFFD")) && utf8.Valid(b) && !wide) {
			return string(s)
		}
		// The label lied: text that is valid UTF-8 is UTF-8.
		if !wide && utf8.Valid(b) {
			return string(b)
		}
		if err == nil {
			return string(s)
		}
		return decodeUTF8Lenient(b)
	}
	// No label or one nobody knows: sniff.
	return decodeUTF8Lenient(b)
}

// lookupCharset maps a label (case-insensitive, possibly quoted or with
// junk around it) to a decoder.
func lookupCharset(label string) (charsetKind, encoding.Encoding) {
	for _, name := range labelCandidates(label) {
		if k, ok := charsetQuirks[name]; ok {
			return k, nil
		}
		if e, ok := charsetEncodings[name]; ok {
			return kindXText, e
		}
		if e := indexLookup(name); e != nil {
			if e == charmap.Windows1252 || e == charmap.ISO8859_1 {
				return kindWestern, nil
			}
			if e == japanese.ISO2022JP {
				return kindISO2022JP, nil
			}
			if e == encoding.Replacement {
				continue // WHATWG "replacement": ISO-2022-CN and the like
			}
			return kindXText, e
		}
	}
	return kindAuto, nil
}

func indexLookup(name string) encoding.Encoding {
	if e, err := htmlindex.Get(name); err == nil && e != nil {
		return e
	}
	for _, idx := range []*ianaindex.Index{ianaindex.MIME, ianaindex.IANA, ianaindex.MIB} {
		if e, err := idx.Encoding(name); err == nil && e != nil {
			return e
		}
	}
	return nil
}

// labelCandidates normalises a label and yields spellings to try, most
// literal first: `"UTF-8"` → utf-8; `x-cp1250` → cp1250 → windows-1250;
// iso8859_2 → iso-8859-2.
func labelCandidates(label string) []string {
	l := strings.ToLower(label)
	if i := strings.IndexAny(l, ";,"); i >= 0 {
		l = l[:i]
	}
	l = strings.Trim(l, " \t\r\n\"'`<>()[]{}")
	if i := strings.IndexByte(l, '*'); i >= 0 { // RFC 2231 language suffix
		l = l[:i]
	}
	l = strings.TrimSpace(l)
	if l == "" {
		return nil
	}
	out := []string{l}
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	u := strings.ReplaceAll(l, "_", "-")
	add(u)
	base := strings.TrimPrefix(u, "x-")
	add(base)
	switch {
	case strings.HasPrefix(base, "cp125") || strings.HasPrefix(base, "win125") || strings.HasPrefix(base, "ms125"):
		add("windows-" + strings.TrimLeft(base, "cpwinms-"))
	case strings.HasPrefix(base, "windows") && !strings.HasPrefix(base, "windows-"):
		add("windows-" + strings.TrimPrefix(base, "windows"))
	case strings.HasPrefix(base, "iso8859"):
		add("iso-8859-" + strings.TrimLeft(strings.TrimPrefix(base, "iso8859"), "-"))
	case strings.HasPrefix(base, "iso-8859") && !strings.HasPrefix(base, "iso-8859-"):
		add("iso-8859-" + strings.TrimPrefix(base, "iso-8859"))
	case strings.HasPrefix(base, "cp") || strings.HasPrefix(base, "ibm"):
		add("ibm" + strings.TrimLeft(base, "cpibm-"))
	case strings.HasPrefix(base, "koi8") && !strings.HasPrefix(base, "koi8-"):
		add("koi8-" + strings.TrimPrefix(base, "koi8"))
	}
	return out
}

func isWideUnicode(e encoding.Encoding) bool {
	if e == nil {
		return false
	}
	n := strings.ToLower(fmt.Sprint(e))
	return strings.Contains(n, "utf-16") || strings.Contains(n, "utf-32") || strings.Contains(n, "ucs")
}

// decodeWestern decodes us-ascii, ISO-8859-1 and windows-1252 labels as
// windows-1252 (WHATWG Encoding §5.2, so no C1 control survives), except
// that text which is entirely valid UTF-8 is taken as mislabelled UTF-8.
func decodeWestern(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return decode1252(b)
}

// decode1252 maps every byte through windows-1252, dropping the five bytes it
// leaves undefined rather than passing C1 controls on.
func decode1252(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		if c < 0x80 {
			sb.WriteByte(c)
			continue
		}
		r := charmap.Windows1252.DecodeByte(c)
		if (r >= 0x80 && r <= 0x9F) || r == utf8.RuneError {
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// decodeUTF8Lenient keeps valid UTF-8 sequences and decodes every byte that
// is not part of one as windows-1252, so latin-1 text and mixed text both
// come out readable.
func decodeUTF8Lenient(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			sb.WriteString(decode1252(b[:1]))
			b = b[1:]
			continue
		}
		sb.Write(b[:n])
		b = b[n:]
	}
	return sb.String()
}

// finishDecoded guarantees the contract of DecodeCharset: valid UTF-8, no
// ESC, no NUL.
func finishDecoded(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.ContainsAny(s, "\x1b\x00") {
		s = strings.Map(func(r rune) rune {
			if r == 0x1b || r == 0 {
				return -1
			}
			return r
		}, s)
	}
	return s
}
