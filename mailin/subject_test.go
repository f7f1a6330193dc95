package mailin

import (
	"slices"
	"testing"
)

func TestNormalizeSubject(t *testing.T) {
	const s = "Elevator B stuck on floor 3"
	cases := []struct{ name, in, want string }{
		{"plain", s, s},
		{"sv", "SV: " + s, s},
		{"aw-wg", "AW: WG: " + s, s},
		{"stacked-mixed", "Re: AW: Fwd: RE: Antw: " + s, s},
		{"no-space", "Re:Re:" + s, s},
		{"space-before-colon-fr", "RE : TR : " + s, s},
		{"fullwidth-colon", "回复：" + s, s},
		{"zh-stack", "答复: 转发: 回覆：" + s, s},
		{"zh-tw", "轉寄: " + s, s},
		{"ja", "返信: 転送: " + s, s},
		{"re-bracket-count", "Re[2]: " + s, s},
		{"re-paren-count", "Re(2): " + s, s},
		{"re-caret-count", "Re^2: " + s, s},
		{"RE-bracket-3", "RE[3]: " + s, s},
		{"lower", "re: fw: " + s, s},
		{"antwort", "Antwort: " + s, s},
		{"vs-fi", "VS: " + s, s},
		{"vl-fi", "VL: " + s, s},
		{"it", "R: I: Rif: " + s, s},
		{"es", "RV: " + s, s},
		{"pt", "ENC: Res: " + s, s},
		{"fr", "TR: Réf: " + s, s},
		{"pl", "Odp: PD: " + s, s},
		{"tr", "YNT: İLT: " + s, s},
		{"hu", "Vá: " + s, s},
		{"lv-lt", "Atb: Ats: " + s, s},
		{"nl", "Doorst: Antw: " + s, s},
		{"sv-ang", "Ang: VB: " + s, s},
		{"ru", "Ответ: Пересл: Отв: " + s, s},
		{"el", "ΑΠ: ΣΧΕΤ: ΠΡΘ: " + s, s},
		{"el-lower", "Απ: " + s, s},
		{"he", "תגובה: השב: " + s, s},
		{"ar", "رد: " + s, s},
		{"ko", "회신: 전달: " + s, s},
		{"reenv-forw", "Reenv: Forw: " + s, s},
		{"external-tag", "[EXTERNAL] RE: " + s, s},
		{"external-tag-after-prefix", "RE: [External] " + s, s},
		{"ext-tag", "[EXT] Fwd: " + s, s},
		{"external-colon", "EXTERNAL: Re: " + s, s},
		{"whitespace", "  Re:\t AW:   Elevator  B stuck\ton floor 3  ", s},
		{"nbsp", "Re:\u00a0" + s, s},
		{"keeps-req-tag", "Re: [REQ-1001] " + s, "[REQ-1001] " + s},
		{"keeps-list-tag", "[tenants] Re: " + s, "[tenants] Re: " + s},
		// Negatives: words that only look like prefixes.
		{"re-painting", "Re-painting the lobby", "Re-painting the lobby"},
		{"fwd-alone", "Fwd", "Fwd"},
		{"regarding-word", "Regarding: the lobby", "Regarding: the lobby"},
		{"reply-word", "Reply needed", "Reply needed"},
		{"re-inside", "Meeting Re: budget", "Meeting Re: budget"},
		{"automatic-reply", "Automatic reply: " + s, "Automatic reply: " + s},
		{"ct-scan", "CT: scanner broken", "CT: scanner broken"},
		{"external-word", "External: wall damaged", "External: wall damaged"},
		{"only-prefix", "Re:", ""},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := NormalizeSubject(c.in); got != c.want {
				t.Errorf("NormalizeSubject(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestSubjectTags(t *testing.T) {
	cases := []struct {
		name, in, prefix string
		want             []int64
		stripped         string
	}{
		{"start", "[REQ-1001] Broken blind", "REQ-", []int64{1001}, "Broken blind"},
		{"middle", "Photo for [REQ-1001] - taken this morning", "REQ-", []int64{1001}, "Photo for - taken this morning"},
		{"after-prefix", "RE: [REQ-1001] Coffee machine leaking", "REQ-", []int64{1001}, "RE: Coffee machine leaking"},
		{"case-insensitive", "[req-7] x", "REQ-", []int64{7}, "x"},
		{"two-and-dup", "[REQ-1] [REQ-2] [REQ-1] merge", "REQ-", []int64{1, 2}, "merge"},
		{"spaces-inside", "[ REQ-12 ] x", "REQ-", []int64{12}, "x"},
		{"fullwidth-brackets", "【REQ-1001】空调", "REQ-", []int64{1001}, "空调"},
		{"other-prefix", "[TKT#5] x [REQ-3]", "TKT#", []int64{5}, "x [REQ-3]"},
		{"regexp-meta-prefix", "[A.B-4] x [AxB-5]", "A.B-", []int64{4}, "x [AxB-5]"},
		{"no-number", "[REQ-] x", "REQ-", nil, "[REQ-] x"},
		{"not-a-tag", "REQ-1001 without brackets", "REQ-", nil, "REQ-1001 without brackets"},
		{"overflow", "[REQ-99999999999999999999] x", "REQ-", nil, "[REQ-99999999999999999999] x"},
		{"empty-prefix", "[2024] report", "", nil, "[2024] report"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SubjectTags(c.in, c.prefix); !slices.Equal(got, c.want) {
				t.Errorf("SubjectTags(%q, %q) = %v, want %v", c.in, c.prefix, got, c.want)
			}
			if got := StripSubjectTags(c.in, c.prefix); got != c.stripped {
				t.Errorf("StripSubjectTags(%q, %q) = %q, want %q", c.in, c.prefix, got, c.stripped)
			}
		})
	}
}

// Case 03 and 33: tag first, then prefixes, equals the original subject.
func TestSubjectCompare(t *testing.T) {
	for _, in := range []string{"SV: Elevator B stuck on floor 3", "AW: WG: Elevator B stuck on floor 3"} {
		if got := NormalizeSubject(StripSubjectTags(in, "REQ-")); got != "Elevator B stuck on floor 3" {
			t.Errorf("%q -> %q", in, got)
		}
	}
	if got := NormalizeSubject(StripSubjectTags("RE: [REQ-1001] Coffee machine leaking", "REQ-")); got != "Coffee machine leaking" {
		t.Errorf("got %q", got)
	}
}
