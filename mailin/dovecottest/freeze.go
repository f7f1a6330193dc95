package dovecottest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Freeze stops (SIGSTOP) the IMAP processes now serving this server's
// connections: they stay connected and answer nothing, like a hung server
// or a dead NAT mapping. New connections get new, working processes.
// It returns how many it stopped; Thaw resumes them.
func (s *Server) Freeze() int { return s.signalIMAP(syscall.SIGSTOP) }

// Thaw resumes the processes Freeze stopped.
func (s *Server) Thaw() int { return s.signalIMAP(syscall.SIGCONT) }

// signalIMAP signals every "imap" process below the master of s.
func (s *Server) signalIMAP(sig syscall.Signal) int {
	s.t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	name := map[int]string{}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		st := string(b)
		open, close := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if open < 0 || close < open {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(st[:open]))
		fields := strings.Fields(st[close+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		parent[pid], name[pid] = ppid, st[open+1:close]
	}
	n := 0
	for pid, comm := range name {
		if comm != "imap" {
			continue
		}
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == s.pid {
				if syscall.Kill(pid, sig) == nil {
					n++
				}
				break
			}
		}
	}
	return n
}
