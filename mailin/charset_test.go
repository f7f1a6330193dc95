package mailin

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

func encodeWith(t *testing.T, e encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return b
}

func TestDecodeCharset(t *testing.T) {
	case06 := "\x1b$B$*Hh$lMM$G$9!#\x1b(B\r\n\x1b$B3NG';v9`\x1b(B\x1b$B-!\x1b(B\x1b$B@_Dj29EY\x1b(B\r\n"
	tests := []struct {
		name, label string
		in          []byte
		want        string
	}{
		{"utf-8", "utf-8", []byte("Grüße"), "Grüße"},
		{"utf-8 quoted upper", `"UTF-8"`, []byte("Grüße"), "Grüße"},
		{"utf8 alias", "utf8", []byte("Grüße"), "Grüße"},
		{"utf-8 label but latin-1 bytes", "utf-8", []byte("Gr\xfc\xdfe"), "Grüße"},
		{"utf-8 mixed with one stray byte", "utf-8", []byte("Grüße \x96 Ende"), "Grüße – Ende"},
		{"empty input", "utf-8", nil, ""},
		{"no label ascii", "", []byte("hello"), "hello"},
		{"no label valid utf-8", "", []byte("日本"), "日本"},
		{"no label latin-1", "", []byte("Caf\xe9"), "Café"},
		{"unknown label utf-8", "x-unknown", []byte("日本"), "日本"},
		{"unknown label 8-bit", "x-unknown", []byte("\x93quoted\x94"), "“quoted”"},
		{"junk label", "charset=foo;", []byte("Caf\xe9"), "Café"},
		{"iso-8859-1 as windows-1252", "iso-8859-1", []byte("\x96 \x80 \x85 \x92"), "– € … ’"},
		{"quoted ISO-8859-1", `"ISO-8859-1"`, []byte("Chlo\xe9 \x93x\x94"), "Chloé “x”"},
		{"latin1", "latin1", []byte("\x80"), "€"},
		{"iso_8859-1", "ISO_8859-1", []byte("\x80"), "€"},
		{"us-ascii with 8-bit", "us-ascii", []byte("it\x92s"), "it’s"},
		{"ascii", "ascii", []byte("it\x92s"), "it’s"},
		{"us-ascii that is utf-8", "us-ascii", []byte("naïve"), "naïve"},
		{"windows-1252", "windows-1252", []byte("\x80"), "€"},
		{"cp1252", "cp1252", []byte("\x80"), "€"},
		{"x-cp1252", "x-cp1252", []byte("\x80"), "€"},
		{"no C1 controls from undefined bytes", "iso-8859-1", []byte("a\x81b\x8dc\x9dd"), "abcd"},
		{"iso-8859-2", "iso-8859-2", []byte("\xb1"), "ą"},
		{"iso8859_2 spelling", "iso8859_2", []byte("\xb1"), "ą"},
		{"iso-8859-15", "ISO-8859-15", []byte("\xa4"), "€"},
		{"koi8-r", "koi8-r", []byte("\xf0\xd2\xc9\xd7\xc5\xd4"), "Привет"},
		{"windows-1251", "windows-1251", []byte("\xcf\xf0\xe8"), "При"},
		{"cp1251", "cp1251", []byte("\xcf\xf0\xe8"), "При"},
		{"iso-8859-8 label on utf-8 text", "iso-8859-8", []byte("שלום"), "שלום"},
		{"ks_c_5601-1987", "ks_c_5601-1987", []byte("\xbe\xc8\xb3\xe7"), "안녕"},
		{"ks_c_5601-1987 cp949 extension", "ks_c_5601-1987", encodeWith(t, korean.EUCKR, "똠방각하"), "똠방각하"},
		{"ks_c_5601", "KS_C_5601", []byte("\xbe\xc8"), "안"},
		{"korean", "korean", []byte("\xbe\xc8"), "안"},
		{"euc-kr", "euc-kr", []byte("\xbe\xc8"), "안"},
		{"gb2312", "gb2312", []byte("\xd6\xd0\xce\xc4"), "中文"},
		{"gb2312 label with gbk char", "gb2312", encodeWith(t, simplifiedchinese.GBK, "镕"), "镕"},
		{"gbk", "GBK", []byte("\xd6\xd0"), "中"},
		{"gb18030 four-byte", "gb18030", encodeWith(t, simplifiedchinese.GB18030, "𠀀"), "𠀀"},
		{"big5", "big5", []byte("\xa4\xa4\xa4\xe5"), "中文"},
		{"big5-hkscs", "big5-hkscs", encodeWith(t, traditionalchinese.Big5, "中文"), "中文"},
		{"x-x-big5", "x-x-big5", []byte("\xa4\xa4"), "中"},
		{"shift_jis", "shift_jis", []byte("\x93\xfa\x96\x7b"), "日本"},
		{"sjis nec row 13", "sjis", []byte("\x87\x40"), "①"},
		{"windows-31j ibm extension", "windows-31j", []byte("\xfb\xfc"), "髙"},
		{"cp932", "cp932", []byte("\x87\x40"), "①"},
		{"euc-jp", "euc-jp", []byte("\xc6\xfc\xcb\xdc"), "日本"},
		{"euc-jp nec row 13", "EUC-JP", []byte("\xad\xa1"), "①"},
		{"iso-2022-jp", "iso-2022-jp", []byte("\x1b$BF|K\\\x1b(B"), "日本"},
		{"iso-2022-jp nec row 13 (CP50220)", "iso-2022-jp", []byte("\x1b$B-!\x1b(B"), "①"},
		{"iso-2022-jp ibm row 89-92", "iso-2022-jp", []byte("\x1b$By!\x1b(B"), string([]rune{0x7e8a})},
		{"iso-2022-jp esc $ @", "ISO-2022-JP", []byte("\x1b$@F|K\\\x1b(B"), "日本"},
		{"iso-2022-jp esc ( J", "iso-2022-jp", []byte("\x1b(Jabc\x1b(B"), "abc"},
		{"iso-2022-jp half-width katakana esc ( I", "iso-2022-jp", []byte("\x1b(I1\x1b(B"), "ｱ"},
		{"iso-2022-jp SO/SI katakana (CP50222)", "cp50222", []byte("a\x0e1\x0fb"), "aｱb"},
		{"iso-2022-jp 8-bit katakana (CP50221)", "cp50221", []byte("\xb1"), "ｱ"},
		{"iso-2022-jp jis x 0212", "iso-2022-jp-1", []byte("\x1b$(D0!\x1b(B"), "丂"},
		{"iso-2022-jp lone byte in two-byte mode", "iso-2022-jp", []byte("\x1b$BF|K\x1b(Bx"), "日x"},
		{"iso-2022-jp unknown escape dropped", "iso-2022-jp", []byte("a\x1b$(Zb"), "ab"},
		{"iso-2022-jp label but utf-8 text", "iso-2022-jp", []byte("日本"), "日本"},
		{"iso-2022-jp without label (case 06)", "", []byte(case06), "お疲れ様です。\r\n確認事項①設定温度\r\n"},
		{"iso-2022-jp mislabelled utf-8", "utf-8", []byte("\x1b$BF|K\\\x1b(B"), "日本"},
		{"iso-2022-jp mislabelled us-ascii", "us-ascii", []byte("\x1b$BF|K\\\x1b(B"), "日本"},
		{"iso-2022-kr", "iso-2022-kr", []byte("\x1b$)C\x0e>H3g\x0f!"), "안녕!"},
		{"utf-7", "utf-7", []byte("Hi Mom -+Jjo--!"), "Hi Mom -☺-!"},
		{"unicode-1-1-utf-7", "unicode-1-1-utf-7", []byte("+ZeVnLIqe-"), "日本語"},
		{"utf-7 plus", "utf-7", []byte("1 +- 1"), "1 + 1"},
		{"utf-16 with le bom", "utf-16", []byte("\xff\xfeh\x00i\x00"), "hi"},
		{"utf-16 without bom is big-endian", "utf-16", []byte("\x00h\x00i"), "hi"},
		{"utf-16le", "utf-16le", []byte("h\x00i\x00"), "hi"},
		{"hz-gb-2312", "hz-gb-2312", []byte("~{VPND~}"), "中文"},
		{"stray escape removed", "", []byte("a\x1bb"), "ab"},
		{"nul removed", "utf-8", []byte("a\x00b"), "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DecodeCharset(tc.label, tc.in)
			if got != tc.want {
				t.Errorf("DecodeCharset(%q, %q) = %q, want %q", tc.label, tc.in, got, tc.want)
			}
			checkClean(t, got)
		})
	}
}

// checkClean asserts the DecodeCharset contract.
func checkClean(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("invalid UTF-8: %q", s)
	}
	if strings.ContainsRune(s, 0x1b) {
		t.Errorf("ESC in output: %q", s)
	}
}

// Every label the x/text indexes know must resolve to something that decodes
// ASCII unchanged (the two wide Unicode forms aside).
func TestDecodeCharsetKnownLabels(t *testing.T) {
	labels := []string{"utf-8", "ibm866", "iso-8859-3", "iso-8859-4", "iso-8859-5", "iso-8859-6", "iso-8859-7",
		"iso-8859-8-i", "iso-8859-10", "iso-8859-13", "iso-8859-14", "iso-8859-16", "koi8-u", "macintosh",
		"windows-874", "windows-1250", "windows-1253", "windows-1254", "windows-1255", "windows-1256", "windows-1257",
		"windows-1258", "x-mac-cyrillic", "gbk", "gb18030", "big5", "euc-jp", "iso-2022-jp", "shift_jis", "euc-kr",
		"tis-620", "ibm437", "cp850", "ibm852", "cp866", "ISO_8859-5:1988", "csKOI8R", "cswindows1250", "win1250",
		"iso8859-5", "iso88595", "x-mac-roman", "mac", "ecma-118", "greek", "hebrew", "arabic", "cyrillic"}
	for _, l := range labels {
		t.Run(l, func(t *testing.T) {
			k, e := lookupCharset(l)
			if k == kindAuto {
				t.Fatalf("label %q not recognised", l)
			}
			if got := DecodeCharset(l, []byte("Hello, world 123")); got != "Hello, world 123" {
				t.Errorf("ASCII through %q (%v) = %q", l, e, got)
			}
		})
	}
	for _, l := range []string{"", "x-unknown", "nonsense-42", "replacement", "iso-2022-cn"} {
		t.Run("unknown "+l, func(t *testing.T) {
			if got := DecodeCharset(l, []byte("Caf\xe9")); got != "Café" {
				t.Errorf("DecodeCharset(%q) = %q, want Café", l, got)
			}
		})
	}
}

func TestDecodeCharsetRoundTrip(t *testing.T) {
	text := "会議室Ｂのエアコン①髙"
	for _, tc := range []struct {
		label string
		enc   encoding.Encoding
	}{
		{"shift_jis", japanese.ShiftJIS}, {"euc-jp", japanese.EUCJP}, {"iso-2022-jp", japanese.ISO2022JP},
	} {
		t.Run(tc.label, func(t *testing.T) {
			b := encodeWith(t, tc.enc, text)
			if got := DecodeCharset(tc.label, b); got != text {
				t.Errorf("got %q, want %q", got, text)
			}
		})
	}
}
