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
