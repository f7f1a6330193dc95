package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func cmdList(cs []Command) []string {
	var out []string
	for _, c := range cs {
		if c.Arg == "" {
			out = append(out, c.Name)
		} else {
			out = append(out, c.Name+"="+c.Arg)
		}
	}
	return out
}

func TestParseCommands(t *testing.T) {
	cases := []struct {
		name string
		text string
		cmds []string // "name" or "name=arg"
		errs []string // "line: reason substring"
		rest string
	}{
		// Each command.
		{"close", "#close\nFixed.", []string{"close"}, nil, "Fixed."},
		{"reopen", "#reopen\nStill broken.", []string{"reopen"}, nil, "Still broken."},
		{"internal", "#internal\nCheck the warranty.", []string{"internal"}, nil, "Check the warranty."},
		{"location", "#location Tower A/Floor 2/Suite 201\nx", []string{"location=Tower A/Floor 2/Suite 201"}, nil, "x"},
		{"location spaces around slashes", "#location  Tower A / Floor 2 /Suite  201 \nx", []string{"location=Tower A/Floor 2/Suite 201"}, nil, "x"},
		{"location leading slash", "#location /Parking\nx", []string{"location=Parking"}, nil, "x"},
		{"priority", "#priority high\nx", []string{"priority=high"}, nil, "x"},
		{"priority upper case", "#PRIORITY Urgent\nx", []string{"priority=urgent"}, nil, "x"},
		{"priority low, normal", "#priority low\n", []string{"priority=low"}, nil, ""},
		{"requester", "#requester ann@example.org\nx", []string{"requester=ann@example.org"}, nil, "x"},
		{"requester with name and case", "#requester Ann Lee <Ann@Example.ORG>\nx", []string{"requester=ann@example.org"}, nil, "x"},
		{"requester in angle brackets", "#requester <ann@example.org>\nx", []string{"requester=ann@example.org"}, nil, "x"},
		{"requester IDN domain", "#requester ann@bücher.example\nx", []string{"requester=ann@xn--bcher-kva.example"}, nil, "x"},
		{"follow", "#follow bob@example.org\nx", []string{"follow=bob@example.org"}, nil, "x"},
		{"label", "#label plumbing\nx", []string{"label=plumbing"}, nil, "x"},
		{"label with spaces, case kept", "#label  Water   Leak \nx", []string{"label=Water Leak"}, nil, "x"},

		// Several, blank lines, case, white space, line endings.
		{"several with blank lines", "#close\n\n#label hvac\n   \n#follow b@x.example\n\nDone, thanks.\nBye",
			[]string{"close", "label=hvac", "follow=b@x.example"}, nil, "Done, thanks.\nBye"},
		{"case-insensitive names", "#Close\n#INTERNAL\nx", []string{"close", "internal"}, nil, "x"},
		{"CRLF", "#close\r\n#label a\r\n\r\nThanks\r\n", []string{"close", "label=a"}, nil, "Thanks\r\n"},
		{"indented command", "  #close\nx", []string{"close"}, nil, "x"},
		{"leading blank lines before commands", "\n\n#close\nx", []string{"close"}, nil, "x"},
		{"tab after name", "#priority\thigh\nx", []string{"priority=high"}, nil, "x"},
		{"byte order mark", "\uFEFF#close\nx", []string{"close"}, nil, "x"},
		{"only commands", "#close\n#label a", []string{"close", "label=a"}, nil, ""},
		{"several labels and follows", "#label a\n#label b\n#follow a@x.example\n#follow b@x.example\nx",
			[]string{"label=a", "label=b", "follow=a@x.example", "follow=b@x.example"}, nil, "x"},

		// Not commands.
		{"no commands", "Hello,\nthe heater is broken.", nil, nil, "Hello,\nthe heater is broken."},
		{"no commands, leading blank lines trimmed", "\n\n  \nHello", nil, nil, "Hello"},
		{"empty", "", nil, nil, ""},
		{"hashtag in prose below the top", "Hello\n#close\n#urgent", nil, nil, "Hello\n#close\n#urgent"},
		{"command after prose is text", "#close\nDone.\n#reopen", []string{"close"}, nil, "Done.\n#reopen"},
		{"hash and digit ends commands", "#close\n#1001 is a duplicate", []string{"close"}, nil, "#1001 is a duplicate"},
		{"hash and space ends commands", "# Heading\n#close", nil, nil, "# Heading\n#close"},
		{"lone hash", "#\n#close", nil, nil, "#\n#close"},
		{"double hash", "##close\nx", nil, nil, "##close\nx"},
		{"quoted command", "> #close\nx", nil, nil, "> #close\nx"},
		{"hashtag mid-line", "please #close this", nil, nil, "please #close this"},

		// Errors: reported, not silently ignored, not in rest.
		{"unknown command", "#clsoe\nx", nil, []string{"#clsoe: unknown command #clsoe"}, "x"},
		{"unknown unicode command", "#Привет всем\nx", nil, []string{"#Привет всем: unknown command #привет"}, "x"},
		{"close with argument", "#close now please\nx", nil, []string{"#close now please: #close takes no argument"}, "x"},
		{"internal with argument", "#internal note\nx", nil, []string{"#internal takes no argument"}, "x"},
		{"location without argument", "#location\nx", nil, []string{"#location: #location needs an argument"}, "x"},
		{"location of slashes only", "#location / /\nx", nil, []string{"#location needs a location path"}, "x"},
		{"priority missing", "#priority   \nx", nil, []string{"#priority needs an argument"}, "x"},
		{"priority bad", "#priority asap\nx", nil, []string{`#priority asap: #priority: "asap" is not low, normal, high or urgent`}, "x"},
		{"priority two words", "#priority very high\nx", nil, []string{`"very high" is not`}, "x"},
		{"requester missing", "#requester\nx", nil, []string{"#requester needs an argument"}, "x"},
		{"requester not an address", "#requester ann\nx", nil, []string{`#requester: "ann" is not one email address`}, "x"},
		{"requester two addresses", "#requester a@x.example, b@x.example\nx", nil, []string{"is not one email address"}, "x"},
		{"follow bad domain", "#follow a@-x.example\nx", nil, []string{"#follow: \"a@-x.example\": bad domain"}, "x"},
		{"follow missing", "#follow\nx", nil, []string{"#follow needs an argument"}, "x"},
		{"label missing", "#label\nx", nil, []string{"#label needs an argument"}, "x"},
		{"label too long", "#label " + strings.Repeat("é", 65) + "\nx", nil, []string{"longer than 64 characters"}, "x"},
		{"label 64 characters ok", "#label " + strings.Repeat("é", 64) + "\nx", []string{"label=" + strings.Repeat("é", 64)}, nil, "x"},
		{"punctuation glued to name", "#close.\nx", nil, []string{"unknown command #close."}, "x"},
		{"priority twice", "#priority high\n#priority low\nx", []string{"priority=high"}, []string{"#priority low: #priority given twice"}, "x"},
		{"location twice", "#location A/B\n#location C\nx", []string{"location=A/B"}, []string{"#location given twice"}, "x"},
		{"requester twice", "#requester a@x.example\n#requester b@x.example\nx", []string{"requester=a@x.example"}, []string{"#requester given twice"}, "x"},
		{"close and reopen", "#close\n#reopen\nx", []string{"close"}, []string{"#reopen: #close and #reopen together"}, "x"},
		{"reopen and close", "#reopen\n#close\nx", []string{"reopen"}, []string{"#close: #close and #reopen together"}, "x"},
		{"close twice is fine", "#close\n#close\nx", []string{"close", "close"}, nil, "x"},
		{"errors and good commands mixed", "#close\n#lable roof\n#label roof\nThe roof.",
			[]string{"close", "label=roof"}, []string{"#lable roof: unknown command #lable"}, "The roof."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmds, errs, rest := ParseCommands(c.text)
			if got := cmdList(cmds); !slices.Equal(got, c.cmds) {
				t.Errorf("cmds = %q, want %q", got, c.cmds)
			}
			if len(errs) != len(c.errs) {
				t.Errorf("errs = %q, want %d matching %q", errs, len(c.errs), c.errs)
			} else {
				for i, e := range errs {
					if got := e.Line + ": " + e.Reason; !strings.Contains(got, c.errs[i]) {
						t.Errorf("errs[%d] = %q, want it to contain %q", i, got, c.errs[i])
					}
				}
			}
			if rest != c.rest {
				t.Errorf("rest = %q, want %q", rest, c.rest)
			}
		})
	}
}

func TestCommandErrorError(t *testing.T) {
	e := CommandError{Line: "#clsoe", Reason: "unknown command #clsoe"}
	if got, want := fmt.Sprint(e), "#clsoe: unknown command #clsoe"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestMayRunCommands(t *testing.T) {
	cases := []struct {
		kind string
		want bool
	}{
		{"staff", true},
		{"occupant", false},
		{"", false},
		{"Staff", false}, // kinds are stored lower case; anything else is not staff
		{"admin", false},
	}
	for _, c := range cases {
		t.Run("kind="+c.kind, func(t *testing.T) {
			if got := MayRunCommands(c.kind); got != c.want {
				t.Errorf("MayRunCommands(%q) = %v, want %v", c.kind, got, c.want)
			}
		})
	}
}
