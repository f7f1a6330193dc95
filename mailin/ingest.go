package mailin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tikkit/tikkit/rules"
	"github.com/tikkit/tikkit/store"
)

// Outcomes of one delivered message, as `tikkitd ingest` prints them.
const (
	OutcomeCreated   = "created"
	OutcomeAppended  = "appended"
	OutcomeDuplicate = "duplicate"
	OutcomeAutoReply = "auto_reply"
	OutcomeBounce    = "bounce"
	OutcomeRefused   = "refused"
	OutcomeHeld      = "held"
)

// Options configure the ingest path.
type Options struct {
	Identity           Identity
	SubjectTagPrefix   string // default "REQ-"
	FirstRequestNumber int64  // default 1001
	MaxMessageBytes    int64  // per message; over it (from a pipe or IMAP) attachments are not stored
	MaxAttachmentBytes int64  // per attachment; <= 0 means no limit
	MaxNewFollowers    int    // new accounts one mail may create from its recipients; default 20
	SubjectWindow      time.Duration
	Registration       rules.Registration // who may file; the zero value is open registration
	FromName           string             // display name of our address in mail ("Facilities Maintenance")
	Limits             rules.Limits       // automatic mail per address per day, global circuit breaker
	Tokens             *rules.Signer      // reply tokens in Reply-To addresses; nil: none
	OnQueued           func()             // called after a commit that queued outbound mail
	StaffRequireAuth   bool               // staff powers (commands, filing for others) need DKIM or a trusted Authentication-Results
	Auth               AuthOptions        // DKIM and Authentication-Results checks for auto-approval
	Logger             *slog.Logger
	// Observe, when set, is told the outcome and latency of every message.
	Observe func(outcome string, seconds float64)
}

// Delivery is one message handed to the ingest path by any source.
type Delivery struct {
	Source        string // smtp | lmtp | ingest | imap | reprocess
	EnvelopeFrom  string // MAIL FROM; "" for the null sender <>
	EnvelopeKnown bool   // false when there was no envelope (a file)
	EnvelopeTo    []string
	Raw           *Raw
	Postmaster    bool // addressed to postmaster only: kept for the administrator
}

// envelopeRecord is how the intake log keeps the envelope sender: "<>" for
// the null sender, "" when there was no envelope.
func (d Delivery) envelopeRecord() string {
	switch {
	case !d.EnvelopeKnown:
		return ""
	case d.EnvelopeFrom == "":
		return "<>"
	}
	return d.EnvelopeFrom
}

// deliveryFromRecord is the inverse of envelopeRecord.
func deliveryFromRecord(rec string) (from string, known bool) {
	switch rec {
	case "":
		return "", false
	case "<>":
		return "", true
	}
	return rec, true
}

// Result is what happened to one message.
type Result struct {
	MessageID string `json:"message_id"`
	Outcome   string `json:"outcome"`
	Request   int64  `json:"request,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// ErrNotHeld: only messages kept without a request can be reprocessed.
var ErrNotHeld = errors.New("mailin: not a held message")

// TempError marks a failure that may succeed when retried (4xx, EX_TEMPFAIL).
type TempError struct{ Err error }

func (e *TempError) Error() string { return "temporary failure: " + e.Err.Error() }
func (e *TempError) Unwrap() error { return e.Err }

// IsTemporary reports whether err is worth retrying.
func IsTemporary(err error) bool {
	var t *TempError
	return errors.As(err, &t)
}

// Ingester runs the one ingest path. Parsing happens in the caller's
// goroutine; the database work of concurrent messages is grouped into one
// transaction per batch (group commit), each message in its own savepoint.
type Ingester struct {
	st   *store.Store
	opt  Options
	log  *slog.Logger
	jobs chan *job
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu      sync.RWMutex // held for reading while a job is queued
	closed  bool
	parsing atomic.Int64 // messages between arrival and the queue

	queued       bool       // this batch queued outbound mail (committer only)
	sentRecently window     // automatic mail queued in the last hour
	perAddress   addressLog // automatic mail per address in the last 24 hours
	parseSlots   chan struct{}
	staff        staffCache
	locations    treeCache
}

type job struct {
	d          Delivery
	p          *Parsed
	class      Class
	visible    string
	auth       AuthResult
	replace    int64     // message row to replace (reprocess)
	hold       string    // set: store the message held for this reason, nothing else
	receivedAt time.Time // when the replaced message first arrived
	res        Result
	err        error
	done       chan struct{}
}

// maxBatch bounds one group commit.
const maxBatch = 128

// NewIngester starts the committer; Close stops it.
func NewIngester(st *store.Store, opt Options) *Ingester {
	if opt.SubjectTagPrefix == "" {
		opt.SubjectTagPrefix = "REQ-"
	}
	if opt.FirstRequestNumber <= 0 {
		opt.FirstRequestNumber = 1001
	}
	if opt.MaxNewFollowers <= 0 {
		opt.MaxNewFollowers = 20
	}
	if opt.SubjectWindow <= 0 {
		opt.SubjectWindow = 30 * 24 * time.Hour
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Limits.PerAddressPerDay <= 0 {
		opt.Limits.PerAddressPerDay = 10
	}
	if opt.Limits.GlobalPerHour <= 0 {
		opt.Limits.GlobalPerHour = 1000
	}
	if opt.Registration.Mode == "" {
		opt.Registration.Mode = rules.ModeOpen
	}
	in := &Ingester{st: st, opt: opt, log: opt.Logger, jobs: make(chan *job, maxBatch), stop: make(chan struct{}),
		parseSlots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	in.wg.Add(1)
	go in.commitLoop()
	return in
}

// Close stops the committer after the jobs in flight; safe to call twice.
func (in *Ingester) Close() {
	in.once.Do(func() {
		in.mu.Lock() // no job is being queued from here on
		in.closed = true
		in.mu.Unlock()
		close(in.stop)
	})
	in.wg.Wait()
}

// Ingest runs one message through the path. It returns only after the raw
// message and its effect are committed; an error means nothing was
// acknowledged and the sender should retry (it is always temporary).
func (in *Ingester) Ingest(ctx context.Context, d Delivery) (Result, error) {
	return in.ingestAfter(ctx, d, nil, nil)
}

// ingestAfter is Ingest in a sequence: parsing runs at once, but the
// message is queued for commit only after prev is closed, and queued is
// closed once it is queued (or has failed). Messages read from a mailbox in
// UID order commit in that order, so a reply never commits before the
// message it answers. nil channels mean no sequence.
func (in *Ingester) ingestAfter(ctx context.Context, d Delivery, prev <-chan struct{}, queued chan<- struct{}) (Result, error) {
	start := time.Now()
	defer d.Raw.Discard()
	var once sync.Once
	release := func() {
		if queued != nil {
			once.Do(func() { close(queued) })
		}
	}
	defer release()
	if d.Raw.Path != "" {
		if err := in.st.Blobs.PutFile(d.Raw.Path, d.Raw.SHA256); err != nil {
			return Result{}, &TempError{err}
		}
	}
	in.parsing.Add(1) // the committer may wait a moment for this one
	// At most GOMAXPROCS messages are parsed at once: more would only take
	// CPU from the committer, which every message waits for.
	in.parseSlots <- struct{}{}
	p, err := in.parse(d)
	if err != nil {
		<-in.parseSlots
		in.parsing.Add(-1)
		return Result{}, &TempError{err}
	}
	j := in.prepare(d, p)
	<-in.parseSlots
	if prev != nil {
		<-prev
	}
	in.parsing.Add(-1)
	if err := in.queueJob(ctx, j); err != nil {
		return Result{}, err
	}
	release()
	<-j.done // once queued, wait for the commit whatever ctx says
	res, err := j.res, j.err
	if err != nil {
		return res, err
	}
	// Logged here, not in the committer, which stays as short as it can.
	in.log.Info("mailin: message", slog.String("source", d.Source), slog.String("message_id", res.MessageID),
		slog.String("outcome", res.Outcome), slog.Int64("request", res.Request), slog.String("reason", res.Reason))
	if in.opt.Observe != nil {
		in.opt.Observe(res.Outcome, time.Since(start).Seconds())
	}
	return res, nil
}

// queueJob hands a job to the committer.
func (in *Ingester) queueJob(ctx context.Context, j *job) error {
	j.done = make(chan struct{})
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.closed {
		return &TempError{errors.New("shutting down")}
	}
	select {
	case in.jobs <- j:
		return nil
	case <-ctx.Done():
		return &TempError{ctx.Err()}
	}
}

// parse parses the raw message; a panic in the parser becomes a held message.
func (in *Ingester) parse(d Delivery) (p *Parsed, err error) {
	rc, err := d.Raw.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	opt := ParseOptions{MaxAttachmentBytes: in.opt.MaxAttachmentBytes}
	if opt.MaxAttachmentBytes <= 0 {
		opt.MaxAttachmentBytes = -1
	}
	over := in.opt.MaxMessageBytes > 0 && d.Raw.Size > in.opt.MaxMessageBytes
	opt.NoAttachments = over
	defer func() {
		if r := recover(); r != nil {
			in.log.Error("mailin: parser panic", slog.String("raw_sha256", d.Raw.SHA256), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			p, err = &Parsed{Unparseable: fmt.Sprintf("parser failure: %v", r)}, nil
		}
	}()
	p, err = Parse(io.Reader(rc), in.st.Blobs, opt)
	if err != nil {
		return nil, err
	}
	if over {
		p.Problems = append(p.Problems, fmt.Sprintf("message of %d bytes is over max_message_bytes (%d): attachments not stored", d.Raw.Size, in.opt.MaxMessageBytes))
	}
	return p, nil
}

func (in *Ingester) prepare(d Delivery, p *Parsed) *job {
	if p.MessageID == "" {
		p.MessageID = "raw-" + d.Raw.SHA256[:32] + "@tikkit.invalid"
		p.SyntheticID = true
	}
	j := &job{d: d, p: p}
	if p.Unparseable == "" {
		j.class = Classify(p, j.envelope(), in.opt.Identity)
		j.visible = VisibleText(p.Text)
		if j.class.Kind == ClassNormal {
			in.authenticate(j)
		}
	}
	return j
}

// envelope is the envelope sender in Classify's convention.
func (j *job) envelope() string {
	if !j.d.EnvelopeKnown {
		return EnvelopeUnknown
	}
	return j.d.EnvelopeFrom
}

func (in *Ingester) commitLoop() {
	defer in.wg.Done()
	for {
		var j *job
		select {
		case j = <-in.jobs:
		case <-in.stop:
			// Drain what was queued before stopping.
			for {
				select {
				case j := <-in.jobs:
					in.commit(j)
				default:
					return
				}
			}
		}
		in.commit(j)
	}
}

// commit applies a batch in one transaction, one savepoint per message.
// Jobs that arrive while the transaction is open join it, up to maxBatch:
// the slower the disk, the larger the batches.
func (in *Ingester) commit(first *job) {
	batch := []*job{first}
	defer func() {
		for _, j := range batch {
			close(j.done)
		}
	}()
	ctx := context.Background()
	fail := func(err error) {
		for _, j := range batch {
			j.res, j.err = Result{}, &TempError{err}
		}
	}
	tx, err := in.st.Begin(ctx)
	if err != nil {
		in.log.Error("mailin: begin", slog.Any("err", err))
		fail(err)
		return
	}
	defer tx.Rollback()
	for i := 0; i < len(batch); i++ {
		j := batch[i]
		j.err = in.applySavepoint(ctx, tx, j)
		if j.err != nil && j.hold == "" {
			// Whatever broke (a bug, a constraint, a panic) would break
			// again on every retry: the sender would retry for days, an
			// IMAP mailbox would be re-fetched for ever. Keep the message
			// held with the reason instead; `tikkitd reprocess` retries it.
			// Only when even that fails (the disk, the database) is the
			// error temporary.
			in.log.Error("mailin: ingest failed; keeping the message held", slog.String("message_id", j.p.MessageID), slog.Any("err", j.err))
			first := j.err
			j.hold = "ingest failed: " + first.Error()
			if j.err = in.applySavepoint(ctx, tx, j); j.err != nil {
				j.err = errors.Join(first, j.err)
			}
		}
		if j.err != nil {
			in.log.Error("mailin: ingest failed", slog.String("message_id", j.p.MessageID), slog.Any("err", j.err))
			j.err = &TempError{j.err}
		}
		if i == len(batch)-1 && len(batch) < maxBatch {
			if next := in.nextJob(); next != nil {
				batch = append(batch, next)
			}
		}
	}
	queued := in.queued
	in.queued = false
	if err := tx.Commit(); err != nil {
		in.log.Error("mailin: commit", slog.Any("err", err))
		fail(err)
		return
	}
	if queued && in.opt.OnQueued != nil {
		in.opt.OnQueued()
	}
}

// applySavepoint applies one job in its own savepoint; a panic becomes an
// error and undoes only this job's changes.
func (in *Ingester) applySavepoint(ctx context.Context, tx *store.Tx, j *job) error {
	return tx.Savepoint(ctx, func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				in.log.Error("mailin: ingest panic", slog.String("message_id", j.p.MessageID), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		j.res, err = in.apply(ctx, tx, j)
		return err
	})
}

// commitDelay is how long the committer waits for a message that is being
// parsed right now before it commits without it (like PostgreSQL's
// commit_delay with commit_siblings): one fsync then serves both.
const commitDelay = 400 * time.Microsecond

// nextJob returns a queued job, or waits up to commitDelay for one when
// messages are being parsed; nil when there is none.
func (in *Ingester) nextJob() *job {
	select {
	case j := <-in.jobs:
		return j
	default:
	}
	if in.parsing.Load() == 0 {
		return nil
	}
	t := time.NewTimer(commitDelay)
	defer t.Stop()
	select {
	case j := <-in.jobs:
		return j
	case <-t.C:
		return nil
	}
}

// Reprocess runs a stored message through the path again (after a parser
// fix, say), replacing its old result.
func (in *Ingester) Reprocess(ctx context.Context, messageRow int64) (Result, error) {
	m, err := in.st.MessageByID(ctx, messageRow)
	if err != nil {
		return Result{}, err
	}
	if m.RequestID.Valid || (m.Outcome != OutcomeHeld && m.Outcome != OutcomeRefused) {
		return Result{}, fmt.Errorf("%w: message %d is %s", ErrNotHeld, messageRow, m.Outcome)
	}
	b, err := in.st.Raw(ctx, m.RawSHA256)
	if err != nil {
		return Result{}, fmt.Errorf("mailin: raw of message %d: %w", messageRow, err)
	}
	// The envelope it came with (a null sender makes it an auto-reply).
	d := Delivery{Source: "reprocess", Raw: RawBytes(b)}
	if rec, err := in.st.FirstEnvelope(ctx, m.MessageID); err == nil {
		d.EnvelopeFrom, d.EnvelopeKnown = deliveryFromRecord(rec)
	}
	p, err := in.parse(d)
	if err != nil {
		return Result{}, &TempError{err}
	}
	j := in.prepare(d, p)
	j.replace = m.ID
	j.receivedAt = m.ReceivedAt
	return in.submit(ctx, j)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// submit queues a job and waits for its commit.
func (in *Ingester) submit(ctx context.Context, j *job) (Result, error) {
	if err := in.queueJob(ctx, j); err != nil {
		return Result{}, err
	}
	<-j.done // once queued, wait for the commit whatever ctx says
	return j.res, j.err
}
