package mailin

import (
	"strings"
)

// cleanText makes decoded text safe to store and compare: valid UTF-8, LF
// line ends, no NUL bytes. It reports whether NULs were removed.
func cleanText(s string) (string, bool) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.Contains(s, "\r") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	hadNUL := strings.IndexByte(s, 0) >= 0
	if hadNUL {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s, hadNUL
}

// unflow joins the lines of a format=flowed text (RFC 3676 §4): a line
// ending in a space continues on the next line of the same quote depth.
// With delsp=yes the trailing space is removed when joining.
func unflow(s string, delsp bool) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	b.Grow(len(s))
	open := false // the previous line was flowed
	prevDepth := 0
	for _, ln := range lines {
		depth := 0
		for depth < len(ln) && ln[depth] == '>' {
			depth++
		}
		body := ln[depth:]
		if strings.HasPrefix(body, " ") { // space-stuffing (§4.4)
			body = body[1:]
		}
		if open && depth != prevDepth {
			b.WriteByte('\n') // a flowed line followed by another depth ends the paragraph
			open = false
		}
		if !open {
			b.WriteString(strings.Repeat(">", depth))
			if depth > 0 && body != "" {
				b.WriteByte(' ')
			}
		}
		flowed := strings.HasSuffix(body, " ") && body != "-- "
		if flowed && delsp {
			body = body[:len(body)-1]
		}
		b.WriteString(body)
		if !flowed {
			b.WriteByte('\n')
		}
		open, prevDepth = flowed, depth
	}
	out := b.String()
	if !strings.HasSuffix(s, "\n") {
		out = strings.TrimSuffix(out, "\n")
	}
	return out
}

// collapseSpace replaces runs of white space by one space and trims.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// joinTexts joins body parts with one blank line between them, skipping
// empty ones.
func joinTexts(parts []string) string {
	var keep []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			keep = append(keep, strings.TrimRight(p, "\n"))
		}
	}
	if len(keep) == 1 {
		return keep[0] + "\n"
	}
	if len(keep) == 0 {
		return ""
	}
	return strings.Join(keep, "\n\n") + "\n"
}

// calendarSummary renders the events of an iCalendar object (RFC 5545) as
// readable text: summary, start, end, location, organizer, description.
func calendarSummary(ics string) string {
	// Unfold (RFC 5545 §3.1).
	ics = strings.ReplaceAll(ics, "\r\n", "\n")
	ics = strings.ReplaceAll(ics, "\n ", "")
	ics = strings.ReplaceAll(ics, "\n\t", "")
	var b strings.Builder
	method := ""
	inEvent := false
	var ev [][2]string
	flush := func() {
		labels := []struct{ key, label string }{
			{"SUMMARY", "Event"}, {"DTSTART", "Start"}, {"DTEND", "End"},
			{"LOCATION", "Location"}, {"ORGANIZER", "Organizer"},
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		if strings.EqualFold(method, "CANCEL") {
			b.WriteString("Cancelled\n")
		}
		get := func(k string) string {
			for _, kv := range ev {
				if kv[0] == k {
					return kv[1]
				}
			}
			return ""
		}
		for _, l := range labels {
			if v := get(l.key); v != "" {
				b.WriteString(l.label + ": " + v + "\n")
			}
		}
		if d := get("DESCRIPTION"); d != "" {
			b.WriteString("\n" + strings.TrimRight(d, "\n") + "\n")
		}
		ev = nil
	}
	for _, ln := range strings.Split(ics, "\n") {
		name, value, ok := strings.Cut(ln, ":")
		if !ok {
			continue
		}
		params := ""
		if i := strings.IndexByte(name, ';'); i >= 0 {
			name, params = name[:i], name[i+1:]
		}
		name = strings.ToUpper(strings.TrimSpace(name))
		switch {
		case name == "METHOD":
			method = strings.TrimSpace(value)
		case name == "BEGIN" && strings.EqualFold(strings.TrimSpace(value), "VEVENT"):
			inEvent, ev = true, nil
		case name == "END" && strings.EqualFold(strings.TrimSpace(value), "VEVENT"):
			if inEvent {
				flush()
			}
			inEvent = false
		case inEvent:
			v := icsUnescape(value)
			switch name {
			case "DTSTART", "DTEND":
				v = icsTime(v, params)
			case "ORGANIZER":
				v = strings.TrimPrefix(strings.TrimPrefix(v, "mailto:"), "MAILTO:")
				if cn := icsParam(params, "CN"); cn != "" {
					v = cn + " <" + v + ">"
				}
			}
			ev = append(ev, [2]string{name, v})
		}
	}
	return b.String()
}

func icsUnescape(v string) string {
	r := strings.NewReplacer(`\n`, "\n", `\N`, "\n", `\,`, ",", `\;`, ";", `\\`, `\`)
	return strings.TrimSpace(r.Replace(v))
}

func icsParam(params, key string) string {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// icsTime formats 20261201T140000Z as "2026-12-01 14:00 UTC" (keeping the
// TZID when given); anything else is returned as is.
func icsTime(v, params string) string {
	t := v
	if len(t) >= 8 && isDigits(t[:8]) {
		out := t[:4] + "-" + t[4:6] + "-" + t[6:8]
		if len(t) >= 15 && t[8] == 'T' && isDigits(t[9:15]) {
			out += " " + t[9:11] + ":" + t[11:13]
			if strings.HasSuffix(t, "Z") {
				out += " UTC"
			} else if tz := icsParam(params, "TZID"); tz != "" {
				out += " " + tz
			}
		}
		return out
	}
	return v
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
