package mailin

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dovecot is a real Dovecot started for one test from a config in a temp
// dir, listening on a free loopback port, with one user and maildirs.
type dovecot struct {
	t          testing.TB
	conf, addr string
	tlsAddr    string // the implicit-TLS (imaps) listener, with withTLS
	user, pass string
}

// dovecotConfig is what the options of startDovecot change.
type dovecotConfig struct {
	certFile, keyFile string // PEM; set: ssl = yes, STARTTLS on addr, imaps on tlsAddr
}

type dovecotOption func(*dovecotConfig)

// withTLS serves the certificate and key (PEM files) with ssl = yes: STARTTLS
// on the plain listener and implicit TLS on dovecot.tlsAddr.
func withTLS(certFile, keyFile string) dovecotOption {
	return func(c *dovecotConfig) { c.certFile, c.keyFile = certFile, keyFile }
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func findDovecot() (string, string) {
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if p := "/usr/sbin/" + name; fileExists(p) {
			return p
		}
		if p := "/usr/bin/" + name; fileExists(p) {
			return p
		}
		return ""
	}
	return find("dovecot"), find("doveadm")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

const dovecotConf = `base_dir = {{dir}}/run
state_dir = {{dir}}/state
log_path = {{dir}}/dovecot.log
protocols = imap
listen = 127.0.0.1
{{ssl}}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {{internal}}
default_login_user = {{login}}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{{dir}}/mail/%u
mailbox_idle_check_interval = 1 secs
passdb {
  driver = static
  args = password={{pass}}
}
userdb {
  driver = static
  args = uid={{uid}} gid={{gid}} home={{dir}}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = {{port}}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = {{imapsport}}
  }
  chroot =
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`

// startDovecot starts Dovecot or skips the test when it is not installed
// (CI installs Debian's dovecot-imapd). As root, mail belongs to nobody and
// Dovecot's own users run its services; otherwise everything runs as the
// current user.
func startDovecot(t testing.TB, opts ...dovecotOption) *dovecot {
	t.Helper()
	var cfg dovecotConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin, adm := findDovecot()
	if bin == "" || adm == "" {
		t.Skip("dovecot not installed (Debian: apt-get install dovecot-imapd); skipping the IMAP integration test")
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	internal, login, uid, gid := me.Username, me.Username, me.Username, me.Gid
	if os.Getuid() == 0 {
		// Dovecot never runs mail processes as root.
		for _, u := range []string{"dovecot", "dovenull", "nobody"} {
			if _, err := user.Lookup(u); err != nil {
				t.Skipf("running as root needs the %s user (from the dovecot package): %v", u, err)
			}
		}
		internal, login, uid = "dovecot", "dovenull", "nobody"
		nobody, _ := user.Lookup("nobody")
		gid = nobody.Gid
	}
	// A short path: Dovecot's unix sockets live in base_dir.
	dir, err := os.MkdirTemp("", "dc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if os.Getuid() == 0 {
		u, _ := user.Lookup(uid)
		var n, g int
		fmt.Sscan(u.Uid, &n)
		fmt.Sscan(gid, &g)
		os.Chown(filepath.Join(dir, "mail"), n, g)
	}
	port := freePort(t)
	d := &dovecot{t: t, conf: filepath.Join(dir, "dovecot.conf"), addr: fmt.Sprintf("127.0.0.1:%d", port), user: "tk", pass: "s3cret"}
	ssl, imapsPort := "ssl = no", 0
	listening := []string{d.addr}
	if cfg.certFile != "" {
		// Dovecot's config process reads the files (as root, or as us).
		ssl = fmt.Sprintf("ssl = yes\nssl_cert = <%s\nssl_key = <%s", cfg.certFile, cfg.keyFile)
		imapsPort = freePort(t)
		d.tlsAddr = fmt.Sprintf("127.0.0.1:%d", imapsPort)
		listening = append(listening, d.tlsAddr)
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{internal}}", internal, "{{login}}", login, "{{pass}}", d.pass,
		"{{uid}}", uid, "{{gid}}", gid, "{{port}}", fmt.Sprint(port), "{{ssl}}", ssl,
		"{{imapsport}}", fmt.Sprint(imapsPort)).Replace(dovecotConf)
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", d.conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for _, addr := range listening {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
				t.Fatalf("dovecot exited: %s\n%s", out.String(), log)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("dovecot does not listen on %s: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return d
}

// adm runs doveadm against this Dovecot as the test user: cmd is the
// command ("save", "mailbox create"), args what follows -u USER.
func (d *dovecot) adm(stdin []byte, cmd string, args ...string) string {
	d.t.Helper()
	_, adm := findDovecot()
	full := append(append(append([]string{"-c", d.conf}, strings.Fields(cmd)...), "-u", d.user), args...)
	c := exec.Command(adm, full...)
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		d.t.Fatalf("doveadm %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return string(out)
}

// save appends a message to a mailbox, as a delivery would.
func (d *dovecot) save(mbox string, msg []byte) { d.adm(msg, "save", "-m", mbox) }

func (d *dovecot) create(mbox string) { d.adm(nil, "mailbox create", mbox) }

// flags returns the flags of every message in mbox by UID.
func (d *dovecot) flags(mbox string) map[string]string {
	out := d.adm(nil, "fetch", "uid flags", "mailbox", mbox)
	m := map[string]string{}
	var uid string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "uid: "); ok {
			uid = v
		}
		if v, ok := strings.CutPrefix(line, "flags: "); ok {
			m[uid] = v
		} else if line == "flags:" {
			m[uid] = ""
		}
	}
	return m
}

func (d *dovecot) count(mbox string) int {
	out := d.adm(nil, "mailbox status", "messages", mbox)
	_, v, ok := strings.Cut(out, "messages=")
	if !ok {
		d.t.Fatalf("doveadm mailbox status: %q", out)
	}
	var n int
	fmt.Sscanf(v, "%d", &n)
	return n
}

func (d *dovecot) account() IMAPAccount {
	return IMAPAccount{Name: "test", Host: d.addr, TLS: "none", Username: d.user, Password: d.pass, IDLE: true}
}
