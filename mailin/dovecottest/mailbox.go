package dovecottest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// Doveadm runs doveadm against this Dovecot as the test user and returns
// its output; the test fails when it fails. cmd is the command ("save",
// "mailbox create"), args what follows -u USER; stdin may be nil.
func (s *Server) Doveadm(stdin []byte, cmd string, args ...string) string {
	s.t.Helper()
	_, adm := binaries()
	full := append(append(append([]string{"-c", s.Conf}, strings.Fields(cmd)...), "-u", s.User), args...)
	c := exec.Command(adm, full...)
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		s.t.Fatalf("doveadm %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return string(out)
}

// Save appends a message to a mailbox, as a delivery would.
func (s *Server) Save(mbox string, msg []byte) { s.Doveadm(msg, "save", "-m", mbox) }

// Create creates a mailbox.
func (s *Server) Create(mbox string) { s.Doveadm(nil, "mailbox create", mbox) }

// Delete deletes a mailbox with the messages in it.
func (s *Server) Delete(mbox string) { s.Doveadm(nil, "mailbox delete", mbox) }

// Recreate deletes a mailbox and creates it again, empty and with a new
// UIDVALIDITY, as a server that lost its index would present it.
func (s *Server) Recreate(mbox string) {
	s.Delete(mbox)
	s.Create(mbox)
}

// Flags returns the flags of every message in mbox by UID.
func (s *Server) Flags(mbox string) map[string]string {
	out := s.Doveadm(nil, "fetch", "uid flags", "mailbox", mbox)
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

// Count returns the number of messages in mbox.
func (s *Server) Count(mbox string) int {
	out := s.Doveadm(nil, "mailbox status", "messages", mbox)
	_, v, ok := strings.Cut(out, "messages=")
	if !ok {
		s.t.Fatalf("doveadm mailbox status: %q", out)
	}
	var n int
	fmt.Sscanf(v, "%d", &n)
	return n
}

// MessageIDs returns the Message-IDs (without <>) of the messages in mbox
// that carry \Seen, and of all of them.
func (s *Server) MessageIDs(mbox string) (seen, all map[string]bool) {
	out := s.Doveadm(nil, "fetch", "flags hdr.message-id", "mailbox", mbox)
	seen, all = map[string]bool{}, map[string]bool{}
	var flags string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags = v
		}
		if v, ok := strings.CutPrefix(line, "hdr.message-id:"); ok {
			id := strings.Trim(strings.TrimSpace(v), "<>")
			all[id] = true
			if strings.Contains(flags, `\Seen`) {
				seen[id] = true
			}
		}
	}
	return seen, all
}

// SeedMaildir writes n messages, msg(0) to msg(n-1), straight into the
// test user's INBOX maildir, before anyone logs in: Dovecot indexes them
// on the first SELECT. One `doveadm save` per message costs a process
// start each (minutes for 2,000); this takes well under a second.
func (s *Server) SeedMaildir(n int, msg func(i int) []byte) {
	s.t.Helper()
	home := filepath.Join(filepath.Dir(s.Conf), "mail", s.User)
	uid, gid := -1, -1
	if os.Getuid() == 0 { // the mail belongs to nobody, as in Start
		u, err := user.Lookup("nobody")
		if err != nil {
			s.t.Fatal(err)
		}
		fmt.Sscan(u.Uid, &uid)
		fmt.Sscan(u.Gid, &gid)
	}
	mk := func(p string) {
		if err := os.MkdirAll(p, 0o700); err != nil {
			s.t.Fatal(err)
		}
		if uid >= 0 {
			os.Chown(p, uid, gid)
		}
	}
	mk(home)
	for _, sub := range []string{"cur", "new", "tmp"} {
		mk(filepath.Join(home, sub))
	}
	base := time.Now().Unix()
	for i := range n {
		// Maildir stores LF line ends; S= spares Dovecot a stat per message.
		m := bytes.ReplaceAll(msg(i), []byte("\r\n"), []byte("\n"))
		name := fmt.Sprintf("%d.M%dP%d.seed,S=%d:2,", base, i, os.Getpid(), len(m))
		p := filepath.Join(home, "cur", name)
		if err := os.WriteFile(p, m, 0o600); err != nil {
			s.t.Fatal(err)
		}
		if uid >= 0 {
			os.Chown(p, uid, gid)
		}
	}
}
