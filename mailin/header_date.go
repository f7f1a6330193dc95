package mailin

import (
	"strconv"
	"strings"
	"time"
)

// Zone names seen in Date headers. RFC 5322 §4.3 defines UT/GMT and the
// North American ones; the rest are what mailers actually write.
var zoneOffsets = map[string]int{
	"ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0, "bst": 60, "ist": 330, "west": 60,
	"est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360, "pst": -480, "pdt": -420,
	"akst": -540, "akdt": -480, "hst": -600, "ast": -240, "adt": -180, "nst": -210, "ndt": -150,
	"cet": 60, "cest": 120, "met": 60, "mest": 120, "mez": 60, "mesz": 120, "eet": 120, "eest": 180,
	"msk": 180, "jst": 540, "kst": 540, "hkt": 480, "sgt": 480, "awst": 480, "acst": 570, "acdt": 630,
	"aest": 600, "aedt": 660, "nzst": 720, "nzdt": 780, "brt": -180, "art": -180, "pht": 480, "wib": 420,
}

var monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// monthWords are full month names in the languages mailers write dates in;
// English first.
var monthWords = func() []struct {
	name  string
	month int
} {
	var out []struct {
		name  string
		month int
	}
	for _, lang := range [][12]string{
		{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"},
		{"januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "dezember"},
		{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	} {
		for i, n := range lang {
			out = append(out, struct {
				name  string
				month int
			}{n, i + 1})
		}
	}
	// Spellings without accents and German "Mrz".
	for n, m := range map[string]int{"fevrier": 2, "aout": 8, "decembre": 12, "mrz": 3, "maerz": 3} {
		out = append(out, struct {
			name  string
			month int
		}{n, m})
	}
	return out
}()

// ParseDate parses a Date header leniently; zero time when hopeless.
//
// Beyond RFC 5322 §3.3 it accepts: missing seconds, wrong or missing day
// names, two- and three-digit years (§4.3), named zones (including those in a
// trailing comment such as "(CET)"), "GMT+0100", missing zone (taken as
// UTC), month before day, dashes (RFC 850), extra white space and commas,
// AM/PM, and ISO 8601.
func ParseDate(raw string) time.Time {
	s := strings.TrimSpace(unfold(raw))
	if s == "" || len(s) > 200 {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z07:00",
		"2006-01-02 15:04:05 -0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	var comments []string
	for {
		i := strings.IndexByte(s, '(')
		if i < 0 {
			break
		}
		j := skipComment(s, i)
		comments = append(comments, strings.Trim(s[i:j], "() "))
		s = s[:i] + " " + s[j:]
	}
	var (
		year, month, day    = -1, -1, -1
		hour, minute, sec   = -1, 0, 0
		zone, zoneSet, isPM = 0, false, 0
	)
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
	for k := 0; k < len(fields); k++ {
		f := strings.ToLower(strings.TrimSuffix(fields[k], "."))
		if strings.Count(f, "-") == 2 && !strings.HasPrefix(f, "-") && !strings.Contains(f, ":") { // 23-Nov-2026
			parts := strings.Split(f, "-")
			if len(parts[0]) == 4 && isShortDigits(parts[0]) && isShortDigits(parts[1]) && isShortDigits(parts[2]) { // 2026-11-23
				year, _ = strconv.Atoi(parts[0])
				month, _ = strconv.Atoi(parts[1])
				day, _ = strconv.Atoi(parts[2])
				continue
			}
			fields = append(fields[:k+1], append(parts, fields[k+1:]...)...)
			continue
		}
		switch {
		case f == "":
		case f[0] == '+' || f[0] == '-':
			if off, ok := parseOffset(f); ok && !zoneSet {
				zone, zoneSet = off, true
			}
		case strings.Contains(f, ":"):
			tm := f
			if i := strings.IndexAny(tm, "+-"); i > 0 { // 10:44:00+0100
				fields = append(fields[:k+1], append([]string{tm[i:]}, fields[k+1:]...)...)
				tm = tm[:i]
			}
			if h, m, sc := parseClock(tm); hour < 0 && h >= 0 {
				hour, minute, sec = h, m, sc
			}
		case f == "am" || f == "a.m":
			isPM = -1
		case f == "pm" || f == "p.m":
			isPM = 1
		case isShortDigits(f):
			n, _ := strconv.Atoi(f)
			switch {
			case len(f) >= 3 || n > 31:
				if year < 0 {
					year = n
				}
			case day < 0:
				day = n
			case year < 0:
				year = n
			}
		default:
			if m := monthIndex(f); m > 0 && month < 0 {
				month = m
				continue
			}
			if off, ok := namedZone(f); ok && !zoneSet {
				zone, zoneSet = off, true
			}
		}
	}
	if !zoneSet {
		for _, c := range comments {
			if off, ok := namedZone(strings.ToLower(c)); ok {
				zone = off
				break
			}
		}
	}
	if hour < 0 {
		hour = 0
	}
	switch {
	case isPM == 1 && hour < 12:
		hour += 12
	case isPM == -1 && hour == 12:
		hour = 0
	}
	switch {
	case year >= 0 && year < 50:
		year += 2000
	case year >= 50 && year < 1000:
		year += 1900
	}
	if year < 1900 || year > 9999 || month < 1 || day < 1 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 60 {
		return time.Time{}
	}
	if sec == 60 {
		sec = 59
	}
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.FixedZone("", zone*60))
}

func parseClock(s string) (h, m, sec int) {
	if i := strings.IndexByte(s, '.'); i >= 0 { // fractional seconds
		s = s[:i]
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return -1, -1, -1
	}
	nums := []int{0, 0, 0}
	for i, p := range parts {
		if !isShortDigits(p) || len(p) > 2 {
			return -1, -1, -1
		}
		nums[i], _ = strconv.Atoi(p)
	}
	return nums[0], nums[1], nums[2]
}

// parseOffset parses +hhmm, -hh:mm, +hh; minutes east of UTC.
func parseOffset(s string) (int, bool) {
	if len(s) < 2 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	d := strings.ReplaceAll(s[1:], ":", "")
	if !isShortDigits(d) || len(d) > 4 {
		return 0, false
	}
	var h, m int
	switch len(d) {
	case 1, 2:
		h, _ = strconv.Atoi(d)
	case 3:
		h, _ = strconv.Atoi(d[:1])
		m, _ = strconv.Atoi(d[1:])
	default:
		h, _ = strconv.Atoi(d[:2])
		m, _ = strconv.Atoi(d[2:])
	}
	if h > 23 || m > 59 {
		return 0, false
	}
	off := h*60 + m
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// namedZone resolves "cet", "gmt+0100", "utc-5"; military letters other than
// Z mean -0000 (RFC 5322 §4.3).
func namedZone(f string) (int, bool) {
	if off, ok := zoneOffsets[f]; ok {
		return off, true
	}
	for _, p := range []string{"gmt", "utc", "ut"} {
		if strings.HasPrefix(f, p) && len(f) > len(p) {
			return parseOffset(f[len(p):])
		}
	}
	if len(f) == 1 && f[0] >= 'a' && f[0] <= 'z' && f != "j" {
		return 0, true
	}
	return 0, false
}

func monthIndex(f string) int {
	if len(f) < 3 {
		return 0
	}
	// A month is an abbreviation or the whole name: "mar", "march", "märz",
	// but not any word that starts like one ("mardi" is Tuesday).
	for _, m := range monthWords {
		if strings.HasPrefix(m.name, f) {
			return m.month
		}
	}
	return 0
}

func isShortDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && r < 0x80 {
			return false
		}
	}
	return true
}
