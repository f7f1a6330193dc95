package mailin

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// subjectPrefixes are reply and forward prefixes as mail clients write them
// in many languages (compared case-insensitively, always followed by ":" or
// "："). Auto-reply words ("Automatic reply", "Abwesend") are not here: those
// mails are classified elsewhere and keep their subject.
const subjectPrefixes = `re|aw|antw|antwort|sv|vs|wg|fwd|fw|tr|trs|rv|rif|r|i|réf|ref|rép|res|enc|odp|pd|ynt|ilt|İlt|` +
	`İLT|vá|atb|ats|doorst|forw|reenv|ang|vl|vb|odg|posl|pārs|pers|` +
	`回复|答复|回覆|答覆|转发|轉寄|轉發|返信|転送|회신|전달|ответ|отв|пересл|απ|σχετ|πρθ|תגובה|השב|הועבר|رد|توجيه`

// subjectPrefixRe matches one leading prefix with an optional counter
// (Re[2], Re(2), Re^2) and its colon, ASCII or full-width.
var subjectPrefixRe = regexp.MustCompile(`(?i)^(?:` + subjectPrefixes + `)` +
	`[ \t\x{00A0}]*(?:\[\d{1,4}\]|\(\d{1,4}\)|\^\d{1,4})?[ \t\x{00A0}\x{3000}]*[:：][\s\x{3000}]*`)

// subjectCautionRe matches the caution tags mail gateways put in front of
// external mail: "[EXTERNAL]", "[External]", "[EXT]", "EXTERNAL:".
var subjectCautionRe = regexp.MustCompile(`^(?:(?i:\[(?:external|ext|extern|externe|external email|` +
	`external sender)\])|EXTERNAL[ \t]*[:：])[\s\x{3000}]*`)

// NormalizeSubject strips every leading reply/forward prefix ("AW: WG: Re:",
// "回复：", "Re[2]:"), gateway caution tags in front of them, collapses white
// space and trims, so that a reply's subject compares equal to the
// original's (DESIGN §3.4). Words that only look like a prefix stay
// ("Re-painting the lobby", "Fwd"). Subject tags such as "[REQ-1001]" are
// left alone: strip them first with StripSubjectTags.
func NormalizeSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for {
		t := subjectCautionRe.ReplaceAllString(s, "")
		t = subjectPrefixRe.ReplaceAllString(t, "")
		if t == s {
			return s
		}
		s = t
	}
}

// subjectTagRes caches the tag pattern per prefix (there is one in practice).
var subjectTagRes sync.Map

// subjectTagRe finds "[<prefix><n>]" tags, also with full-width brackets.
func subjectTagRe(prefix string) *regexp.Regexp {
	if re, ok := subjectTagRes.Load(prefix); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(`(?i)[\[［【][ \t]*` + regexp.QuoteMeta(prefix) + `[ \t]*(\d{1,18})[ \t]*[\]］】]`)
	subjectTagRes.Store(prefix, re)
	return re
}

// SubjectTags returns the request numbers of every "[<prefix><n>]" tag in s
// (prefix e.g. "REQ-", compared case-insensitively), in order, without
// duplicates. An empty prefix finds nothing: a bare "[2024]" is no tag.
func SubjectTags(s, prefix string) (numbers []int64) {
	if prefix == "" {
		return nil
	}
	for _, m := range subjectTagRe(prefix).FindAllStringSubmatch(s, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		dup := false
		for _, have := range numbers {
			dup = dup || have == n
		}
		if !dup {
			numbers = append(numbers, n)
		}
	}
	return numbers
}

// StripSubjectTags removes every "[<prefix><n>]" tag from s, collapses white
// space and trims. Apply it before NormalizeSubject: "RE: [REQ-1001] Leak"
// becomes "RE: Leak", then "Leak".
func StripSubjectTags(s, prefix string) string {
	if prefix != "" {
		s = subjectTagRe(prefix).ReplaceAllString(s, " ")
	}
	return strings.Join(strings.Fields(s), " ")
}
