package mailin

import (
	"encoding/base64"
	"testing"
	"time"
)

func b64word(charset string, b []byte) string {
	return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString(b) + "?="
}

func TestDecodeHeaderValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"case 06 subject, three ISO-2022-JP words",
			"=?ISO-2022-JP?B?GyRCMnE1RDw8I0IkTiUoJSIlMyVzJCwbKEI=?=\r\n =?ISO-2022-JP?B?GyRCO18kXiRqJF4kNyQ/GyhC?=\r\n =?ISO-2022-JP?B?GyRCIUo7ajVeIUsbKEI=?=",
			"会議室Ｂのエアコンが止まりました（至急）"},
		{"case 06 from name", "=?ISO-2022-JP?B?GyRCOjRGIxsoQg==?=", "佐藤"},
		{"case 07 subject, latin-1 label with cp1252 byte", "=?iso-8859-1?Q?Caf=E9t=E9ria_fridge_=96_quote?=", "Cafétéria fridge – quote"},
		{"plain", "  Radiator leaking  ", "Radiator leaking"},
		{"B upper", "=?UTF-8?B?w6k=?=", "é"},
		{"b lower", "=?utf-8?b?w6k=?=", "é"},
		{"Q mixed case charset", "=?UtF-8?Q?Gr=C3=BC=c3=9fe_dich?=", "Grüße dich"},
		{"adjacent words joined", "=?utf-8?q?a?= =?utf-8?q?b?=", "ab"},
		{"adjacent words over folds", "=?utf-8?q?a?=\r\n\t=?utf-8?q?b?=\r\n =?utf-8?q?c?=", "abc"},
		{"word then text keeps space", "=?utf-8?q?a?= b", "a b"},
		{"text then word keeps space", "a =?utf-8?q?b?=", "a b"},
		{"utf-8 char split over words", "=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "€"},
		{"utf-8 char split over Q words", "=?utf-8?Q?=E2=82?= =?utf-8?Q?=AC_due?=", "€ due"},
		{"ISO-2022-JP state split over words", b64word("iso-2022-jp", []byte("\x1b$B$\"")) + " " + b64word("iso-2022-jp", []byte("$$\x1b(B")), "あい"},
		{"shift_jis char split over words", b64word("shift_jis", []byte("\x93")) + " " + b64word("shift_jis", []byte("\xfa\x96\x7b")), "日本"},
		{"different charsets adjacent", "=?utf-8?q?a?= =?iso-8859-1?q?=E9?=", "aé"},
		{"base64 missing padding", "=?utf-8?B?w6k?=", "é"},
		{"base64 missing padding longer", "=?utf-8?B?SGVsbG8gV29ybGQ?=", "Hello World"},
		{"base64 chopped across words", "=?utf-8?B?SGVsbG8gV29yb?= =?utf-8?B?GQ=?=", "Hello World"},
		{"base64 extra padding", "=?utf-8?B?w6k===?=", "é"},
		{"inside quotes", `"=?utf-8?q?J=C3=B6rg?=" <j@x.example>`, `"Jörg" <j@x.example>`},
		{"glued to text", "foo=?utf-8?q?x?=", "foox"},
		{"glued both sides", "[REQ-1]=?utf-8?q?=C3=A9?=bar", "[REQ-1]ébar"},
		{"rfc 2231 language", "=?utf-8*en?q?hello?=", "hello"},
		{"ks_c_5601-1987 word", b64word("ks_c_5601-1987", []byte("\xbe\xc8\xb3\xe7")), "안녕"},
		{"gb2312 word", b64word("gb2312", []byte("\xd6\xd0\xce\xc4")), "中文"},
		{"big5 word", b64word("big5", []byte("\xa4\xa4\xa4\xe5")), "中文"},
		{"unknown charset utf-8 bytes", "=?x-unknown?q?=C3=A9?=", "é"},
		{"unknown charset latin-1 bytes", "=?x-foo?q?=E9?=", "é"},
		{"empty charset", "=??q?=C3=A9?=", "é"},
		{"utf-7 word", "=?unicode-1-1-utf-7?q?+ZeVnLIqe-?=", "日本語"},
		{"raw utf-8", "Grüße aus Köln", "Grüße aus Köln"},
		{"raw latin-1", "Gr\xfc\xdfe", "Grüße"},
		{"raw cp1252", "\x93urgent\x94", "“urgent”"},
		{"raw iso-2022-jp", "\x1b$BF|K\\\x1b(B", "日本"},
		{"unfold crlf", "a\r\n b", "a b"},
		{"unfold lf tab", "a\n\tb", "a b"},
		{"bare newline", "a\nb", "a b"},
		{"collapse spaces", "a   \t b", "a b"},
		{"nul and esc removed, tab to space", "a\x00b\x1bc\td", "abc d"},
		{"encoded newline neutralised", "=?utf-8?q?a=0D=0ABcc:_x?=", "a Bcc: x"},
		{"not a word: bad encoding", "=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
		{"not a word: lone marker", "what =? is this", "what =? is this"},
		{"not a word: space in charset", "=?utf 8?q?a?=", "=?utf 8?q?a?="},
		{"unterminated word at end", "=?utf-8?q?caf=C3=A9", "café"},
		{"unterminated word then a good one", "=?utf-8?q?abc =?utf-8?q?d?=", "=?utf-8?q?abc d"},
		{"empty", "", ""},
		{"only spaces", " \r\n ", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DecodeHeaderValue(tc.in)
			if got != tc.want {
				t.Errorf("DecodeHeaderValue(%q) = %q, want %q", tc.in, got, tc.want)
			}
			checkClean(t, got)
		})
	}
}

func TestParseMessageIDs(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"one", "<a@b>", []string{"a@b"}},
		{"space separated", "<a@b> <c@d>", []string{"a@b", "c@d"}},
		{"comma separated", "<a@b>,<c@d>, <e@f>", []string{"a@b", "c@d", "e@f"}},
		{"folded", "<a@b>\r\n <c@d>\r\n\t<e@f>", []string{"a@b", "c@d", "e@f"}},
		{"no brackets", "a@b c@d", []string{"a@b", "c@d"}},
		{"mixed", "a@b <c@d>", []string{"a@b", "c@d"}},
		{"duplicates", "<a@b> <c@d> <a@b>", []string{"a@b", "c@d"}},
		{"junk between", "<a@b> (added by x) junk; <c@d>", []string{"a@b", "c@d"}},
		{"outlook folded inside brackets", "<AM0PR01MB1234\r\n 5678@eurprd01.prod.outlook.com>", []string{"AM0PR01MB12345678@eurprd01.prod.outlook.com"}},
		{"glued", "<a@b><c@d>", []string{"a@b", "c@d"}},
		{"unclosed", "<a@b <c@d>", []string{"a@b", "c@d"}},
		{"unclosed at end", "<c@d> <a@b", []string{"c@d", "a@b"}},
		{"bracketed without at", "<12345.abc>", []string{"12345.abc"}},
		{"bare word without at is junk", "hello <a@b> world", []string{"a@b"}},
		{"in-reply-to with date junk", `<a@b> (Jane's message of "Mon, 1 Jan 2024")`, []string{"a@b"}},
		{"empty brackets", "<> <a@b>", []string{"a@b"}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseMessageIDs(tc.in)
			if !equalStrings(got, tc.want) {
				t.Errorf("ParseMessageIDs(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseDate(t *testing.T) {
	at := func(y, mo, d, h, mi, s, offMin int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.FixedZone("", offMin*60))
	}
	tests := []struct {
		name, in string
		want     time.Time
	}{
		{"rfc 5322", "Mon, 23 Nov 2026 09:12:00 +0900", at(2026, 11, 23, 9, 12, 0, 540)},
		{"no day name", "23 Nov 2026 09:12:00 -0500", at(2026, 11, 23, 9, 12, 0, -300)},
		{"missing seconds", "Mon, 23 Nov 2026 09:12 +0100", at(2026, 11, 23, 9, 12, 0, 60)},
		{"comment zone name", "Mon, 23 Nov 2026 10:44:00 +0100 (CET)", at(2026, 11, 23, 10, 44, 0, 60)},
		{"zone only in comment", "Mon, 23 Nov 2026 10:44:00 (CEST)", at(2026, 11, 23, 10, 44, 0, 120)},
		{"named zone GMT", "Mon, 23 Nov 2026 10:44:00 GMT", at(2026, 11, 23, 10, 44, 0, 0)},
		{"named zone EST", "Mon, 23 Nov 2026 10:44:00 EST", at(2026, 11, 23, 10, 44, 0, -300)},
		{"named zone PDT", "Mon, 23 Nov 2026 10:44:00 PDT", at(2026, 11, 23, 10, 44, 0, -420)},
		{"named zone JST", "Mon, 23 Nov 2026 10:44:00 JST", at(2026, 11, 23, 10, 44, 0, 540)},
		{"GMT+0100", "Mon, 23 Nov 2026 10:44:00 GMT+0100", at(2026, 11, 23, 10, 44, 0, 60)},
		{"two-digit year 2000s", "Mon, 23 Nov 26 10:44:00 +0000", at(2026, 11, 23, 10, 44, 0, 0)},
		{"two-digit year 1900s", "Thu, 20 Nov 97 09:55:06 -0600", at(1997, 11, 20, 9, 55, 6, -360)},
		{"extra spaces", "Mon,  23  Nov   2026  10:44:00   +0100", at(2026, 11, 23, 10, 44, 0, 60)},
		{"wrong day name", "Fri, 23 Nov 2026 10:44:00 +0100", at(2026, 11, 23, 10, 44, 0, 60)},
		{"full names", "Monday, 23 November 2026 10:44:00 +0100", at(2026, 11, 23, 10, 44, 0, 60)},
		{"no comma after day", "Mon 23 Nov 2026 10:44:00 +0100", at(2026, 11, 23, 10, 44, 0, 60)},
		{"single digit day", "Mon, 3 Nov 2026 10:44:00 +0100", at(2026, 11, 3, 10, 44, 0, 60)},
		{"month first (asctime)", "Mon Nov 23 10:44:00 2026", at(2026, 11, 23, 10, 44, 0, 0)},
		{"rfc 850", "Monday, 23-Nov-26 10:44:00 GMT", at(2026, 11, 23, 10, 44, 0, 0)},
		{"offset with colon", "Mon, 23 Nov 2026 10:44:00 +01:00", at(2026, 11, 23, 10, 44, 0, 60)},
		{"offset glued to time", "23 Nov 2026 10:44:00+0100", at(2026, 11, 23, 10, 44, 0, 60)},
		{"no zone", "Mon, 23 Nov 2026 10:44:00", at(2026, 11, 23, 10, 44, 0, 0)},
		{"pm", "Nov 23, 2026 3:05 PM", at(2026, 11, 23, 15, 5, 0, 0)},
		{"iso 8601", "2026-11-23T10:44:00+01:00", at(2026, 11, 23, 10, 44, 0, 60)},
		{"iso with space", "2026-11-23 10:44:00", at(2026, 11, 23, 10, 44, 0, 0)},
		{"leap second", "Wed, 31 Dec 2026 23:59:60 +0000", at(2026, 12, 31, 23, 59, 59, 0)},
		{"folded", "Mon, 23 Nov 2026\r\n 10:44:00 +0100", at(2026, 11, 23, 10, 44, 0, 60)},
		{"german month", "Mo, 23 Okt 2026 10:44:00 +0200", at(2026, 10, 23, 10, 44, 0, 120)},
		{"hopeless", "yesterday", time.Time{}},
		{"empty", "", time.Time{}},
		{"no year", "Mon, 23 Nov 10:44:00", time.Time{}},
		{"bad day", "31 Feb 2026 10:00:00 +0000", time.Time{}},
		{"bad hour", "23 Nov 2026 25:00:00 +0000", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseDate(tc.in)
			if !got.Equal(tc.want) || got.IsZero() != tc.want.IsZero() {
				t.Errorf("ParseDate(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if !got.IsZero() {
				_, off := got.Zone()
				_, woff := tc.want.Zone()
				if off != woff {
					t.Errorf("ParseDate(%q) offset %d, want %d", tc.in, off, woff)
				}
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "jane.doe@example.org", "jane.doe@example.org"},
		{"upper case", "Jane.Doe@EXAMPLE.Org", "jane.doe@example.org"},
		{"brackets and spaces", " <jane@example.org> ", "jane@example.org"},
		{"mailto", "mailto:Jane@Example.org", "jane@example.org"},
		{"idn", "user@bücher.example", "user@xn--bcher-kva.example"},
		{"idn upper", "User@BÜCHER.example", "user@xn--bcher-kva.example"},
		{"idn already punycode", "user@xn--bcher-kva.example", "user@xn--bcher-kva.example"},
		{"idn ideographic full stop", "user@例え。テスト", "user@xn--r8jz45g.xn--zckzah"},
		{"trailing dot", "a@example.org.", "a@example.org"},
		{"plus address", "maintenance+urgent@example.com", "maintenance+urgent@example.com"},
		{"utf-8 local part", "Jörg@example.org", "jörg@example.org"},
		{"quoted local part", `"john doe"@example.org`, `"john doe"@example.org`},
		{"domain literal", "a@[192.0.2.1]", "a@[192.0.2.1]"},
		{"underscore domain", "a@mail_relay.example", "a@mail_relay.example"},
		{"localhost", "help@localhost", "help@localhost"},
		{"no at", "Smith", ""},
		{"empty local", "@example.org", ""},
		{"empty domain", "a@", ""},
		{"space in local", "jane doe@example.org", ""},
		{"two ats", "a@b@c", ""},
		{"empty label", "a@example..org", ""},
		{"empty", "", ""},
		{"control", "a\x00b@example.org", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NormalizeEmail(tc.in); got != tc.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseDateMonthWords(t *testing.T) {
	for in, month := range map[string]int{
		"mardi 24 novembre 2026 09:00":  11, // "mar" of mardi is not March
		"Tue, 24 Nov 2026 09:00 +0000":  11,
		"24. März 2026 09:00":           3,
		"24 de marzo de 2026 09:00":     3,
		"Tuesday, March 24, 2026 09:00": 3,
	} {
		if got := ParseDate(in); int(got.Month()) != month {
			t.Errorf("ParseDate(%q) = %v, want month %d", in, got, month)
		}
	}
}
