package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tikkit/tikkit/mailin/dovecottest"
	"github.com/tikkit/tikkit/store"
)

// serveProc is `tikkitd serve` run as a child process (see TestMain), so
// that a test can SIGKILL it and start it again on the same data; its log
// is kept across restarts.
type serveProc struct {
	t          *testing.T
	conf       string
	smtp, http string // listener addresses from the config
	log        *lockedBuffer
	cmd        *exec.Cmd
	exited     chan struct{}
	starts     int

	mu      sync.Mutex // guards what follows, written by the log copier
	partial []byte     // the log's unfinished last line
	watch   string     // count log lines of this run that contain watch
	seen    int
	target  int
	reached chan struct{} // closed when seen reaches target
	killNow bool          // SIGKILL from Write itself when seen reaches target
}

// Write is the daemon's stderr: kept whole in log, and watched line by
// line so that a kill can follow a log line within microseconds.
func (p *serveProc) Write(b []byte) (int, error) {
	p.log.Write(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		if p.watch != "" && bytes.Contains(p.partial[:i], []byte(p.watch)) {
			p.seen++
			if p.target > 0 && p.seen == p.target {
				if p.killNow { // no goroutine switch between the line and the signal
					p.cmd.Process.Signal(syscall.SIGKILL)
				}
				close(p.reached)
			}
		}
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

func newServeProc(t *testing.T, conf, smtpAddr, httpAddr string) *serveProc {
	p := &serveProc{t: t, conf: conf, smtp: smtpAddr, http: httpAddr, log: &lockedBuffer{}}
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.log.String())
		}
	})
	return p
}

// armKill makes the next run end with SIGKILL at its n-th log line that
// contains p.watch: from the log copier itself (immediate) or by waitKill.
func (p *serveProc) armKill(n int, immediate bool) {
	p.mu.Lock()
	p.target, p.killNow = n, immediate
	p.mu.Unlock()
}

// waitKill waits for the armed log line, then after delay (none when the
// kill was immediate) SIGKILLs the daemon.
func (p *serveProc) waitKill(delay, timeout time.Duration) {
	p.t.Helper()
	p.mu.Lock()
	reached, n := p.reached, p.target
	p.mu.Unlock()
	select {
	case <-reached:
	case <-p.exited:
		p.t.Fatalf("the daemon exited (%v) before log line %d with %q", p.cmd.ProcessState, n, p.watch)
	case <-time.After(timeout):
		p.t.Fatalf("no log line %d with %q after %v", n, p.watch, timeout)
	}
	time.Sleep(delay)
	p.kill()
	p.armKill(0, false)
}

// start runs the daemon and waits until its HTTP listener answers.
func (p *serveProc) start() {
	p.t.Helper()
	p.starts++
	fmt.Fprintf(p.log, "--- start %d\n", p.starts)
	p.mu.Lock()
	p.partial, p.seen, p.reached = nil, 0, make(chan struct{})
	p.mu.Unlock()
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), "TIKKIT_EXEC=serve\x1f-config\x1f"+p.conf)
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func() { p.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := p.get("/healthz"); err == nil {
			return
		}
		if !p.running() {
			select {
			case <-p.reached: // an armed kill came first
				return
			default:
			}
			p.t.Fatalf("the daemon exited at start (%v)", p.cmd.ProcessState)
		}
		if time.Now().After(deadline) {
			p.t.Fatal("the daemon does not answer HTTP")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *serveProc) running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill ends the daemon with SIGKILL: nothing of its own runs after it.
func (p *serveProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	fmt.Fprintf(p.log, "--- SIGKILL\n")
}

// stop ends the daemon with SIGTERM and wants exit 0.
func (p *serveProc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatal("the daemon did not stop within 30 s of SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Errorf("the daemon exited %d after SIGTERM, want 0", code)
	}
}

func (p *serveProc) get(path string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.http + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(b), err
}

// metric returns the value of one series of /metrics (name with labels,
// as printed), 0 when absent.
func (p *serveProc) metric(series string) float64 {
	p.t.Helper()
	page, err := p.get("/metrics")
	if err != nil {
		p.t.Fatalf("metrics: %v", err)
	}
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				p.t.Fatalf("metrics: %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// waitMetric polls a series until it reaches at least min.
func (p *serveProc) waitMetric(series string, min float64, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for p.metric(series) < min {
		if !p.running() {
			p.t.Fatalf("the daemon exited (%v) before %s reached %v", p.cmd.ProcessState, series, min)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s stays below %v after %v", series, min, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logLines returns the lines of the daemon's log that contain every one
// of words.
func (p *serveProc) logLines(words ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(p.log.String()))
	for sc.Scan() {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(sc.Text(), w)
		}
		if ok {
			out = append(out, sc.Text())
		}
	}
	return out
}

// queryInt runs one SELECT of a number on a stopped daemon's database.
func queryInt(t *testing.T, dataDir, query string) int {
	t.Helper()
	st, err := store.Open(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	if err := st.DB().Get(&n, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// listRequests is `tikkitd requests --json`.
func listRequests(t *testing.T, conf string) []requestView {
	t.Helper()
	code, out, errs := runCmd(t, "", "requests", "-config", conf, "--json")
	if code != exitOK {
		t.Fatalf("requests: exit %d: %s", code, errs)
	}
	var v []requestView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("requests --json: %v", err)
	}
	return v
}

// tenantMail is message i of a mailbox full of new requests: its own
// sender, subject and Message-ID, about size bytes.
func tenantMail(i, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Tenant %d <tenant%d@example.org>\r\nTo: maintenance@example.com\r\n", i, i)
	fmt.Fprintf(&b, "Subject: Window %d does not close\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n", i)
	fmt.Fprintf(&b, "Message-ID: <window.%d@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", i)
	for b.Len() < size {
		b.WriteString("The window handle turns but the window stays open a hand's width, it is cold in here.\r\n")
	}
	return b.Bytes()
}

// imapServeConfig writes a config with SMTP and HTTP on free loopback
// ports and the given [[imap]] sections.
func imapServeConfig(t *testing.T, dataDir, imap string) (conf, smtpAddr, httpAddr string) {
	t.Helper()
	smtpAddr, httpAddr = freePort(t), freePort(t)
	conf = writeConfig(t, fmt.Sprintf(`data_dir = %q
[mail]
address = "maintenance@example.com"
[smtp]
listen = %q
[http]
listen = %q
%s`, dataDir, smtpAddr, httpAddr, imap))
	return conf, smtpAddr, httpAddr
}

func passwordFile(t *testing.T, pw string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "imap.password")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The daemon SIGKILLed again and again while its IMAP poller imports a
// full INBOX, then left to finish: every message is stored once and makes
// one request, none is lost or doubled, and every one ends \Seen (or moved
// to processed_mailbox). The kills land while batches are committed, so
// some messages are committed but not yet flagged: the restart fetches
// them again and dedupe must turn them into duplicates.
func TestServeIMAPSurvivesKills(t *testing.T) {
	const seeded, size, kills = 600, 5 << 10, 4
	for _, tc := range []struct{ name, processed string }{{"seen", ""}, {"move", "Processed"}} {
		t.Run(tc.name, func(t *testing.T) {
			dc := dovecottest.Start(t)
			dc.SeedMaildir(seeded, func(i int) []byte { return tenantMail(i, size) })
			imap := fmt.Sprintf(`[[imap]]
name = "helpdesk"
host = %q
tls = "none"
username = %q
password_file = %q
idle = true
poll_interval = "1s"
batch = 20  # a commit-then-flag window every 20 messages, not 100
`, dc.Addr, dc.User, passwordFile(t, dc.Password))
			if tc.processed != "" {
				dc.Create(tc.processed)
				imap += fmt.Sprintf("processed_mailbox = %q\n", tc.processed)
			}
			dataDir := t.TempDir()
			conf, smtpAddr, httpAddr := imapServeConfig(t, dataDir, imap)
			p := newServeProc(t, conf, smtpAddr, httpAddr)

			seed := uint64(time.Now().UnixNano())
			rng := rand.New(rand.NewPCG(seed, seed))
			t.Logf("seed %d", seed)
			began := time.Now()
			p.watch = "outcome=created"
			stored, dups := 0, 0
			for k := range kills {
				// At the n-th new request of this run, 10 <= n < 90: the
				// batch is committed up to there and not yet flagged. Every
				// other kill waits 0-15 ms more, to land anywhere (fetch,
				// parse, commit, flag, move). A run adds n, the rest of its
				// batch of 20 and what 15 ms import (some 20 here), so all
				// four kills land mid-import.
				n := 10 + rng.IntN(80)
				var delay time.Duration
				if k%2 == 1 {
					delay = time.Duration(rng.IntN(15000)) * time.Microsecond
				}
				p.armKill(n, delay == 0)
				p.start()
				p.waitKill(delay, 30*time.Second)
				s := queryInt(t, dataDir, "SELECT COUNT(*) FROM messages")
				d := queryInt(t, dataDir, "SELECT COUNT(*) FROM deliveries WHERE outcome = 'duplicate'")
				t.Logf("kill %d at new request %d + %v: %d stored (+%d); this run fetched %d stored before (duplicates)",
					k+1, n, delay, s, s-stored, d-dups)
				if s >= seeded {
					t.Fatalf("kill %d came after the import ended: the test proves nothing", k+1)
				}
				stored, dups = s, d
			}
			p.start()
			deadline := time.Now().Add(30 * time.Second)
			for !imported(dc, tc.processed, seeded) {
				if time.Now().After(deadline) {
					t.Fatalf("the import does not finish: %d in INBOX, %d seen", dc.Count("INBOX"), len(seenIDs(dc)))
				}
				time.Sleep(100 * time.Millisecond)
			}
			p.stop()
			elapsed := time.Since(began)

			total := queryInt(t, dataDir, "SELECT COUNT(*) FROM deliveries WHERE outcome = 'duplicate'")
			t.Logf("%d messages, %d kills, %d duplicates in all (%d on the last restart), %v",
				seeded, kills, total, total-dups, elapsed.Round(10*time.Millisecond))
			if total == 0 {
				t.Logf("no kill fell between a commit and its flag this time")
			}

			// Nothing lost, nothing doubled: one message and one request each.
			want(t, "messages", queryInt(t, dataDir, "SELECT COUNT(*) FROM messages"), seeded)
			want(t, "distinct Message-IDs", queryInt(t, dataDir, "SELECT COUNT(DISTINCT message_id) FROM messages"), seeded)
			want(t, "created deliveries", queryInt(t, dataDir, "SELECT COUNT(*) FROM deliveries WHERE outcome = 'created'"), seeded)
			want(t, "other deliveries", queryInt(t, dataDir,
				"SELECT COUNT(*) FROM deliveries WHERE outcome NOT IN ('created', 'duplicate')"), 0)
			reqs := listRequests(t, conf)
			want(t, "requests", len(reqs), seeded)
			subjects := map[string]bool{}
			for _, r := range reqs {
				subjects[r.Subject] = true
			}
			for i := range seeded {
				if s := fmt.Sprintf("Window %d does not close", i); !subjects[s] {
					t.Errorf("no request %q", s)
				}
			}
			// One acknowledgement each: a duplicate queues none.
			code, out, errs := runCmd(t, "", "outbox", "-config", conf, "-n", "10000", "--json")
			var outbox []outboxView
			if code != exitOK || json.Unmarshal([]byte(out), &outbox) != nil {
				t.Fatalf("outbox: exit %d: %s", code, errs)
			}
			acks := map[string]int{}
			for _, o := range outbox {
				if o.Kind == "ack" {
					acks[o.To]++
				}
			}
			var wrong []string
			for i := range seeded {
				if to := fmt.Sprintf("tenant%d@example.org", i); acks[to] != 1 {
					wrong = append(wrong, fmt.Sprintf("%s: %d", to, acks[to]))
				}
			}
			if len(wrong) > 0 {
				t.Errorf("%d of %d requesters have other than one acknowledgement, e.g. %v", len(wrong), seeded, wrong[:min(5, len(wrong))])
			}

			// Every message is marked processed in the mailbox.
			if tc.processed == "" {
				seen, all := dc.MessageIDs("INBOX")
				want(t, "messages in INBOX", len(all), seeded)
				want(t, `\Seen messages in INBOX`, len(seen), seeded)
			} else {
				want(t, "messages left in INBOX", dc.Count("INBOX"), 0)
				_, all := dc.MessageIDs(tc.processed)
				want(t, "messages in "+tc.processed, len(all), seeded)
				for i := range seeded {
					if id := fmt.Sprintf("window.%d@example.org", i); !all[id] {
						t.Errorf("%s not in %s", id, tc.processed)
					}
				}
			}
		})
	}
}

func seenIDs(dc *dovecottest.Server) map[string]bool {
	seen, _ := dc.MessageIDs("INBOX")
	return seen
}

// imported reports whether the poller has marked all n messages processed.
func imported(dc *dovecottest.Server, processed string, n int) bool {
	if processed != "" {
		return dc.Count("INBOX") == 0 && dc.Count(processed) == n
	}
	return len(seenIDs(dc)) == n
}

// An IMAP account the daemon cannot use (a wrong password, a closed port)
// is one error line in the log, however often the poller retries, and the
// rest of the daemon goes on: SMTP mail still becomes requests, /healthz
// answers.
func TestServeIMAPOutage(t *testing.T) {
	for _, tc := range []struct {
		name string
		step string // the step the error line names
		imap func(t *testing.T) string
	}{
		{"wrong password", "login", func(t *testing.T) string {
			dc := dovecottest.Start(t)
			dc.Save("INBOX", tenantMail(1, 500)) // never read
			return fmt.Sprintf("host = %q\ntls = \"none\"\nusername = %q\npassword_file = %q\n",
				dc.Addr, dc.User, passwordFile(t, "not-"+dc.Password))
		}},
		{"closed port", "connect", func(t *testing.T) string {
			return fmt.Sprintf("host = %q\ntls = \"none\"\nusername = \"tk\"\npassword_file = %q\n",
				freePort(t), passwordFile(t, "s3cret"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			imap := "[[imap]]\nname = \"helpdesk\"\npoll_interval = \"1s\"\n" + tc.imap(t)
			conf, smtpAddr, httpAddr := imapServeConfig(t, dataDir, imap)
			p := newServeProc(t, conf, smtpAddr, httpAddr)
			p.start()

			msg := "From: Jane <jane@example.org>\r\nTo: maintenance@example.com\r\nSubject: Radiator cold\r\nMessage-ID: <outage1@example.org>\r\n\r\nRoom 12.\r\n"
			if err := sendSMTP(smtpAddr, "jane@example.org", []string{"maintenance@example.com"}, msg); err != nil {
				t.Fatalf("SMTP during the IMAP outage: %v", err)
			}
			// Several tries: the backoff starts at 1 s (0.5-1 s, 1-2 s, 2-4 s, with jitter).
			const errs = `tikkit_imap_errors_total{account="helpdesk"}`
			p.waitMetric(errs, 3, 20*time.Second)
			tries := p.metric(errs)
			if _, err := p.get("/healthz"); err != nil {
				t.Errorf("healthz during the IMAP outage: %v", err)
			}
			if !p.running() {
				t.Fatal("the daemon exited")
			}
			p.stop()

			lines := p.logLines("account=helpdesk")
			var loud []string
			for _, l := range lines {
				if !strings.Contains(l, "level=INFO") && !strings.Contains(l, "level=DEBUG") {
					loud = append(loud, l)
				}
			}
			if len(loud) != 1 {
				t.Fatalf("%v tries, %d warning or error lines for the account, want 1:\n%s", tries, len(loud), strings.Join(loud, "\n"))
			}
			t.Logf("%v tries, one line: %s", tries, loud[0])
			if !strings.Contains(loud[0], "level=ERROR") || !strings.Contains(loud[0], "imap: "+tc.step+" ") {
				t.Errorf("the line does not say the %s failed: %s", tc.step, loud[0])
			}
			if strings.Contains(p.log.String(), "s3cret") {
				t.Error("the log shows the password")
			}
			reqs := listRequests(t, conf)
			if len(reqs) != 1 || reqs[0].Subject != "Radiator cold" {
				t.Errorf("requests after SMTP mail during the outage: %+v", reqs)
			}
		})
	}
}
