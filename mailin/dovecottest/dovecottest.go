package dovecottest

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

// Server is a real Dovecot started for one test from a config in a temp
// dir, listening on a free loopback port, with one user and maildirs. It
// stops when the test ends.
type Server struct {
	Addr     string // host:port of the plain IMAP listener (STARTTLS with WithTLS)
	TLSAddr  string // host:port of the implicit-TLS (imaps) listener; "" without WithTLS
	User     string // the one user
	Password string // its password
	Conf     string // the path of dovecot.conf; its directory holds the mail and the log

	t   testing.TB
	pid int // the master process
}

// config is what the options of Start change.
type config struct {
	certFile, keyFile string // PEM; set: ssl = yes, STARTTLS on Addr, imaps on TLSAddr
}

// An Option changes how Start configures Dovecot.
type Option func(*config)

// WithTLS serves the certificate and key (PEM files) with ssl = yes:
// STARTTLS on the plain listener and implicit TLS on Server.TLSAddr.
func WithTLS(certFile, keyFile string) Option {
	return func(c *config) { c.certFile, c.keyFile = certFile, keyFile }
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

// binaries returns the paths of dovecot and doveadm, "" for one not found
// (Debian puts dovecot in /usr/sbin, often not in a user's PATH).
func binaries() (dovecot, doveadm string) {
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin/", "/usr/bin/"} {
			if _, err := os.Stat(dir + name); err == nil {
				return dir + name
			}
		}
		return ""
	}
	return find("dovecot"), find("doveadm")
}

// Installed reports whether dovecot and doveadm are there, for a test
// that wants to say more than Start's skip.
func Installed() bool {
	bin, adm := binaries()
	return bin != "" && adm != ""
}

const conf = `base_dir = {{dir}}/run
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
  # No growing delay after failed logins (a test logs in wrongly on purpose).
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`

// Start starts Dovecot or skips the test when it is not installed (CI
// installs Debian's dovecot-imapd). As root, mail belongs to nobody and
// Dovecot's own users run its services; otherwise everything runs as the
// current user.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	bin, adm := binaries()
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
	s := &Server{t: t, Conf: filepath.Join(dir, "dovecot.conf"), Addr: fmt.Sprintf("127.0.0.1:%d", port),
		User: "tk", Password: "s3cret"}
	ssl, imapsPort := "ssl = no", 0
	listening := []string{s.Addr}
	if cfg.certFile != "" {
		// Dovecot's config process reads the files (as root, or as us).
		ssl = fmt.Sprintf("ssl = yes\nssl_cert = <%s\nssl_key = <%s", cfg.certFile, cfg.keyFile)
		imapsPort = freePort(t)
		s.TLSAddr = fmt.Sprintf("127.0.0.1:%d", imapsPort)
		listening = append(listening, s.TLSAddr)
	}
	text := strings.NewReplacer("{{dir}}", dir, "{{internal}}", internal, "{{login}}", login, "{{pass}}", s.Password,
		"{{uid}}", uid, "{{gid}}", gid, "{{port}}", fmt.Sprint(port), "{{ssl}}", ssl,
		"{{imapsport}}", fmt.Sprint(imapsPort)).Replace(conf)
	if err := os.WriteFile(s.Conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", s.Conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.pid = cmd.Process.Pid
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
	return s
}
