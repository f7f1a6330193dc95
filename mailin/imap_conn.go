package mailin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapConn is the little of IMAP the poller needs; go-imap/v2 stays behind it.
type imapConn interface {
	// Select opens a mailbox read-write.
	Select(mailbox string) (mailboxInfo, error)
	// UIDsAbove lists the UIDs greater than uid in the selected mailbox, ascending.
	UIDsAbove(uid uint32) ([]uint32, error)
	// UIDsUnseen lists the UIDs of the messages without \Seen, ascending.
	UIDsUnseen() ([]uint32, error)
	// Fetch streams the whole of each message with BODY.PEEK[], which
	// leaves \Seen alone (RFC 3501 §6.4.5). each must read body before it
	// returns; an error from each stops the fetch.
	Fetch(uids []uint32, each func(uid uint32, body io.Reader) error) error
	// Processed marks committed messages: \Seen, or a move to moveTo.
	Processed(uids []uint32, moveTo string) error
	// Idle waits in IDLE on the selected mailbox until it reports new mail,
	// max passes or ctx ends. ok is false when the server has no IDLE.
	Idle(ctx context.Context, max time.Duration) (ok bool, err error)
	// Mailboxes lists every mailbox with its message count (for `imap test`).
	Mailboxes() ([]MailboxCount, error)
	Close() error
	// Abort closes the connection at once, without LOGOUT.
	Abort() error
}

// MailboxCount is one mailbox on the server, as `tikkitd imap test` lists it.
type MailboxCount struct {
	Name     string
	Messages uint32
	Unseen   uint32
	Created  bool // created by CheckIMAP just now (processed_mailbox)
}

type mailboxInfo struct {
	UIDValidity uint32
	UIDNext     uint32 // 0 when the server did not say
	Messages    uint32
}

// IMAPError says at which step talking to the server failed, so that an
// administrator reads "login" or "TLS" rather than a bare protocol error.
type IMAPError struct {
	Step string // dns | connect | tls | login | select | fetch | store | move | idle
	Host string
	Err  error
}

func (e *IMAPError) Error() string {
	return fmt.Sprintf("imap: %s %s: %v", e.Step, e.Host, e.Err)
}
func (e *IMAPError) Unwrap() error { return e.Err }

// goIMAP implements imapConn with go-imap/v2.
type goIMAP struct {
	c        *imapclient.Client
	tc       *timeoutConn
	timeout  time.Duration // for one command to make progress
	host     string
	spoolDir string
	news     chan struct{} // the server reported EXISTS (a message arrived)
}

// dialIMAP connects, logs in and returns the connection.
func dialIMAP(ctx context.Context, acc IMAPAccount, spoolDir string) (*goIMAP, error) {
	g := &goIMAP{host: acc.Host, spoolDir: spoolDir, news: make(chan struct{}, 1), timeout: acc.Timeout}
	if g.timeout <= 0 {
		g.timeout = defaultIMAPTimeout
	}
	opt := &imapclient.Options{
		TLSConfig: acc.TLSConfig,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case g.news <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	// Like mailout's relay: a given config (say, only RootCAs) still
	// verifies the host it dials, at TLS 1.2 or later.
	if opt.TLSConfig == nil {
		opt.TLSConfig = &tls.Config{}
	} else {
		opt.TLSConfig = opt.TLSConfig.Clone()
	}
	if opt.TLSConfig.ServerName == "" {
		opt.TLSConfig.ServerName, _, _ = net.SplitHostPort(acc.Host)
	}
	if opt.TLSConfig.MinVersion == 0 {
		opt.TLSConfig.MinVersion = tls.VersionTLS12
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", acc.Host)
	if err != nil {
		step := "connect"
		if _, ok := errors.AsType[*net.DNSError](err); ok {
			step = "dns" // the name does not resolve: a typo, or no DNS here
		}
		return nil, &IMAPError{Step: step, Host: acc.Host, Err: err}
	}
	conn := &timeoutConn{Conn: raw}
	g.tc = conn
	conn.arm(g.timeout) // the greeting, STARTTLS and LOGIN
	defer conn.disarm()
	switch acc.TLS {
	case "implicit", "":
		tc := tls.Client(conn, opt.TLSConfig)
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, &IMAPError{Step: "tls", Host: acc.Host, Err: err}
		}
		g.c = imapclient.New(tc, opt)
	case "starttls":
		// RFC 3501 §6.2.1: STARTTLS before any credentials go out.
		c, err := imapclient.NewStartTLS(conn, opt)
		if err != nil {
			conn.Close()
			return nil, &IMAPError{Step: "tls", Host: acc.Host, Err: err}
		}
		g.c = c
	case "none":
		g.c = imapclient.New(conn, opt)
	default:
		conn.Close()
		return nil, &IMAPError{Step: "connect", Host: acc.Host, Err: fmt.Errorf("unknown tls mode %q (implicit, starttls or none)", acc.TLS)}
	}
	// Nothing below honours ctx by itself: closing the connection does.
	stop := context.AfterFunc(ctx, func() { g.c.Close() })
	defer stop()
	if err := g.c.WaitGreeting(); err != nil {
		g.c.Close()
		return nil, &IMAPError{Step: "connect", Host: acc.Host, Err: err}
	}
	if err := g.c.Login(acc.Username, acc.Password).Wait(); err != nil {
		g.c.Close()
		return nil, &IMAPError{Step: "login", Host: acc.Host, Err: fmt.Errorf("as %s: %w", acc.Username, err)}
	}
	return g, nil
}

func (g *goIMAP) Close() error {
	g.tc.arm(logoutTimeout) // a polite LOGOUT, unless the server has stopped answering
	g.c.Logout().Wait()
	return g.c.Close()
}

func (g *goIMAP) Abort() error { return g.c.Close() }

// defaultIMAPTimeout is how long the server may go silent while a command
// waits for it before the connection counts as broken.
const defaultIMAPTimeout = 2 * time.Minute

// logoutTimeout bounds the LOGOUT on the way out.
const logoutTimeout = 5 * time.Second

// command arms the connection's timeout for one command; the returned
// func disarms it. Between commands the connection may stay silent.
func (g *goIMAP) command() func() {
	g.tc.arm(g.timeout)
	return g.tc.disarm
}

// timeoutConn fails a read or write that waits longer than its timeout
// while a command is outstanding: a server that stops answering (hung, or
// a NAT mapping gone) breaks the connection instead of hanging the poller
// and, with it, shutdown. Each read that returns data extends the
// deadline, so a long FETCH that makes progress is never cut off. While
// armed, it owns the deadlines (go-imap's own, set around each response,
// would clear them); disarmed, between commands, go-imap's apply.
type timeoutConn struct {
	net.Conn
	timeout atomic.Int64 // nanoseconds; 0: no command outstanding
}

func (c *timeoutConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if d := c.timeout.Load(); d > 0 && n > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(time.Duration(d)))
	}
	return n, err
}

func (c *timeoutConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if d := c.timeout.Load(); d > 0 && n > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(time.Duration(d)))
	}
	return n, err
}

func (c *timeoutConn) SetDeadline(t time.Time) error {
	if c.timeout.Load() > 0 {
		return nil
	}
	return c.Conn.SetDeadline(t)
}

func (c *timeoutConn) SetReadDeadline(t time.Time) error {
	if c.timeout.Load() > 0 {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *timeoutConn) SetWriteDeadline(t time.Time) error {
	if c.timeout.Load() > 0 {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// arm sets the timeout, for the read in progress too.
func (c *timeoutConn) arm(d time.Duration) {
	c.timeout.Store(int64(d))
	c.Conn.SetDeadline(time.Now().Add(d))
}

func (c *timeoutConn) disarm() {
	c.timeout.Store(0)
	c.Conn.SetDeadline(time.Time{})
}

func (g *goIMAP) Select(mailbox string) (mailboxInfo, error) {
	defer g.command()()
	d, err := g.c.Select(mailbox, nil).Wait()
	if err != nil {
		return mailboxInfo{}, &IMAPError{Step: "select", Host: g.host, Err: fmt.Errorf("%s: %w", mailbox, err)}
	}
	return mailboxInfo{UIDValidity: d.UIDValidity, UIDNext: uint32(d.UIDNext), Messages: d.NumMessages}, nil
}

func (g *goIMAP) UIDsUnseen() ([]uint32, error) {
	return g.search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}})
}

func (g *goIMAP) UIDsAbove(uid uint32) ([]uint32, error) {
	var set imap.UIDSet
	set.AddRange(imap.UID(uid+1), 0) // uid+1:*
	uids, err := g.search(&imap.SearchCriteria{UID: []imap.UIDSet{set}})
	// RFC 3501 §6.4.8: "n:*" always matches the last message, even when
	// its UID is below n.
	return slices.DeleteFunc(uids, func(u uint32) bool { return u <= uid }), err
}

// search runs UID SEARCH and returns the UIDs, ascending.
func (g *goIMAP) search(c *imap.SearchCriteria) ([]uint32, error) {
	defer g.command()()
	d, err := g.c.UIDSearch(c, nil).Wait()
	if err != nil {
		return nil, &IMAPError{Step: "search", Host: g.host, Err: err}
	}
	var out []uint32
	for _, u := range d.AllUIDs() {
		out = append(out, uint32(u))
	}
	slices.Sort(out)
	return out, nil
}

func uidSet(uids []uint32) imap.UIDSet {
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	return set
}

func (g *goIMAP) Fetch(uids []uint32, each func(uid uint32, body io.Reader) error) error {
	defer g.command()()
	cmd := g.c.Fetch(uidSet(uids), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	var stopped error
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var uid uint32
		var raw *Raw
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(it.UID)
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil || stopped != nil {
					continue
				}
				if uid != 0 {
					stopped = each(uid, it.Literal)
					continue
				}
				// UID after the body: keep the body until the UID comes.
				raw, stopped = Spool(it.Literal, g.spoolDir, -1)
			}
		}
		if raw != nil && stopped == nil {
			if uid == 0 {
				raw.Discard()
				continue
			}
			rc, err := raw.Open()
			if err != nil {
				stopped = err
			} else {
				stopped = each(uid, rc)
				rc.Close()
			}
			raw.Discard()
		}
		if stopped != nil {
			break
		}
	}
	err := cmd.Close()
	if stopped != nil {
		return stopped
	}
	if err != nil {
		return &IMAPError{Step: "fetch", Host: g.host, Err: err}
	}
	return nil
}

func (g *goIMAP) Processed(uids []uint32, moveTo string) error {
	if len(uids) == 0 {
		return nil
	}
	defer g.command()()
	set := uidSet(uids)
	if moveTo == "" {
		if err := g.addFlags(set, imap.FlagSeen); err != nil {
			return err
		}
		return nil
	}
	// The moved mail stays unread in moveTo: marking it \Seen first would
	// leave a message \Seen but not moved after a crash in between, and a
	// first poll (unread mail only) would never look at it again.
	caps := g.c.Caps()
	if caps.Has(imap.CapMove) {
		err := g.tryCreate(moveTo, func() error {
			_, err := g.c.Move(set, moveTo).Wait()
			return err
		})
		if err != nil {
			return g.moveRefused(set, moveTo, &IMAPError{Step: "move", Host: g.host, Err: fmt.Errorf("to %s: %w", moveTo, err)})
		}
		return nil
	}
	// No MOVE: COPY, and only once the copy is made, mark ours deleted.
	// (go-imap's own fallback sends COPY, STORE and EXPUNGE at once, so a
	// COPY that fails still deletes the messages.)
	err := g.tryCreate(moveTo, func() error {
		_, err := g.c.Copy(set, moveTo).Wait()
		return err
	})
	if err != nil {
		return g.moveRefused(set, moveTo, &IMAPError{Step: "move", Host: g.host, Err: fmt.Errorf("copy to %s: %w", moveTo, err)})
	}
	if caps.Has(imap.CapUIDPlus) {
		// UID EXPUNGE (RFC 4315) removes only these messages.
		if err := g.addFlags(set, imap.FlagDeleted); err != nil {
			return err
		}
		if err := g.c.UIDExpunge(set).Close(); err != nil {
			return &IMAPError{Step: "move", Host: g.host, Err: fmt.Errorf("expunge: %w", err)}
		}
		return nil
	}
	// Neither MOVE nor UIDPLUS: a plain EXPUNGE would also remove messages
	// someone else marked \Deleted, some perhaps not fetched yet. Mark ours
	// \Seen and \Deleted, and leave the expunge to the mailbox owner's client.
	return g.addFlags(set, imap.FlagSeen, imap.FlagDeleted)
}

// addFlags adds flags to the messages, silently (STORE +FLAGS.SILENT).
func (g *goIMAP) addFlags(set imap.UIDSet, flags ...imap.Flag) error {
	if err := g.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close(); err != nil {
		return &IMAPError{Step: "store", Host: g.host, Err: err}
	}
	return nil
}

// MoveRefusedError says the server refused to move filed mail to the
// processed mailbox (a name it will not create, no right to it), and that
// the mail was marked \Seen where it is instead: filed and marked, not to be
// fetched again.
type MoveRefusedError struct{ Err error }

func (e *MoveRefusedError) Error() string {
	return "moving to processed_mailbox refused; marked \\Seen in place instead: " + e.Err.Error()
}
func (e *MoveRefusedError) Unwrap() error { return e.Err }

// moveRefused handles a failed move: when the server answered it (NO or
// BAD, the connection fine), the messages are marked \Seen in place and a
// *MoveRefusedError returned; otherwise err as it is.
func (g *goIMAP) moveRefused(set imap.UIDSet, moveTo string, err error) error {
	if _, answered := errors.AsType[*imap.Error](err); !answered {
		return err
	}
	if serr := g.addFlags(set, imap.FlagSeen); serr != nil {
		return errors.Join(err, serr)
	}
	return &MoveRefusedError{Err: err}
}

// tryCreate runs op (a MOVE or COPY to mbox); when the server answers that
// mbox does not exist ([TRYCREATE], RFC 3501 §6.4.7), it creates mbox and
// runs op once more: a processed_mailbox nobody made yet is made, as the
// administrator would have.
func (g *goIMAP) tryCreate(mbox string, op func() error) error {
	err := op()
	var ie *imap.Error
	if err == nil || !errors.As(err, &ie) || ie.Code != imap.ResponseCodeTryCreate {
		return err
	}
	if cerr := g.c.Create(mbox, nil).Wait(); cerr != nil {
		return errors.Join(err, fmt.Errorf("create %s: %w", mbox, cerr))
	}
	return op()
}

// Idle waits in IDLE; see imapConn.
//
// IMAP servers may drop an IDLE after 30 minutes (RFC 2177): the poller
// ends it after the poll interval (60s by default) to run a cycle, and
// go-imap restarts a longer one every 28 minutes by itself.
func (g *goIMAP) Idle(ctx context.Context, max time.Duration) (bool, error) {
	if !g.c.Caps().Has(imap.CapIdle) {
		return false, nil
	}
	g.tc.arm(g.timeout) // until the server says it idles
	cmd, err := g.c.Idle()
	if err != nil {
		g.tc.disarm()
		return true, &IMAPError{Step: "idle", Host: g.host, Err: err}
	}
	g.tc.disarm() // idling: the server is silent until there is news
	defer g.tc.disarm()
	t := time.NewTimer(max)
	defer t.Stop()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-g.news:
		g.tc.arm(g.timeout)
	case <-t.C:
		g.tc.arm(g.timeout)
	case <-ctx.Done():
		g.tc.arm(logoutTimeout) // shutting down: do not wait long
	case err := <-done: // the server ended it, or the connection broke
		if err == nil {
			err = errors.New("server ended IDLE")
		}
		return true, &IMAPError{Step: "idle", Host: g.host, Err: err}
	}
	if err := cmd.Close(); err != nil {
		return true, &IMAPError{Step: "idle", Host: g.host, Err: err}
	}
	// The server ends IDLE; if shutdown begins meanwhile, it gets only
	// logoutTimeout more to do so.
	select {
	case err = <-done:
	case <-ctx.Done():
		g.tc.arm(logoutTimeout)
		err = <-done
	}
	if err != nil {
		return true, &IMAPError{Step: "idle", Host: g.host, Err: err}
	}
	return true, nil
}

// CreateMailbox creates a mailbox (`imap test` for processed_mailbox).
func (g *goIMAP) CreateMailbox(name string) error {
	defer g.command()()
	if err := g.c.Create(name, nil).Wait(); err != nil {
		return &IMAPError{Step: "create", Host: g.host, Err: fmt.Errorf("%s: %w", name, err)}
	}
	return nil
}

func (g *goIMAP) Mailboxes() ([]MailboxCount, error) {
	defer g.command()()
	list, err := g.c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, NumUnseen: true}}).Collect()
	if err != nil {
		return nil, &IMAPError{Step: "list", Host: g.host, Err: err}
	}
	var out []MailboxCount
	for _, l := range list {
		mc := MailboxCount{Name: l.Mailbox}
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			continue
		}
		st := l.Status
		if st == nil { // no LIST-STATUS: ask one by one
			st, err = g.c.Status(l.Mailbox, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
			if err != nil {
				return nil, &IMAPError{Step: "status", Host: g.host, Err: fmt.Errorf("%s: %w", l.Mailbox, err)}
			}
		}
		if st.NumMessages != nil {
			mc.Messages = *st.NumMessages
		}
		if st.NumUnseen != nil {
			mc.Unseen = *st.NumUnseen
		}
		out = append(out, mc)
	}
	return out, nil
}
