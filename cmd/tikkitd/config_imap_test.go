package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An [[imap]] host without a port gets the one its TLS mode implies; a
// malformed one is refused with a message naming the setting.
func TestIMAPConfigHost(t *testing.T) {
	for _, tc := range []struct{ host, tls, want, err string }{
		{"imap.example.com", "", "imap.example.com:993", ""},
		{"imap.example.com", "implicit", "imap.example.com:993", ""},
		{"imap.example.com", "starttls", "imap.example.com:143", ""},
		{"127.0.0.1", "none", "127.0.0.1:143", ""},
		{"imap.example.com:1993", "starttls", "imap.example.com:1993", ""},
		{"[::1]:993", "", "[::1]:993", ""},
		{"::1", "", "", "imap[0].host"},
		{"", "", "", "imap[0].host"},
	} {
		path := filepath.Join(t.TempDir(), "c.toml")
		conf := "data_dir = " + quote(t.TempDir()) + "\n[[imap]]\nhost = " + quote(tc.host) + "\nusername = \"help\"\npassword_env = \"X\"\n"
		if tc.tls != "" {
			conf += "tls = " + quote(tc.tls) + "\n"
		}
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := loadConfig(path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("host %q: %v, want an error naming %s", tc.host, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.IMAP[0].Host != tc.want {
			t.Errorf("host %q tls %q: %q, %v; want %q", tc.host, tc.tls, cfg.IMAP[0].Host, err, tc.want)
		}
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

// imapConf is a config with the given [[imap]] sections, each a few
// settings on top of a valid account on imap.example.com. Its data_dir
// cannot be made, so that serve stops even when it takes the config.
func imapConf(t *testing.T, sections ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := "data_dir = " + quote(filepath.Join(file, "data")) + "\nsmtp.listen = \"127.0.0.1:0\"\nhttp.listen = \"127.0.0.1:0\"\n"
	for _, s := range sections {
		conf += "[[imap]]\n" + s
		if !strings.Contains(s, "host =") {
			conf += "host = \"imap.example.com\"\n"
		}
		if !strings.Contains(s, "username =") {
			conf += "username = \"help\"\n"
		}
		conf += "password_env = \"TIKKIT_TEST_IMAP_PW\"\n"
	}
	return writeConfig(t, conf)
}

// A config that would lose mail, loop without end or send a password in
// clear text is refused by check-config and serve, naming the sections.
func TestIMAPConfigRefused(t *testing.T) {
	t.Setenv("TIKKIT_TEST_IMAP_PW", "s3cret")
	for _, tc := range []struct {
		name     string
		sections []string
		want     []string // in the error
	}{
		{"same name", []string{"name = \"office\"\n", "name = \"Office\"\nhost = \"imap.example.org\"\n"},
			[]string{"imap[0] and imap[1]", `"Office"`, "share"}},
		{"same username@host", []string{"host = \"imap.example.com\"\nmailboxes = [\"INBOX\"]\n", "host = \"IMAP.example.com:993\"\nmailboxes = [\"Lists\"]\n"},
			[]string{"imap[0] and imap[1]", "share"}},
		{"name equal to another's username@host", []string{"", "name = \"help@imap.example.com:993\"\nusername = \"desk\"\n"},
			[]string{"imap[0] and imap[1]"}},
		{"processed is polled", []string{"processed_mailbox = \"INBOX\"\n"},
			[]string{"imap[0].processed_mailbox", "without end"}},
		{"processed is polled, other case", []string{"mailboxes = [\"INBOX\", \"Done\"]\nprocessed_mailbox = \"done\"\n"},
			[]string{"imap[0].processed_mailbox"}},
		{"processed is the default inbox", []string{"processed_mailbox = \"inbox\"\n"},
			[]string{"imap[0].processed_mailbox"}},
		{"clear text to a remote", []string{"", "tls = \"none\"\nhost = \"imap.example.org\"\n"},
			[]string{"imap[1].tls", "clear text"}},
		{"import_existing", []string{"import_existing = \"some\"\n"},
			[]string{"imap[0].import_existing"}},
		{"starttls on 993", []string{"host = \"imap.example.org:993\"\ntls = \"starttls\"\n"},
			[]string{"imap[0].tls", "implicit"}},
		{"implicit on 143", []string{"host = \"imap.example.org:143\"\n"},
			[]string{"imap[0].tls", "starttls"}},
		{"mailbox twice", []string{"mailboxes = [\"INBOX\", \"Lists\", \"inbox\"]\n"},
			[]string{"imap[0].mailboxes", "twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := imapConf(t, tc.sections...)
			for _, cmd := range []string{"check-config", "serve"} {
				code, _, errs := runCmd(t, "", cmd, "-config", conf)
				if code != exitConfig {
					t.Errorf("%s: exit %d, want %d; stderr %q", cmd, code, exitConfig, errs)
				}
				for _, w := range tc.want {
					if !strings.Contains(errs, w) {
						t.Errorf("%s: stderr %q lacks %q", cmd, errs, w)
					}
				}
			}
		})
	}
	// What is still fine: distinct names on one host and user, a
	// processed mailbox not polled, clear text on this machine.
	for name, sections := range map[string][]string{
		"distinct names":  {"name = \"a\"\n", "name = \"b\"\nmailboxes = [\"Lists\"]\n"},
		"distinct users":  {"", "username = \"desk\"\n"},
		"processed apart": {"mailboxes = [\"INBOX\", \"Lists\"]\nprocessed_mailbox = \"INBOX/Done\"\n"},
		"clear text here": {"tls = \"none\"\nhost = \"127.0.0.1\"\n", "tls = \"none\"\nhost = \"localhost:1143\"\n", "tls = \"none\"\nhost = \"[::1]:143\"\n"},
		"import_existing": {"import_existing = \"all\"\n", "import_existing = \"none\"\nusername = \"b\"\n", "import_existing = \"unseen\"\nusername = \"c\"\n"},
	} {
		if code, _, errs := runCmd(t, "", "check-config", "-config", imapConf(t, sections...)); code != exitOK {
			t.Errorf("%s: exit %d %s", name, code, errs)
		}
	}
}

// check-config reads the passwords serve would read, says which is
// missing, and prints each account's effective settings, never the
// password.
func TestCheckConfigIMAPPassword(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "imap.pw")
	if err := os.WriteFile(pwFile, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pw")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TIKKIT_TEST_IMAP_PW", "hunter2")
	t.Setenv("TIKKIT_TEST_IMAP_EMPTY", "")
	section := func(pw string) string {
		return "[[imap]]\nhost = \"imap.example.com\"\nusername = \"help\"\n" + pw + "\n"
	}
	for name, tc := range map[string]struct{ conf, want string }{
		"missing file": {section("password_file = "+quote(pwFile)) + section("name = \"second\"\npassword_file = "+quote(filepath.Join(dir, "nope.pw"))),
			"imap[1].password_file: open " + filepath.Join(dir, "nope.pw")},
		"empty file": {section("password_file = " + quote(empty)), "imap[0].password_file: " + empty + " is empty"},
		"unset env":  {section("password_env = \"TIKKIT_TEST_IMAP_UNSET\""), "imap[0].password_env: $TIKKIT_TEST_IMAP_UNSET is not set"},
		"empty env":  {section("password_env = \"TIKKIT_TEST_IMAP_EMPTY\""), "imap[0].password_env: $TIKKIT_TEST_IMAP_EMPTY is empty"},
	} {
		code, out, errs := runCmd(t, "", "check-config", "-config", writeConfig(t, "data_dir = "+quote(dir)+"\n"+tc.conf))
		if code != exitConfig || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", name, code, errs, exitConfig, tc.want)
		}
		if strings.Contains(out+errs, "hunter2") {
			t.Errorf("%s: the password is printed: %s%s", name, out, errs)
		}
	}

	conf := writeConfig(t, "data_dir = "+quote(dir)+"\n"+
		"[[imap]]\nhost = \"imap.example.com\"\nusername = \"help@example.com\"\npassword_file = "+quote(pwFile)+"\n"+
		"[[imap]]\nname = \"north\"\nhost = \"127.0.0.1\"\ntls = \"none\"\nusername = \"north\"\npassword_env = \"TIKKIT_TEST_IMAP_PW\"\n"+
		"mailboxes = [\"INBOX\", \"Lists/Tenants\"]\nprocessed_mailbox = \"Done\"\nidle = false\npoll_interval = \"5m\"\nbatch = 20\nimport_existing = \"all\"\n")
	code, out, errs := runCmd(t, "", "check-config", "-config", conf)
	if code != exitOK {
		t.Fatalf("exit %d %s", code, errs)
	}
	for _, w := range []string{
		"  imap[0]\n" +
			"    name              help@example.com@imap.example.com:993 (username@host)\n" +
			"    host              imap.example.com:993\n" +
			"    tls               implicit\n" +
			"    username          help@example.com\n" +
			"    password          from file " + pwFile + "\n" +
			"    mailboxes         INBOX\n" +
			"    processed_mailbox (none: flag \\Seen)\n" +
			"    idle              on (watches INBOX)\n" +
			"    poll_interval     60s\n" +
			"    batch             100\n" +
			"    import_existing   unseen\n",
		"  imap[1]\n" +
			"    name              north\n" +
			"    host              127.0.0.1:143\n" +
			"    tls               none\n" +
			"    username          north\n" +
			"    password          from $TIKKIT_TEST_IMAP_PW\n" +
			"    mailboxes         INBOX, Lists/Tenants\n" +
			"    processed_mailbox Done\n" +
			"    idle              off\n" +
			"    poll_interval     5m\n" +
			"    batch             20\n" +
			"    import_existing   all\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("check-config output lacks\n%s\nin\n%s", w, out)
		}
	}
	if strings.Contains(out+errs, "hunter2") {
		t.Errorf("the password is printed:\n%s", out)
	}

	// serve refuses a missing password before it opens anything.
	data := filepath.Join(t.TempDir(), "data")
	code, _, errs = runCmd(t, "", "serve", "-config", writeConfig(t, "data_dir = "+quote(data)+"\n"+section("password_env = \"TIKKIT_TEST_IMAP_UNSET\"")))
	if code == exitOK || !strings.Contains(errs, "imap[0].password_env") {
		t.Errorf("serve: exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("serve made the data directory before it read the IMAP password")
	}
}

// import_existing reaches the poller's settings; unset, it is "unseen".
func TestIMAPImportExisting(t *testing.T) {
	t.Setenv("TIKKIT_TEST_IMAP_PW", "s3cret")
	cfg, _, err := loadConfig(imapConf(t, "", "import_existing = \"none\"\nusername = \"b\"\n", "import_existing = \"all\"\nusername = \"c\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	accs, err := imapAccountsOf(cfg.IMAP)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{"unseen", "none", "all"} {
		if accs[i].Existing != w || accs[i].Password != "s3cret" {
			t.Errorf("account %d: Existing %q (password set: %v), want %q", i, accs[i].Existing, accs[i].Password != "", w)
		}
	}
}
