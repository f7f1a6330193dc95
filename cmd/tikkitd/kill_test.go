package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run tikkitd as a real process (to kill it with
// SIGKILL): the test binary re-executes itself with TIKKIT_EXEC set.
func TestMain(m *testing.M) {
	if args := os.Getenv("TIKKIT_EXEC"); args != "" {
		os.Exit(run(strings.Split(args, "\x1f"), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess runs `tikkitd serve -config conf` as a child process and
// waits until its SMTP listener answers.
func startProcess(t *testing.T, conf, smtpAddr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TIKKIT_EXEC=serve\x1f-config\x1f"+conf)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // drain the log
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
		}
	}()
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", smtpAddr, 100*time.Millisecond); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatal("daemon did not start")
	return nil
}

// The daemon killed (SIGKILL) while the relay holds a delivery, then
// restarted: the message is delivered, once.
func TestOutboundSurvivesKill(t *testing.T) {
	relay := startRelay(t)
	smtpAddr := freePort(t)
	conf := writeConfig(t, fmt.Sprintf(`data_dir = %q
[mail]
address = "maintenance@example.com"
[smtp]
listen = %q
[http]
listen = ""
[outbound]
relay = %q
tls = "none"
`, t.TempDir(), smtpAddr, relay.addr))

	held := make(chan string, 1)
	release := make(chan struct{})
	relay.setHook(func(attempt int, m capturedMail) error {
		if attempt == 1 {
			held <- m.messageID()
			<-release // the daemon dies while we hold its DATA
			return errors.New("connection gone")
		}
		return nil
	})
	first := startProcess(t, conf, smtpAddr)
	msg := "From: Jane <jane@example.org>\r\nTo: maintenance@example.com\r\nSubject: Leak\r\nMessage-ID: <kill1@example.org>\r\n\r\nIt leaks.\r\n"
	if err := sendSMTP(smtpAddr, "jane@example.org", []string{"maintenance@example.com"}, msg); err != nil {
		first.Process.Kill()
		t.Fatal(err)
	}
	var ackID string
	select {
	case ackID = <-held:
	case <-time.After(10 * time.Second):
		first.Process.Kill()
		t.Fatal("the ack never reached the relay")
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	close(release)

	second := startProcess(t, conf, smtpAddr)
	defer func() { second.Process.Signal(syscall.SIGTERM); second.Wait() }()
	relay.waitFor(t, "the ack after the restart", 10*time.Second, func(ms []capturedMail) bool {
		return relay.countID(ackID) >= 1
	})
	relay.quiet(500*time.Millisecond, 3*time.Second)
	if n := relay.countID(ackID); n != 1 {
		t.Errorf("ack %s delivered %d times, want once", ackID, n)
	}
}
