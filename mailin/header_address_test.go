package mailin

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseAddressList(t *testing.T) {
	type A = Address
	tests := []struct {
		name, in string
		want     []Address
	}{
		{"case 19 cc line",
			"Smith, Bob <bob.smith@example.org>, \"O'Brien, Pat\" <pat.obrien@example.net>,\r\n =?utf-8?Q?M=C3=BCller=2C_Anna?= <anna.mueller@example.org>,\r\n \"Chen \\\"CJ\\\" Jun\" <cj@example.net>",
			[]A{{"bob.smith@example.org", "Smith, Bob"}, {"pat.obrien@example.net", "O'Brien, Pat"}, {"anna.mueller@example.org", "Müller, Anna"}, {"cj@example.net", `Chen "CJ" Jun`}}},
		{"case 19 from", `"Doe, Jane (Facilities)" <jane.doe@example.org>`, []A{{"jane.doe@example.org", "Doe, Jane (Facilities)"}}},
		{"unquoted comma name alone", "Smith, Bob <bob.smith@example.org>", []A{{"bob.smith@example.org", "Smith, Bob"}}},
		{"unquoted comma name, no encoded words elsewhere", "Smith, Bob <bob@example.org>, Doe, Jane <jane@example.org>", []A{{"bob@example.org", "Smith, Bob"}, {"jane@example.org", "Doe, Jane"}}},
		{"name-only item before bare address is dropped", "Smith, bob@example.org", []A{{"bob@example.org", ""}}},
		{"encoded comma in latin-1", "=?iso-8859-1?Q?M=FCller=2C_Anna?= <anna@example.org>", []A{{"anna@example.org", "Müller, Anna"}}},
		{"encoded name iso-2022-jp", "=?ISO-2022-JP?B?GyRCOjRGIxsoQg==?= <yuki.sato@jp.example.net>", []A{{"yuki.sato@jp.example.net", "佐藤"}}},
		{"encoded name split over words", "=?utf-8?B?4oI=?= =?utf-8?B?rA==?= <e@example.org>", []A{{"e@example.org", "€"}}},
		{"encoded name ks_c_5601-1987", b64word("ks_c_5601-1987", []byte("\xbe\xc8\xb3\xe7")) + " <k@example.kr>", []A{{"k@example.kr", "안녕"}}},
		{"encoded word inside quotes", `"=?utf-8?q?J=C3=B6rg?=" <j@example.org>`, []A{{"j@example.org", "Jörg"}}},
		{"encoded word with raw colon", "=?utf-8?q?Re:_x?= <r@example.org>", []A{{"r@example.org", "Re: x"}}},
		{"raw utf-8 name", "Jörg Müller <jm@example.org>", []A{{"jm@example.org", "Jörg Müller"}}},
		{"raw latin-1 name", "J\xf6rg <j@example.org>", []A{{"j@example.org", "Jörg"}}},
		{"raw iso-2022-jp name", "\x1b$B:4F#\x1b(B <s@example.jp>", []A{{"s@example.jp", "佐藤"}}},
		{"case 21 empty group", "undisclosed-recipients:;", nil},
		{"case 21 named group", `Building Committee: alice.wong@example.org, "Bruno Costa" <bruno.costa@example.net>;`, []A{{"alice.wong@example.org", ""}, {"bruno.costa@example.net", "Bruno Costa"}}},
		{"group then address", `Team: a@example.org; "C" <c@example.org>`, []A{{"a@example.org", ""}, {"c@example.org", "C"}}},
		{"group without closing semicolon", `Team: a@example.org, b@example.org`, []A{{"a@example.org", ""}, {"b@example.org", ""}}},
		{"comment name", "jane@example.org (Jane Doe)", []A{{"jane@example.org", "Jane Doe"}}},
		{"encoded comment name", "jane@example.org (=?utf-8?q?J=C3=A4ne?=)", []A{{"jane@example.org", "Jäne"}}},
		{"bare", "jane@example.org", []A{{"jane@example.org", ""}}},
		{"angle only", "<jane@example.org>", []A{{"jane@example.org", ""}}},
		{"missing closing bracket", "Jane <jane@example.org", []A{{"jane@example.org", "Jane"}}},
		{"missing closing bracket then more", "Jane <jane@example.org, Bob <bob@example.org>", []A{{"jane@example.org", "Jane"}, {"bob@example.org", "Bob"}}},
		{"trailing commas", "a@example.org,, b@example.org,", []A{{"a@example.org", ""}, {"b@example.org", ""}}},
		{"semicolons", "a@example.org; b@example.org", []A{{"a@example.org", ""}, {"b@example.org", ""}}},
		{"upper case", "Jane <JANE.DOE@EXAMPLE.ORG>", []A{{"jane.doe@example.org", "Jane"}}},
		{"idn", "user@bücher.example", []A{{"user@xn--bcher-kva.example", ""}}},
		{"idn with name", "Büro <info@bücher.example>", []A{{"info@xn--bcher-kva.example", "Büro"}}},
		{"name equal to address dropped", `"jane@example.org" <jane@example.org>`, []A{{"jane@example.org", ""}}},
		{"name equal to address other case", `'Jane@Example.org' <jane@example.org>`, []A{{"jane@example.org", ""}}},
		{"single quotes stripped", `'Jane Doe' <jane@example.org>`, []A{{"jane@example.org", "Jane Doe"}}},
		{"whitespace collapsed", "\"Jane   \t Doe\" <jane@example.org>", []A{{"jane@example.org", "Jane Doe"}}},
		{"dedupe keeps first", "A <a@example.org>, B <A@example.org>", []A{{"a@example.org", "A"}}},
		{"dedupe fills empty name", "a@example.org, B <A@example.org>", []A{{"a@example.org", "B"}}},
		{"no at dropped", "Smith", nil},
		{"no at in angle dropped", "Smith <smith>", nil},
		{"no at between good ones", "a@example.org, Bob, b@example.org", []A{{"a@example.org", ""}, {"b@example.org", ""}}},
		{"source route", "<@relay.example:jane@example.org>", []A{{"jane@example.org", ""}}},
		{"text after angle ignored", "Jane <jane@example.org> junk", []A{{"jane@example.org", "Jane"}}},
		{"name without brackets", "Jane Doe jane@example.org", []A{{"jane@example.org", "Jane Doe"}}},
		{"quoted local part", `"john doe"@example.org`, []A{{`"john doe"@example.org`, ""}}},
		{"mailto in angle", "Jane <mailto:jane@example.org>", []A{{"jane@example.org", "Jane"}}},
		{"folded lf", "Jane\n <jane@example.org>", []A{{"jane@example.org", "Jane"}}},
		{"missing comma between angle addresses", "Bob Smith <bob@example.org> Jane Doe <jane@example.org>", []A{{"bob@example.org", "Bob Smith"}, {"jane@example.org", "Jane Doe"}}},
		{"missing comma between bare addresses", "a@example.org b@example.org", []A{{"a@example.org", ""}, {"b@example.org", ""}}},
		{"comment stays with its address", "a@example.org (A) b@example.org (B)", []A{{"a@example.org", "A"}, {"b@example.org", "B"}}},
		{"unclosed quote", `"Jane <jane@example.org>`, nil},
		{"empty", "", nil},
		{"only separators", ",;:<>", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseAddressList(tc.in)
			if !equalAddresses(got, tc.want) {
				t.Errorf("ParseAddressList(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func equalAddresses(a, b []Address) bool {
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

// The lenient tokenizer must agree with net/mail wherever net/mail succeeds,
// so that a header's result does not depend on which path parsed it.
func TestParseAddressListPathsAgree(t *testing.T) {
	for _, in := range []string{
		`"O'Brien, Pat" <pat@example.net>, "Chen \"CJ\" Jun" <cj@example.net>`,
		`Building Committee: alice@example.org, "Bruno Costa" <bruno@example.net>;`,
		`undisclosed-recipients:;`,
		`jane@example.org (Jane Doe), <b@example.org>, Bob Smith <BOB@example.org>`,
		`Jörg Müller <jm@example.org>`,
		`a@example.org, a@example.org`,
	} {
		t.Run(in, func(t *testing.T) {
			lenient := finishAddresses(parseAddressesLenient(in))
			got := ParseAddressList(in)
			if !equalAddresses(got, lenient) {
				t.Errorf("net/mail path %q, lenient path %q", got, lenient)
			}
		})
	}
}

// The hand-made case files carry expectations about their headers.
func TestParseCaseFiles(t *testing.T) {
	dir := requireShared(t, "cases")
	read := func(name string) map[string][]string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Skipf("%s: %v", name, err)
		}
		return rawHeader(b)
	}
	h := read("06-iso-2022-jp-no-charset.eml")
	if got := DecodeHeaderValue(h["subject"][0]); got != "会議室Ｂのエアコンが止まりました（至急）" {
		t.Errorf("06 subject %q", got)
	}
	if got := ParseAddressList(h["from"][0]); !equalAddresses(got, []Address{{"yuki.sato@jp.example.net", "佐藤"}}) {
		t.Errorf("06 from %q", got)
	}
	h = read("07-cp1252-labelled-latin1.eml")
	if got := DecodeHeaderValue(h["subject"][0]); got != "Cafétéria fridge – quote" {
		t.Errorf("07 subject %q", got)
	}
	if got := ParseAddressList(h["from"][0]); !equalAddresses(got, []Address{{"chloe.martin@fr.example.net", "Chloé Martin"}}) {
		t.Errorf("07 from %q", got)
	}
	h = read("19-display-names-commas-quotes.eml")
	want := []Address{{"bob.smith@example.org", "Smith, Bob"}, {"pat.obrien@example.net", "O'Brien, Pat"},
		{"anna.mueller@example.org", "Müller, Anna"}, {"cj@example.net", `Chen "CJ" Jun`}}
	if got := ParseAddressList(h["cc"][0]); !equalAddresses(got, want) {
		t.Errorf("19 cc %q", got)
	}
	h = read("21-group-syntax-undisclosed.eml")
	if got := ParseAddressList(h["to"][0]); len(got) != 0 {
		t.Errorf("21 to %q", got)
	}
	if got := ParseAddressList(h["cc"][0]); !equalAddresses(got, []Address{{"alice.wong@example.org", ""}, {"bruno.costa@example.net", "Bruno Costa"}}) {
		t.Errorf("21 cc %q", got)
	}
}

// rawHeader splits the header of a message into lower-case field names and
// raw (folded, undecoded) values. It never fails.
func rawHeader(msg []byte) map[string][]string {
	h := map[string][]string{}
	var name string
	var val []byte
	flush := func() {
		if name != "" {
			h[name] = append(h[name], string(val))
		}
		name, val = "", nil
	}
	sc := bufio.NewScanner(bytes.NewReader(msg))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(line) == 0 {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && name != "" {
			val = append(append(val, "\r\n"...), line...)
			continue
		}
		flush()
		if i := bytes.IndexByte(line, ':'); i > 0 {
			name = strings.ToLower(strings.TrimSpace(string(line[:i])))
			val = append([]byte(nil), bytes.TrimLeft(line[i+1:], " \t")...)
		}
	}
	flush()
	return h
}

// Every header of every corpus file: no panic, valid UTF-8 out.
func TestHeaderCorpus(t *testing.T) {
	var dirs []string
	for _, d := range []string{filepath.Join("..", "..", "shared", "corpus"), filepath.Join("..", "..", "..", "shared", "corpus"),
		filepath.Join("..", "..", "..", "shared", "cases")} {
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		t.Skip("no corpus")
	}
	files := 0
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			files++
			for name, vals := range rawHeader(b) {
				for _, v := range vals {
					checkHeader(t, path+": "+name, v)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d files", files)
}

func checkHeader(t *testing.T, where, v string) {
	t.Helper()
	if s := DecodeHeaderValue(v); !utf8.ValidString(s) || strings.ContainsAny(s, "\x1b\r\n") {
		t.Errorf("%s: DecodeHeaderValue(%q) = %q", where, v, s)
	}
	for _, a := range ParseAddressList(v) {
		if !utf8.ValidString(a.Email) || !utf8.ValidString(a.Name) || a.Email == "" || !strings.Contains(a.Email, "@") ||
			strings.ContainsAny(a.Name, "\x1b\r\n") {
			t.Errorf("%s: ParseAddressList(%q) gave %q", where, v, a)
		}
	}
	for _, id := range ParseMessageIDs(v) {
		if !utf8.ValidString(id) || id == "" || strings.ContainsAny(id, "<> \r\n") {
			t.Errorf("%s: ParseMessageIDs(%q) gave %q", where, v, id)
		}
	}
	ParseDate(v)
}

func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{
		"Smith, Bob <bob.smith@example.org>, \"O'Brien, Pat\" <pat.obrien@example.net>",
		"=?utf-8?Q?M=C3=BCller=2C_Anna?= <anna.mueller@example.org>", `"Chen \"CJ\" Jun" <cj@example.net>`,
		"undisclosed-recipients:;", "G: a@x, \"B C\" <b@y>;", "jane@x (Jane (the) Doe)", "<a@b", "a@b,,;",
		"user@bücher.example", "J\xf6rg <j@x>", "\x1b$B:4F#\x1b(B <s@x>", "=?iso-2022-jp?B?GyRC?= <a@b>",
		"<@r:a@b>", `"x"@y`, "a@[1.2.3.4]", "=?utf-8?q?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range ParseAddressList(s) {
			if !utf8.ValidString(a.Email) || !utf8.ValidString(a.Name) || a.Email == "" || !strings.Contains(a.Email, "@") {
				t.Fatalf("ParseAddressList(%q) gave %q", s, a)
			}
			if NormalizeEmail(a.Email) != a.Email {
				t.Fatalf("ParseAddressList(%q) gave unnormalised %q", s, a.Email)
			}
		}
	})
}

func FuzzDecodeHeaderValue(f *testing.F) {
	for _, s := range []string{
		"=?ISO-2022-JP?B?GyRCMnE1RDw8I0IkTiUoJSIlMyVzJCwbKEI=?=\r\n =?ISO-2022-JP?B?GyRCO18kXiRqJF4kNyQ/GyhC?=",
		"=?iso-8859-1?Q?Caf=E9t=E9ria_fridge_=96_quote?=", "=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "foo=?utf-8?q?x?=",
		"=?utf-8*en?q?x?=", "Gr\xfc\xdfe", "=?utf-7?q?+ZeVnLIqe-?=", "=?iso-2022-kr?q?=1B$)C=0E>H=0F?=",
		"=?utf-16?b?AGgAaQ==?=", "\x1b$(D0!", "=?x?q?=ZZ?=", "a\r\n b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := DecodeHeaderValue(s)
		if !utf8.ValidString(got) || strings.ContainsAny(got, "\x1b\x00\r\n") {
			t.Fatalf("DecodeHeaderValue(%q) = %q", s, got)
		}
		ParseMessageIDs(s)
		ParseDate(s)
		if d := DecodeCharset(s, []byte(s)); !utf8.ValidString(d) || strings.ContainsRune(d, 0x1b) {
			t.Fatalf("DecodeCharset(%q) = %q", s, d)
		}
	})
}
