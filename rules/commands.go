package rules

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Command is one command line at the top of a staff member's mail,
// "#priority high" → {Name: "priority", Arg: "high"}. Name is lower case;
// Arg is normalised per command (see ParseCommands).
type Command struct {
	Name, Arg string
}

// CommandError is a command line that was not understood: Line is the
// line as written (trimmed), Reason says why, to be reported back.
type CommandError struct {
	Line, Reason string
}

func (e CommandError) Error() string { return fmt.Sprintf("%s: %s", e.Line, e.Reason) }

// Priorities accepted by #priority.
var priorities = []string{"low", "normal", "high", "urgent"}

// commandArgs says whether each known command takes an argument.
var commandArgs = map[string]bool{
	"close": false, "reopen": false, "internal": false,
	"location": true, "priority": true, "requester": true, "follow": true, "label": true,
}

// single lists the commands that may appear once per mail.
var single = map[string]bool{"location": true, "priority": true, "requester": true}

// maxLabel is the longest label name, in characters.
const maxLabel = 64

// ParseCommands reads the command lines at the top of text: lines that,
// after leading white space, start with '#' and a letter. Blank lines
// between them are allowed; the first other line ends them, so hashtags
// in prose (or "#1001" on the first line) are not commands.
//
//	#close  #reopen  #internal          no argument
//	#location PATH                      "Tower A / Floor 2" → "Tower A/Floor 2"
//	#priority low|normal|high|urgent    lower-cased
//	#requester EMAIL  #follow EMAIL     "Ann <Ann@X.example>" → "ann@x.example" (punycode domain)
//	#label NAME                         white space collapsed, case kept, ≤ 64 characters
//
// Names are case-insensitive ("#Close"). An unknown command, a missing,
// extra or bad argument, a second #location, #priority or #requester, and
// #close with #reopen are errors, reported in errs and left out of cmds;
// the caller should report them to the author rather than act on half a
// mail's commands. rest is text from the first line that is neither blank
// nor a command line (error lines are removed too); "" if there is none.
func ParseCommands(text string) (cmds []Command, errs []CommandError, rest string) {
	text = strings.TrimPrefix(text, "\uFEFF")
	seen := make(map[string]bool)
	off := 0
	for off < len(text) {
		end := strings.IndexByte(text[off:], '\n')
		next := len(text)
		if end >= 0 {
			next = off + end + 1
		}
		line := strings.TrimSpace(text[off:next])
		if line == "" {
			off = next
			continue
		}
		if !isCommandLine(line) {
			return cmds, errs, text[off:]
		}
		off = next
		c, reason := parseCommand(line)
		if reason == "" {
			switch {
			case single[c.Name] && seen[c.Name]:
				reason = fmt.Sprintf("#%s given twice", c.Name)
			case c.Name == "close" && seen["reopen"], c.Name == "reopen" && seen["close"]:
				reason = "#close and #reopen together"
			}
		}
		if reason != "" {
			errs = append(errs, CommandError{Line: line, Reason: reason})
			continue
		}
		seen[c.Name] = true
		cmds = append(cmds, c)
	}
	return cmds, errs, ""
}

// isCommandLine: '#' followed by a letter.
func isCommandLine(line string) bool {
	if len(line) < 2 || line[0] != '#' {
		return false
	}
	r, _ := utf8.DecodeRuneInString(line[1:])
	return unicode.IsLetter(r)
}

// parseCommand parses one command line; reason is "" when it is good.
func parseCommand(line string) (c Command, reason string) {
	name, arg := line[1:], ""
	if i := strings.IndexFunc(name, unicode.IsSpace); i >= 0 {
		name, arg = name[:i], name[i:]
	}
	name = strings.ToLower(name)
	arg = strings.Join(strings.Fields(arg), " ")
	takesArg, known := commandArgs[name]
	switch {
	case !known:
		return c, fmt.Sprintf("unknown command #%s (known: #close, #reopen, #internal, #location, #priority, #requester, #follow, #label)", name)
	case !takesArg && arg != "":
		return c, fmt.Sprintf("#%s takes no argument", name)
	case takesArg && arg == "":
		return c, fmt.Sprintf("#%s needs an argument", name)
	}
	c.Name = name
	switch name {
	case "location":
		var segs []string
		for _, s := range strings.Split(arg, "/") {
			if s = strings.TrimSpace(s); s != "" {
				segs = append(segs, s)
			}
		}
		if len(segs) == 0 {
			return c, "#location needs a location path"
		}
		c.Arg = strings.Join(segs, "/")
	case "priority":
		c.Arg = strings.ToLower(arg)
		if !slices.Contains(priorities, c.Arg) {
			return c, fmt.Sprintf("#priority: %q is not low, normal, high or urgent", arg)
		}
	case "requester", "follow":
		e, err := commandEmail(arg)
		if err != "" {
			return c, fmt.Sprintf("#%s: %s", name, err)
		}
		c.Arg = e
	case "label":
		if utf8.RuneCountInString(arg) > maxLabel {
			return c, fmt.Sprintf("#label: longer than %d characters", maxLabel)
		}
		c.Arg = arg
	}
	return c, ""
}

// commandEmail parses one address ("a@x", "<a@x>", "Ann <a@x>") and
// normalises it: lower case, punycode domain.
func commandEmail(s string) (string, string) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Sprintf("%q is not one email address", s)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 {
		return "", fmt.Sprintf("%q is not one email address", s)
	}
	d, derr := asciiDomain(a.Address[at+1:])
	if derr != nil {
		return "", fmt.Sprintf("%q: bad domain: %v", s, derr)
	}
	return strings.ToLower(a.Address[:at]) + "@" + d, ""
}

// MayRunCommands reports whether a person of this kind may run commands:
// staff only. Occupants' command lines are ordinary text.
func MayRunCommands(kind string) bool { return kind == KindStaff }
