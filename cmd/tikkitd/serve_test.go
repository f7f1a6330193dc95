package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikkit/tikkit/store"
)

// startDaemon runs serve() in-process on loopback ports with a config like
// an administrator would write, and returns the bound addresses.
func startDaemon(t *testing.T, mutate func(*Config)) (Config, map[string]net.Addr) {
	t.Helper()
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Mail.Address = "maintenance@example.com"
	cfg.Mail.Aliases = []string{"facilities@example.com"}
	cfg.SMTP.Listen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan map[string]net.Addr, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- serve(ctx, cfg, log, func(a map[string]net.Addr) { ready <- a }) }()
	var addrs map[string]net.Addr
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return cfg, addrs
}

func swaks(t *testing.T, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("swaks is not installed (.ci/run installs it)")
		}
		t.Skip("swaks not installed (apt-get install swaks)")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	return string(out), err
}

func countRows(t *testing.T, cfg Config, table string) int {
	t.Helper()
	st, err := store.Open(cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	if err := st.DB().Get(&n, "SELECT COUNT(*) FROM "+table); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSwaksDelivery(t *testing.T) {
	cfg, addrs := startDaemon(t, func(c *Config) { c.SMTP.MaxMessageBytes = 64 << 10 })
	server := addrs["smtp"].String()

	out, err := swaks(t, "--server", server, "--to", "maintenance@example.com", "--from", "jane.doe@example.org",
		"--header", "Subject: Radiator leaking in room 204", "--body", "It drips on the carpet.")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if countRows(t, cfg, "requests") != 1 {
		t.Fatalf("no request after delivery:\n%s", out)
	}

	// A foreign recipient: 550, never relayed.
	out, err = swaks(t, "--server", server, "--to", "victim@elsewhere.example.net", "--from", "spammer@example.org", "--body", "relay?")
	if err == nil || !strings.Contains(out, "<** 550") {
		t.Errorf("foreign RCPT not refused with 550:\n%s", out)
	}

	// Over max_message_bytes: 552 and nothing stored.
	big := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 2000)
	bodyFile := filepath.Join(t.TempDir(), "big.txt")
	os.WriteFile(bodyFile, []byte(big), 0o644)
	before := countRows(t, cfg, "raw_messages")
	out, err = swaks(t, "--server", server, "--to", "maintenance@example.com", "--from", "jane.doe@example.org",
		"--header", "Subject: big", "--body", bodyFile)
	if err == nil || !strings.Contains(out, "<** 552") {
		t.Errorf("oversized message not refused with 552:\n%s", out)
	}
	if after := countRows(t, cfg, "raw_messages"); after != before {
		t.Errorf("oversized message stored: raw_messages %d -> %d", before, after)
	}
	if n := countRows(t, cfg, "requests"); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	// The status page counts it, without personal data.
	resp, err := http.Get("http://" + addrs["http"].String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(page, []byte("jane.doe")) || bytes.Contains(page, []byte("Radiator")) {
		t.Errorf("status page %d leaks or fails:\n%s", resp.StatusCode, page)
	}
	resp, err = http.Get("http://" + addrs["http"].String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`tikkit_messages_ingested_total{outcome="created"} 1`)) {
		t.Errorf("metrics lack the created message:\n%s", metrics)
	}
	// The acknowledgement of that request is in the outbox (queued or already sent).
	if !bytes.Contains(metrics, []byte(`tikkit_outbox_messages{status="`)) {
		t.Errorf("metrics lack the outbox:\n%s", metrics)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tikkit.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestIngestCommand(t *testing.T) {
	dir := t.TempDir()
	conf := writeConfig(t, "data_dir = \""+dir+"\"\n[mail]\naddress = \"maintenance@example.com\"\n")
	msg := "From: Jane <jane@example.org>\r\nTo: maintenance@example.com\r\nSubject: Door stuck\r\nMessage-ID: <door1@example.org>\r\n\r\nThe door sticks.\r\n"
	code, out, errs := runCmd(t, msg, "ingest", "-config", conf)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var line ingestLine
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if line.File != "-" || line.Outcome != "created" || line.Request != 1001 || line.MessageID != "door1@example.org" {
		t.Errorf("line %+v", line)
	}
	// Fed again: a duplicate, still exit 0.
	code, out, _ = runCmd(t, msg, "ingest", "-config", conf)
	if code != exitOK || !strings.Contains(out, `"outcome":"duplicate"`) {
		t.Errorf("second feed: exit %d %s", code, out)
	}
	// TIKKIT_CONFIG is honoured when -config is absent.
	t.Setenv("TIKKIT_CONFIG", conf)
	code, out, _ = runCmd(t, "", "request", "show", "1001", "--json")
	if code != exitOK {
		t.Fatalf("request show: exit %d", code)
	}
	var rv map[string]any
	if err := json.Unmarshal([]byte(out), &rv); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"number", "subject", "state", "location", "requester", "followers", "messages"} {
		if _, ok := rv[k]; !ok {
			t.Errorf("request show lacks %q", k)
		}
	}
	m := rv["messages"].([]any)[0].(map[string]any)
	for _, k := range []string{"message_id", "from", "visible_text", "body_text", "internal", "auto", "attachments"} {
		if _, ok := m[k]; !ok {
			t.Errorf("message lacks %q", k)
		}
	}
	code, out, _ = runCmd(t, "", "people", "--json")
	var ps []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &ps) != nil || len(ps) != 1 {
		t.Fatalf("people: %d %s", code, out)
	}
	for _, k := range []string{"email", "name", "kind", "status", "created_via"} {
		if _, ok := ps[0][k]; !ok {
			t.Errorf("people lacks %q", k)
		}
	}
	// A missing file: reported, the others still ingested.
	code, out, _ = runCmd(t, "", "ingest", "/nonexistent/x.eml")
	if code != exitNoInput || !strings.Contains(out, `"outcome":"error"`) {
		t.Errorf("missing file: exit %d %s", code, out)
	}
}

func TestIngestTempFailure(t *testing.T) {
	// A data dir that cannot be created is a temporary failure: exit 75 so the MTA retries.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	conf := writeConfig(t, "data_dir = \""+filepath.Join(file, "sub")+"\"\n")
	code, _, errs := runCmd(t, "From: a@b.example\r\n\r\nx\r\n", "ingest", "-config", conf)
	if code != exitTempFail {
		t.Errorf("exit %d (%s), want 75", code, errs)
	}
}

func TestCheckConfig(t *testing.T) {
	good := writeConfig(t, "[mail]\naddress = \"help@example.com\"\n")
	if code, out, errs := runCmd(t, "", "check-config", "-config", good); code != 0 || !strings.Contains(out, "help@example.com") {
		t.Errorf("good config: %d %s %s", code, out, errs)
	}
	for name, body := range map[string]string{
		"unknown key": "[mail]\nadress = \"x@y\"\n",
		"bad address": "[mail]\naddress = \"nobody\"\n",
		"bad listen":  "[smtp]\nlisten = \"2525\"\n",
		"syntax":      "[mail\n",
	} {
		code, _, errs := runCmd(t, "", "check-config", "-config", writeConfig(t, body))
		if code != exitConfig || errs == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errs)
		}
	}
	t.Setenv("TIKKIT_CONFIG", "")
	if code, out, _ := runCmd(t, "", "check-config"); code != 0 || !strings.Contains(out, "embedded default") {
		t.Errorf("embedded default: %d %s", code, out)
	}
}

var _ = time.Second

func TestHeldAndReprocessCommands(t *testing.T) {
	dir := t.TempDir()
	// A misconfiguration: the tenant's address was entered as our alias.
	bad := writeConfig(t, "data_dir = \""+dir+"\"\n[mail]\naddress = \"maintenance@example.com\"\naliases = [\"jane@example.org\"]\n")
	msg := "From: Jane <jane@example.org>\r\nTo: maintenance@example.com\r\nSubject: Door stuck\r\nMessage-ID: <held1@example.org>\r\n\r\nThe door sticks.\r\n"
	if code, out, errs := runCmd(t, msg, "ingest", "-config", bad); code != exitOK || !strings.Contains(out, `"outcome":"held"`) {
		t.Fatalf("ingest: %d %s %s", code, out, errs)
	}
	code, out, _ := runCmd(t, "", "held", "--json", "-config", bad)
	var held []heldView
	if code != exitOK || json.Unmarshal([]byte(out), &held) != nil || len(held) != 1 || held[0].Reason == "" || held[0].MessageID != "held1@example.org" {
		t.Fatalf("held: %d %s", code, out)
	}
	good := writeConfig(t, "data_dir = \""+dir+"\"\n[mail]\naddress = \"maintenance@example.com\"\n")
	code, out, errs := runCmd(t, "", "reprocess", "--all", "-config", good)
	if code != exitOK || !strings.Contains(out, `"outcome":"created"`) || !strings.Contains(out, `"request":1001`) {
		t.Fatalf("reprocess: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCmd(t, "", "held", "--json", "-config", good); code != exitOK || strings.TrimSpace(out) != "[]" {
		t.Errorf("still held: %s", out)
	}
	if code, _, _ := runCmd(t, "", "reprocess", "-config", good); code != exitUsage {
		t.Errorf("reprocess without ids: exit %d, want usage error", code)
	}
}

// Whatever keeps ingest from storing a message, the MTA must retry (75),
// never bounce (64, 78 ...): a typo in tikkit.toml must not lose mail.
func TestIngestExitCodesForMTA(t *testing.T) {
	msg := "From: a@b.example\r\nTo: help@localhost\r\nSubject: x\r\n\r\nx\r\n"
	for name, args := range map[string][]string{
		"missing config": {"ingest", "-config", "/nonexistent/tikkit.toml"},
		"unknown key":    {"ingest", "-config", writeConfig(t, "bogus = 1\n")},
		"unknown flag":   {"ingest", "-bogus"},
	} {
		if code, _, _ := runCmd(t, msg, args...); code != exitTempFail {
			t.Errorf("%s: exit %d, want 75", name, code)
		}
	}
}

// The null sender, however the MTA spells it, makes mail automatic.
func TestIngestNullSender(t *testing.T) {
	conf := writeConfig(t, "data_dir = \""+t.TempDir()+"\"\n")
	for i, from := range []string{"MAILER-DAEMON", "<>", ""} {
		msg := fmt.Sprintf("From: Jo <jo@example.org>\r\nTo: help@localhost\r\nSubject: I am away\r\nMessage-ID: <away%d@example.org>\r\n\r\nOn holiday.\r\n", i)
		code, out, _ := runCmd(t, msg, "ingest", "-config", conf, "-from", from)
		if code != exitOK || !strings.Contains(out, `"outcome":"auto_reply"`) {
			t.Errorf("-from %q: %d %s", from, code, out)
		}
	}
	code, out, _ := runCmd(t, "From: Jo <jo@example.org>\r\nTo: help@localhost\r\nSubject: Tap\r\nMessage-ID: <tap@example.org>\r\n\r\nDrips.\r\n", "ingest", "-config", conf, "-from", "jo@example.org")
	if code != exitOK || !strings.Contains(out, `"outcome":"created"`) {
		t.Errorf("-from jo@example.org: %d %s", code, out)
	}
}

// A typo in data_dir must not show an empty list from a newly made database.
func TestReadCommandsNeedADatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	conf := writeConfig(t, "data_dir = \""+dir+"\"\n")
	for _, args := range [][]string{{"requests"}, {"people", "--json"}, {"held"}, {"request", "show", "1001"}} {
		code, _, errs := runCmd(t, "", append(args, "-config", conf)...)
		if code != exitNoInput || !strings.Contains(errs, "data_dir") {
			t.Errorf("%v: exit %d %q", args, code, errs)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a read command created the data directory")
	}
}

func TestAdminListsNeedADatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	conf := writeConfig(t, "data_dir = \""+dir+"\"\n")
	for _, args := range [][]string{{"person", "list"}, {"location", "list"}, {"group", "list"}, {"person", "approve", "x@y.example"}} {
		if code, _, _ := runCmd(t, "", append(args, "-config", conf)...); code != exitNoInput {
			t.Errorf("%v: exit %d, want 66", args, code)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a read command created the data directory")
	}
}

func TestCheckConfigOutbound(t *testing.T) {
	for name, body := range map[string]string{
		"username without password": "[outbound]\nrelay = \"smtp.example.com:587\"\nusername = \"u\"\n",
		"missing password file":     "[outbound]\nrelay = \"smtp.example.com:587\"\nusername = \"u\"\npassword_file = \"/nonexistent\"\n",
		"unset password env":        "[outbound]\nrelay = \"smtp.example.com:587\"\nusername = \"u\"\npassword_env = \"TIKKIT_NOPE_UNSET\"\n",
		"clear text to a remote":    "[outbound]\nrelay = \"smtp.example.com:587\"\ntls = \"none\"\n",
		"starttls on 465":           "[outbound]\nrelay = \"smtp.example.com:465\"\ntls = \"starttls\"\n",
		"missing dkim key":          "[outbound]\ndkim_domain = \"example.com\"\ndkim_selector = \"s\"\ndkim_key_file = \"/nonexistent.pem\"\n",
		"missing templates dir":     "[outbound]\ntemplates_dir = \"/nonexistent\"\n",
		"zero limit":                "[outbound]\nper_address_per_day = 0\n",
	} {
		if code, _, errs := runCmd(t, "", "check-config", "-config", writeConfig(t, body)); code != exitConfig || errs == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errs)
		}
	}
}

func TestCheckConfigIMAP(t *testing.T) {
	t.Setenv("TIKKIT_TEST_IMAP_PW", "x")
	good := writeConfig(t, "[[imap]]\nhost = \"imap.example.com:993\"\nusername = \"help\"\npassword_env = \"TIKKIT_TEST_IMAP_PW\"\n")
	if code, _, errs := runCmd(t, "", "check-config", "-config", good); code != exitOK {
		t.Errorf("good [[imap]]: %d %s", code, errs)
	}
	for name, body := range map[string]string{
		"single brackets": "[imap]\nhost = \"imap.example.com:993\"\n",
		"no password":     "[[imap]]\nhost = \"imap.example.com:993\"\nusername = \"u\"\n",
		"bad interval":    "[[imap]]\nhost = \"imap.example.com:993\"\nusername = \"u\"\npassword_env = \"X\"\npoll_interval = \"soon\"\n",
	} {
		if code, _, errs := runCmd(t, "", "check-config", "-config", writeConfig(t, body)); code != exitConfig || errs == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errs)
		}
	}
	if code, _, errs := runCmd(t, "", "imap", "test", "-config", writeConfig(t, "")); code != exitConfig || !strings.Contains(errs, "[[imap]]") {
		t.Errorf("imap test without accounts: %d %q", code, errs)
	}
	// An account nobody answers for: the step that failed, and what to check.
	for host, want := range map[string]string{
		"imap.invalid": "FAILED: imap: dns imap.invalid:993",
		freePort(t):    "FAILED: imap: connect 127.0.0.1:",
	} {
		conf := writeConfig(t, "[[imap]]\nhost = \""+host+"\"\nusername = \"u\"\npassword_env = \"TIKKIT_TEST_IMAP_PW\"\n")
		code, out, _ := runCmd(t, "", "imap", "test", "-config", conf)
		if code != exitTempFail || !strings.Contains(out, want) || !strings.Contains(out, "hint: ") {
			t.Errorf("imap test %s: exit %d, output %q; want %q and a hint", host, code, out, want)
		}
	}
}
