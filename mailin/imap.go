package mailin

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tikkit/tikkit/store"
)

// IMAPAccount is one mailbox account the poller reads ([imap] in the config).
type IMAPAccount struct {
	Name             string // names the account in the store and the logs; default username@host
	Host             string // host:port
	TLS              string // implicit | starttls | none
	Username         string
	Password         string   // the caller reads password_file or the environment
	Mailboxes        []string // default INBOX
	ProcessedMailbox string   // move committed mail there; "" = add \Seen only
	// Existing is what the first poll of a mailbox (and the first after its
	// UIDVALIDITY changed) imports of the mail already there: "unseen" (the
	// default: read mail was dealt with), "all", or "none" (only mail that
	// arrives from then on).
	Existing     string
	IDLE         bool
	PollInterval time.Duration // default 60s
	Timeout      time.Duration // how long the server may stay silent during a command; default 2m
	Batch        int           // messages per FETCH; default 100
	TLSConfig    *tls.Config
}

// PollerStatus is what the status page and /metrics show of one account.
type PollerStatus struct {
	Account     string
	Connected   bool
	Fetched     int64 // messages filed since start (fetched again as duplicates: not counted)
	Errors      int64 // failed cycles and connection attempts since start
	Skipped     int64 // messages the server would not return, left in the mailbox
	MoveRefused bool  // the last move to processed_mailbox was refused (mail marked \Seen in place)
	LastError   string
	LastErrorAt time.Time
	LastStep    string // the IMAPError step of the last error ("login", "connect" …), "" when none
	Mailboxes   []MailboxStatus
}

// MailboxStatus is one polled mailbox.
type MailboxStatus struct {
	Name        string
	LastPoll    time.Time // last successful poll
	UIDValidity uint32
	LastUID     uint32
	Fetched     int64
}

// Poller reads one IMAP account into the ingest path, exactly once:
// messages are fetched by UID above the last committed one, committed by
// Ingest, and only then flagged \Seen or moved; a crash in between
// re-fetches them, and dedupe by Message-ID makes that a no-op (DESIGN §3.1).
type Poller struct {
	in       *Ingester
	st       *store.Store
	acc      IMAPAccount
	log      *slog.Logger
	spoolDir string
	dial     func(ctx context.Context) (imapConn, error)

	// Backoff after errors; tests shorten it.
	minBackoff, maxBackoff time.Duration

	connMu sync.Mutex // held by the one cycle or idle using conn
	conn   imapConn

	mu     sync.Mutex
	status PollerStatus
	boxes  map[string]*MailboxStatus

	// Per mailbox, a UID whose fetch broke off; used only by the cycle
	// (connMu held).
	stuck map[string]*stuckState
	// retrySoon: the last cycle failed on a message it has now isolated;
	// the next one should come at once, not after a backoff.
	retrySoon bool
	// Mailboxes the server would not open in the last cycle (connMu held).
	missing map[string]bool
	// Mailboxes whose first poll was logged (connMu held).
	firstSaid map[string]bool
}

// stuckState is, for one mailbox, the message whose fetch broke off (the
// suspect: fetched alone until it works, or skipped after maxFetchTries
// failures in a row) and the messages skipped so far.
type stuckState struct {
	validity uint32
	suspect  uint32 // 0: none
	tries    int    // failed fetches of suspect alone
	skipped  map[uint32]bool
}

// maxFetchTries is how often a message that breaks the fetch (a server
// that drops the connection on it, a body it cannot read) is fetched alone
// before it is skipped and left in the mailbox, so that the mail after it
// still comes in.
const maxFetchTries = 3

// NewPoller makes a poller for one account; Run or PollOnce use it.
func NewPoller(in *Ingester, st *store.Store, acc IMAPAccount, log *slog.Logger) *Poller {
	if len(acc.Mailboxes) == 0 {
		acc.Mailboxes = []string{"INBOX"}
	}
	if acc.PollInterval <= 0 {
		acc.PollInterval = 60 * time.Second
	}
	if acc.Batch <= 0 {
		acc.Batch = 100
	}
	if acc.Name == "" {
		acc.Name = acc.Username + "@" + acc.Host
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("account", acc.Name))
	p := &Poller{in: in, st: st, acc: acc, log: log, spoolDir: st.Blobs.TempDir(),
		minBackoff: time.Second, maxBackoff: 5 * time.Minute, boxes: map[string]*MailboxStatus{}, stuck: map[string]*stuckState{}, missing: map[string]bool{}, firstSaid: map[string]bool{}}
	p.dial = func(ctx context.Context) (imapConn, error) { return dialIMAP(ctx, p.acc, p.spoolDir) }
	p.status.Account = acc.Name
	for _, m := range acc.Mailboxes {
		p.boxes[m] = &MailboxStatus{Name: m}
	}
	return p
}

// Status returns a copy of the poller's state.
func (p *Poller) Status() PollerStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.status
	s.Mailboxes = nil
	for _, m := range p.acc.Mailboxes {
		s.Mailboxes = append(s.Mailboxes, *p.boxes[m])
	}
	return s
}

func (p *Poller) noteError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.Errors++
	p.status.LastError = err.Error()
	p.status.LastErrorAt = time.Now()
	p.status.LastStep = "ingest"
	if ie, ok := errors.AsType[*IMAPError](err); ok {
		p.status.LastStep = ie.Step
	}
}

func (p *Poller) setConnected(ok bool) {
	p.mu.Lock()
	p.status.Connected = ok
	p.mu.Unlock()
}

// connect returns the open connection, dialling when there is none.
// Called with connMu held.
func (p *Poller) connect(ctx context.Context) (imapConn, error) {
	if p.conn != nil {
		return p.conn, nil
	}
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	p.conn = c
	p.setConnected(true)
	return c, nil
}

// drop closes the connection after an error; the next cycle dials again.
// Called with connMu held.
func (p *Poller) drop() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	p.setConnected(false)
}

// Disconnect logs out, if connected.
func (p *Poller) Disconnect() {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	p.drop()
}

// PollOnce runs one cycle over every mailbox and returns how many messages
// it committed. On an error the connection is dropped (the next cycle
// reconnects); what was committed before it stays committed.
func (p *Poller) PollOnce(ctx context.Context) (fetched int, err error) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	defer func() {
		if err != nil {
			p.noteError(err)
		}
	}()
	p.retrySoon = false
	c, err := p.connect(ctx)
	if err != nil {
		return 0, err
	}
	// A server that stops answering must not hold up shutdown for ever:
	// after a grace period for the message in flight, close the socket.
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(shutdownGrace, func() { c.Abort() })
	})
	defer stop()
	for _, mbox := range p.acc.Mailboxes {
		n, err := p.pollMailbox(ctx, c, mbox)
		fetched += n
		if err != nil && mailboxRefused(err) {
			// This mailbox only (deleted, renamed, no right to it): the
			// others are still read, at their usual pace.
			p.noteError(err)
			if !p.missing[mbox] {
				p.missing[mbox] = true
				p.log.Error("imap: the server will not open this mailbox; reading the others", slog.String("mailbox", mbox), slog.Any("err", err))
			}
			continue
		}
		if err != nil {
			p.drop()
			return fetched, err
		}
		if p.missing[mbox] {
			delete(p.missing, mbox)
			p.log.Info("imap: mailbox readable again", slog.String("mailbox", mbox))
		}
	}
	return fetched, nil
}

// mailboxRefused reports a SELECT the server answered with NO or BAD: a
// problem of that mailbox, not of the connection.
func mailboxRefused(err error) bool {
	ie, ok := errors.AsType[*IMAPError](err)
	if !ok || ie.Step != "select" {
		return false
	}
	_, ok = errors.AsType[*imap.Error](err)
	return ok
}

// shutdownGrace is how long a cycle may go on after its context ended.
const shutdownGrace = 10 * time.Second

func (p *Poller) pollMailbox(ctx context.Context, c imapConn, mbox string) (int, error) {
	info, err := c.Select(mbox)
	if err != nil {
		return 0, err
	}
	st, err := p.st.IMAPState(ctx, p.acc.Name, mbox)
	first := errors.Is(err, store.ErrNotFound)
	if err != nil && !first {
		return 0, err
	}
	existing := p.acc.Existing
	switch {
	case first:
		st = store.IMAPState{Account: p.acc.Name, Mailbox: mbox, UIDValidity: info.UIDValidity}
	case st.UIDValidity != info.UIDValidity:
		// RFC 3501 §2.3.1.1: the old UIDs mean nothing now. Read the
		// mailbox again like the first time (what was filed is \Seen or
		// moved, and dedupe catches the rest) — but take the mail that
		// came meanwhile even when only new mail was asked for.
		p.log.Warn("imap: UIDVALIDITY changed; reading the mailbox again", slog.String("mailbox", mbox),
			slog.Uint64("old", uint64(st.UIDValidity)), slog.Uint64("new", uint64(info.UIDValidity)))
		st.UIDValidity, st.LastUID = info.UIDValidity, 0
		first = true
		if existing == "none" {
			existing = "unseen"
		}
	}
	total := 0
	// The first time, unless all mail is asked for, the state is written
	// only once the mailbox is read: until then every cycle is the first,
	// and what it filed is \Seen (or gone) and not read again.
	deferState, top := first && existing != "all", uint32(0)
	if first && !deferState {
		if err := p.st.PutIMAPState(context.WithoutCancel(ctx), st); err != nil {
			return 0, err
		}
	}
	if deferState || info.UIDNext == 0 || info.UIDNext > st.LastUID+1 {
		var uids []uint32
		if deferState {
			all, err := c.UIDsAbove(0)
			if err != nil {
				return 0, err
			}
			if len(all) > 0 {
				top = all[len(all)-1]
			}
			if existing != "none" {
				if uids, err = c.UIDsUnseen(); err != nil {
					return 0, err
				}
			}
			what := "filing its unread mail, leaving the read mail alone"
			if existing == "none" {
				what = "leaving the mail already there alone; filing what comes from now on"
			}
			if !p.firstSaid[mbox] { // a first poll that breaks off is done again: said once
				p.firstSaid[mbox] = true
				p.log.Info("imap: first poll of this mailbox: "+what, slog.String("mailbox", mbox),
					slog.String("import_existing", cmp.Or(existing, "unseen")), slog.Int("filing", len(uids)), slog.Int("left_alone", len(all)-len(uids)))
			}
		} else if uids, err = c.UIDsAbove(st.LastUID); err != nil {
			return 0, err
		} else if first {
			p.log.Info("imap: first poll of this mailbox: filing all its mail", slog.String("mailbox", mbox),
				slog.String("import_existing", "all"), slog.Int("filing", len(uids)))
		}
		// Batch k+1 is fetched while batch k commits; batch k is marked
		// once it is committed, and then its last UID is recorded.
		var pending *inflight
		finish := func() error {
			if pending == nil {
				return nil
			}
			p.countFiled(mbox, pending)
			last, n, err := p.finish(c, mbox, pending)
			pending = nil
			total += n
			if last > st.LastUID {
				st.LastUID = last
				// Recorded even when shutdown has begun: these are committed.
				if perr := p.putState(ctx, st, deferState); perr != nil {
					return errors.Join(err, perr)
				}
			}
			return err
		}
		complete := true
		var after <-chan struct{}
		for _, chunk := range p.batches(mbox, info.UIDValidity, uids) {
			if st := p.stuck[mbox]; st != nil && len(chunk) == 1 && chunk[0] == st.suspect {
				// The suspect may break the connection again: first mark
				// what is committed, or it is fetched again next time.
				if err := finish(); err != nil {
					return total, err
				}
			}
			fl := p.fetch(ctx, c, chunk, after)
			if ctx.Err() == nil {
				p.noteFetch(mbox, info.UIDValidity, fl)
			}
			after = fl.queued
			if err := finish(); err != nil {
				p.countFiled(mbox, fl) // what was fetched still commits; it is fetched again next time
				return total, err
			}
			pending = fl
			if fl.ferr != nil || ctx.Err() != nil {
				complete = false
				break
			}
		}
		if err := finish(); err != nil {
			return total, err
		}
		if deferState && complete {
			st.LastUID = max(st.LastUID, top)
			if err := p.putState(ctx, st, false); err != nil {
				return total, err
			}
		}
	}
	p.mu.Lock()
	b := p.boxes[mbox]
	b.LastPoll, b.UIDValidity, b.LastUID = time.Now(), st.UIDValidity, st.LastUID
	p.mu.Unlock()
	return total, nil
}

// batches splits uids into fetches of at most Batch messages, leaving out
// the skipped ones (as if expunged); the suspect gets a fetch of its own.
func (p *Poller) batches(mbox string, validity uint32, uids []uint32) [][]uint32 {
	st := p.stuck[mbox]
	if st == nil {
		return slices.Collect(slices.Chunk(uids, p.acc.Batch))
	}
	if st.validity != validity {
		delete(p.stuck, mbox) // the old UIDs mean nothing now
		return slices.Collect(slices.Chunk(uids, p.acc.Batch))
	}
	uids = slices.DeleteFunc(slices.Clone(uids), func(u uint32) bool { return st.skipped[u] })
	i := slices.Index(uids, st.suspect)
	if i < 0 {
		st.suspect, st.tries = 0, 0 // gone
		return slices.Collect(slices.Chunk(uids, p.acc.Batch))
	}
	out := slices.Collect(slices.Chunk(uids[:i], p.acc.Batch))
	out = append(out, uids[i:i+1])
	return append(out, slices.Collect(slices.Chunk(uids[i+1:], p.acc.Batch))...)
}

// noteFetch records where a fetch broke off. The UID it stopped at becomes
// the suspect, fetched alone next time (at once: see retrySoon); after
// maxFetchTries failures alone it is skipped: logged, counted, and left in
// the mailbox untouched.
func (p *Poller) noteFetch(mbox string, validity uint32, fl *inflight) {
	st := p.stuck[mbox]
	if fl.ferr == nil {
		if st != nil && len(fl.uids) == 1 && fl.uids[0] == st.suspect {
			st.suspect, st.tries = 0, 0 // it came through
		}
		return
	}
	got := map[uint32]bool{}
	for _, it := range fl.items {
		got[it.uid] = true
	}
	var at uint32
	for _, u := range fl.uids {
		if !got[u] {
			at = u
			break
		}
	}
	if at == 0 {
		return // broke off after the last message: nothing to isolate
	}
	if st == nil || st.validity != validity {
		st = &stuckState{validity: validity, skipped: map[uint32]bool{}}
		p.stuck[mbox] = st
	}
	p.retrySoon = true
	if st.suspect != at {
		st.suspect, st.tries = at, 0
		p.log.Warn("imap: the fetch broke off at this message; fetching it alone", slog.String("mailbox", mbox),
			slog.Uint64("uid", uint64(at)), slog.Any("err", fl.ferr))
	}
	if len(fl.uids) > 1 {
		return
	}
	st.tries++
	if st.tries < maxFetchTries {
		return
	}
	st.skipped[at] = true
	st.suspect, st.tries = 0, 0
	p.mu.Lock()
	p.status.Skipped++
	p.mu.Unlock()
	p.log.Error("imap: the server does not return this message; skipped and left in the mailbox (move it back into the mailbox to try again)",
		slog.String("mailbox", mbox), slog.Uint64("uid", uint64(at)), slog.Int("tries", maxFetchTries), slog.Any("err", fl.ferr))
}

// putState records a mailbox's state, even when shutdown has begun (what
// it records is committed); not while deferred (a first poll under way).
func (p *Poller) putState(ctx context.Context, st store.IMAPState, deferred bool) error {
	if deferred {
		return nil
	}
	return p.st.PutIMAPState(context.WithoutCancel(ctx), st)
}

// fetched is one message of a batch on its way through Ingest.
type fetched struct {
	uid uint32
	res Result
	err error
}

// inflight is a fetched batch whose messages are on their way through
// Ingest: parsed concurrently, committed in UID order (a reply after what
// it answers), after every message of the batches before.
type inflight struct {
	uids   []uint32
	items  []*fetched
	wg     sync.WaitGroup
	ferr   error
	queued <-chan struct{} // closed once the batch's last message is queued for commit
}

// swapMoveRefused sets the status's MoveRefused and returns what it was.
func (p *Poller) swapMoveRefused(v bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.status.MoveRefused
	p.status.MoveRefused = v
	return old
}

// countFiled adds the batch's filed messages to the status, once they are
// committed (marked or not).
func (p *Poller) countFiled(mbox string, fl *inflight) {
	n := int64(fl.filed())
	p.mu.Lock()
	defer p.mu.Unlock()
	p.boxes[mbox].Fetched += n
	p.status.Fetched += n
}

// filed counts the batch's messages committed as new (not duplicates);
// after wg.Wait.
func (fl *inflight) filed() int {
	fl.wg.Wait()
	n := 0
	for _, it := range fl.items {
		if it.err == nil && it.res.Outcome != OutcomeDuplicate {
			n++
		}
	}
	return n
}

// fetch fetches uids and hands each message to Ingest, the first one
// queued for commit only after after is closed (nil: at once).
func (p *Poller) fetch(ctx context.Context, c imapConn, uids []uint32, after <-chan struct{}) *inflight {
	fl := &inflight{uids: uids}
	prev := after
	fl.ferr = c.Fetch(uids, func(uid uint32, body io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err // shutting down: finish what is in flight only
		}
		raw, err := Spool(body, p.spoolDir, -1) // over max_message_bytes: Ingest keeps it without attachments
		if err != nil {
			return err
		}
		it := &fetched{uid: uid}
		fl.items = append(fl.items, it)
		after, queued := prev, make(chan struct{})
		prev = queued
		// A message fetched is finished even when shutdown begins meanwhile:
		// it is spooled already, and committing it is bounded work.
		fl.wg.Go(func() {
			it.res, it.err = p.in.ingestAfter(context.WithoutCancel(ctx), Delivery{Source: "imap", Raw: raw}, after, queued)
		})
		return nil
	})
	fl.queued = prev
	return fl
}

// finish waits for the batch's commits, marks the committed messages
// processed, and returns the highest UID up to which every message is
// committed and processed.
func (p *Poller) finish(c imapConn, mbox string, fl *inflight) (last uint32, n int, err error) {
	fl.wg.Wait()
	byUID := map[uint32]*fetched{}
	var done []uint32
	for _, it := range fl.items {
		byUID[it.uid] = it
		if it.err == nil {
			done = append(done, it.uid)
		} else if err == nil {
			err = fmt.Errorf("imap: ingest %s UID %d: %w", mbox, it.uid, it.err)
		}
	}
	if err == nil {
		err = fl.ferr
	}
	// Only now, after the commit: \Seen or MOVE (DESIGN §3.1).
	perr := c.Processed(done, p.acc.ProcessedMailbox)
	if mr, ok := errors.AsType[*MoveRefusedError](perr); ok {
		// Marked \Seen instead: processed all the same, not to be fetched
		// again. Said once, until a move works again.
		p.noteError(mr)
		if !p.swapMoveRefused(true) {
			p.log.Error("imap: the server refuses to move filed mail to processed_mailbox; marking it \\Seen where it is instead (check the name with tikkitd imap test)",
				slog.String("mailbox", mbox), slog.String("processed_mailbox", p.acc.ProcessedMailbox), slog.Any("err", mr.Err))
		}
		perr = nil
	} else if perr == nil && p.acc.ProcessedMailbox != "" && len(done) > 0 && p.swapMoveRefused(false) {
		p.log.Info("imap: moving filed mail to processed_mailbox again", slog.String("processed_mailbox", p.acc.ProcessedMailbox))
	}
	if perr != nil {
		return 0, len(done), errors.Join(err, perr) // committed, not marked: fetched again next time
	}
	// The UID to record: every message up to it is committed. A UID the
	// fetch did not return was expunged meanwhile, unless the fetch broke off.
	for _, u := range fl.uids {
		it, ok := byUID[u]
		if (ok && it.err != nil) || (!ok && fl.ferr != nil) {
			break
		}
		last = u
	}
	return last, len(done), err
}
