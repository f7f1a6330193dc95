// Command mailbench loads an SMTP or LMTP listener with generated mail and
// reports throughput and per-message latency (MAIL FROM to the 250 after
// DATA). It exits 1 when any message failed.
//
//	mailbench -addr 127.0.0.1:2525 -n 10000 -c 16 -size 5120 -to help@localhost \
//	          -from bench@example.org [-lmtp] [-threads 0.2] [-duration 1m]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

// Options are the command-line settings.
type Options struct {
	Addr     string
	N        int           // messages to send
	C        int           // concurrent connections
	Size     int           // approximate message size in bytes, header included
	From     string        // envelope and header sender
	To       []string      // envelope and header recipients
	LMTP     bool          // speak LMTP (RFC 2033) instead of SMTP
	Threads  float64       // fraction of messages that reply to an earlier one
	Duration time.Duration // stop after this long (0: no limit)
	Timeout  time.Duration // per command and per DATA
	Seed     uint64        // 0: random
}

// Result is what run measured. Latencies cover successful messages only.
type Result struct {
	Sent, Failed, Replies int
	Bytes                 int64          // bytes of successfully sent messages
	Errors                map[string]int // failed messages by SMTP code ("550") or "dial", "conn", "timeout"
	Elapsed               time.Duration
	Rate                  float64 // successful messages per second
	P50, P90, P99, Max    time.Duration
}

func main() {
	var o Options
	var to string
	flag.StringVar(&o.Addr, "addr", "127.0.0.1:2525", "SMTP/LMTP `host:port` to load")
	flag.IntVar(&o.N, "n", 10000, "number of messages")
	flag.IntVar(&o.C, "c", 16, "concurrent connections")
	flag.IntVar(&o.Size, "size", 5120, "approximate message size in `bytes`")
	flag.StringVar(&to, "to", "help@localhost", "recipient `address`es, comma-separated")
	flag.StringVar(&o.From, "from", "bench@example.org", "sender `address`")
	flag.BoolVar(&o.LMTP, "lmtp", false, "speak LMTP instead of SMTP")
	flag.Float64Var(&o.Threads, "threads", 0.2, "`fraction` of messages that reply to an earlier one")
	flag.DurationVar(&o.Duration, "duration", 0, "stop after this long even if fewer than -n were sent (0: no limit)")
	flag.DurationVar(&o.Timeout, "timeout", 30*time.Second, "timeout per SMTP command and per DATA")
	flag.Uint64Var(&o.Seed, "seed", 0, "random seed for generated mail (0: random)")
	flag.Parse()
	for _, a := range strings.Split(to, ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.To = append(o.To, a)
		}
	}
	if err := o.check(); err != nil || flag.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected arguments %q", flag.Args())
		}
		fmt.Fprintln(os.Stderr, "mailbench:", err)
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailbench:", err)
		os.Exit(1)
	}
	report(os.Stdout, o, res)
	if res.Failed > 0 {
		os.Exit(1)
	}
}

func (o *Options) check() error {
	switch {
	case o.N <= 0:
		return errors.New("-n must be positive")
	case o.C <= 0:
		return errors.New("-c must be positive")
	case o.Size < 0:
		return errors.New("-size must not be negative")
	case o.Threads < 0 || o.Threads > 1 || math.IsNaN(o.Threads):
		return errors.New("-threads must be between 0 and 1")
	case len(o.To) == 0:
		return errors.New("-to needs at least one address")
	case !strings.Contains(o.From, "@"):
		return errors.New("-from must be an address")
	case o.Timeout <= 0:
		return errors.New("-timeout must be positive")
	}
	return nil
}

// run sends o.N messages over o.C connections, or fewer when ctx ends or
// o.Duration passes; a message in flight is finished, not abandoned. It
// returns an error only when the server cannot be reached at all; failed
// messages are counted in the Result.
func run(ctx context.Context, o Options) (Result, error) {
	if err := o.check(); err != nil {
		return Result{}, err
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	b := &bench{
		o:      o,
		runID:  strconv.FormatInt(time.Now().UnixNano(), 36) + "." + strconv.FormatUint(seed%(1<<20), 36),
		domain: o.From[strings.LastIndexByte(o.From, '@')+1:],
	}
	first, err := b.dial(ctx) // fail fast when nothing listens
	if err != nil {
		return Result{}, fmt.Errorf("connect %s: %w", o.Addr, err)
	}

	workers := make([]*worker, min(o.C, o.N))
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{b: b, rng: rand.New(rand.NewPCG(seed, uint64(i))), errs: map[string]int{}}
		if i == 0 {
			w.cl = first
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx)
		}()
	}
	wg.Wait()

	res := Result{Elapsed: time.Since(start), Errors: map[string]int{}}
	var lat []time.Duration
	for _, w := range workers {
		res.Sent += w.sent
		res.Failed += w.failed
		res.Replies += w.replies
		res.Bytes += w.bytes
		for k, v := range w.errs {
			res.Errors[k] += v
		}
		lat = append(lat, w.lat...)
	}
	if s := res.Elapsed.Seconds(); s > 0 {
		res.Rate = float64(res.Sent) / s
	}
	slices.Sort(lat)
	res.P50, res.P90, res.P99 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res, nil
}

// percentile returns the nearest-rank p-th percentile of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

// bench is the state shared by all workers.
type bench struct {
	o      Options
	runID  string // makes Message-IDs unique across runs
	domain string
	next   atomic.Int64 // next message number to hand out

	mu        sync.Mutex
	delivered [1024]thread // ring of recently accepted messages, reply targets
	nDeliv    int
}

// thread is what a reply needs to know about the message it answers.
type thread struct {
	id, root, subject string
}

func (b *bench) remember(t thread) {
	b.mu.Lock()
	b.delivered[b.nDeliv%len(b.delivered)] = t
	b.nDeliv++
	b.mu.Unlock()
}

// parent picks a random accepted message, or reports false when none is.
func (b *bench) parent(rng *rand.Rand) (thread, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(b.nDeliv, len(b.delivered))
	if n == 0 {
		return thread{}, false
	}
	return b.delivered[rng.IntN(n)], true
}

func (b *bench) dial(ctx context.Context) (*smtp.Client, error) {
	d := net.Dialer{Timeout: b.o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", b.o.Addr)
	if err != nil {
		return nil, err
	}
	var cl *smtp.Client
	if b.o.LMTP {
		cl = smtp.NewClientLMTP(conn)
	} else {
		cl = smtp.NewClient(conn)
	}
	cl.CommandTimeout, cl.SubmissionTimeout = b.o.Timeout, b.o.Timeout
	if err := cl.Hello("mailbench.localhost"); err != nil { // greeting and EHLO/LHLO now, not inside a measurement
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// worker owns one connection and sends messages until none are left.
type worker struct {
	b   *bench
	rng *rand.Rand
	cl  *smtp.Client
	buf bytes.Buffer

	lat                   []time.Duration
	sent, failed, replies int
	bytes                 int64
	errs                  map[string]int
}

func (w *worker) loop(ctx context.Context) {
	defer func() {
		if w.cl != nil {
			if w.cl.Quit() != nil {
				w.cl.Close()
			}
		}
	}()
	for ctx.Err() == nil {
		i := w.b.next.Add(1) - 1
		if i >= int64(w.b.o.N) {
			return
		}
		w.send(ctx, i)
	}
}

// send delivers message i once; a failure is counted, never retried.
func (w *worker) send(ctx context.Context, i int64) {
	t, isReply := w.generate(i)
	if w.cl == nil {
		cl, err := w.b.dial(ctx)
		if err != nil {
			w.fail("dial")
			select { // do not spin through -n while the server is away
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			return
		}
		w.cl = cl
	}
	start := time.Now()
	err := w.transact()
	elapsed := time.Since(start)
	if err == nil {
		w.sent++
		w.bytes += int64(w.buf.Len())
		w.lat = append(w.lat, elapsed)
		if isReply {
			w.replies++
		}
		w.b.remember(t)
		return
	}
	code, reusable := classify(err)
	w.fail(code)
	// RFC 5321 §4.1.1.5: RSET aborts the transaction and keeps the session.
	if !reusable || w.cl.Reset() != nil {
		w.cl.Close()
		w.cl = nil
	}
}

func (w *worker) fail(code string) {
	w.failed++
	w.errs[code]++
}

// transact runs MAIL, RCPT… and DATA for the message in w.buf.
func (w *worker) transact() error {
	if err := w.cl.Mail(w.b.o.From, &smtp.MailOptions{Size: int64(w.buf.Len())}); err != nil {
		return err
	}
	for _, to := range w.b.o.To {
		if err := w.cl.Rcpt(to, nil); err != nil {
			return err
		}
	}
	wc, err := w.cl.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write(w.buf.Bytes()); err != nil {
		wc.Close()
		return err
	}
	// For LMTP, Close reads one reply per recipient (RFC 2033 §4.2) and
	// fails with LMTPDataError when any of them is not 250.
	return wc.Close()
}

// classify names an error for the report and says whether the connection
// may carry the next message.
func classify(err error) (code string, reusable bool) {
	var se *smtp.SMTPError
	var le smtp.LMTPDataError
	var ne net.Error
	switch {
	case errors.As(err, &le) && len(le) > 0:
		rcpts := make([]string, 0, len(le))
		for r := range le {
			rcpts = append(rcpts, r)
		}
		slices.Sort(rcpts)
		return strconv.Itoa(le[rcpts[0]].Code), true
	case errors.As(err, &se):
		// RFC 5321 §3.8: 421 means the server is closing the channel.
		return strconv.Itoa(se.Code), se.Code != 421
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout", false
	default:
		return "conn", false
	}
}

// report prints the table and the one-line summary for scripts.
func report(out io.Writer, o Options, r Result) {
	proto := "smtp"
	if o.LMTP {
		proto = "lmtp"
	}
	fmt.Fprintf(out, "mailbench  %s %s  c=%d  size=%d  threads=%.2f\n\n", proto, o.Addr, o.C, o.Size, o.Threads)
	row := func(label, value, unit string) {
		fmt.Fprintln(out, strings.TrimRight(fmt.Sprintf("  %-10s %12s %s", label, value, unit), " "))
	}
	row("sent", strconv.Itoa(r.Sent), fmt.Sprintf("msgs (%d replies)", r.Replies))
	row("failed", strconv.Itoa(r.Failed), "msgs")
	row("elapsed", r.Elapsed.Round(time.Millisecond).String(), "")
	row("rate", strconv.FormatFloat(r.Rate, 'f', 1, 64), "msg/s")
	row("throughput", strconv.FormatFloat(float64(r.Bytes)/1e6/max(r.Elapsed.Seconds(), 1e-9), 'f', 2, 64), "MB/s")
	fmt.Fprintf(out, "\n  %-10s %9s %9s %9s %9s\n", "latency", "p50", "p90", "p99", "max")
	fmt.Fprintf(out, "  %-10s %9s %9s %9s %9s\n", "", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	if len(r.Errors) > 0 {
		codes := make([]string, 0, len(r.Errors))
		for c := range r.Errors {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		fmt.Fprintf(out, "\n  %-10s %12s\n", "errors", "msgs")
		for _, c := range codes {
			fmt.Fprintf(out, "  %-10s %12d\n", c, r.Errors[c])
		}
	}
	fmt.Fprintf(out, "\nmailbench: %d msgs, %.1f msg/s, p50 %s, p99 %s\n", r.Sent, r.Rate, ms(r.P50), ms(r.P99))
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

// Generated mail: plausible facilities requests from a handful of people.
var (
	names = []string{"Anna Schmidt", "Jürgen Müller", "Zoë Martin", "Kwame Mensah", "Li Wei",
		"María José García", "Olivia Brown", "Søren Nielsen", "Priya Patel", "Tomás O'Brien"}
	subjects = []string{"Leaking tap in the kitchen", "Light out in stairwell B", "Heating not working in room 3.14",
		"Broken window latch", "Toilet keeps running", "Door card reader dead at the side entrance",
		"Air conditioning very loud", "Lift stuck on floor 2", "Water stain on the ceiling",
		"Coffee machine leaking", "Parking barrier does not open", "Smell of gas near the boiler room"}
	places = []string{"Building A, floor 2, kitchen", "Building B, stairwell B", "Building C, room 3.14",
		"Unit 4B", "Suite 201", "Lobby", "Parking level -1", "Gym changing rooms"}
	sentences = []string{
		"It started yesterday afternoon and has been getting worse since.",
		"Could someone from maintenance please have a look when they get a chance?",
		"I have put a bucket underneath for now, but it fills up within a few hours.",
		"A colleague mentioned the same problem last week, so it may not be the first report.",
		"The room is booked for a meeting tomorrow morning at nine.",
		"There is no urgent safety issue as far as I can tell, just an inconvenience.",
		"Please let me know if you need access; I am in the office until six.",
		"The noise is loudest in the early morning, before the heating switches over.",
		"I tried turning it off and on again, which did not help.",
		"Photos are available if that helps, just reply and I will send them.",
	}
	replies = []string{"Thanks for the quick answer.", "It happened again this morning.",
		"The technician came by but the problem is back.", "Any update on this one?",
		"Confirmed fixed, thank you!"}
)

// generate writes message i into w.buf as CRLF RFC 5322 text of about
// o.Size bytes and returns its threading data. A fraction o.Threads of
// messages reply to a message the server already accepted.
func (w *worker) generate(i int64) (thread, bool) {
	b := &w.buf
	b.Reset()
	rng := w.rng
	name := names[rng.IntN(len(names))]
	t := thread{id: fmt.Sprintf("%s.%d@%s", w.b.runID, i, w.b.domain)}
	parent, isReply := thread{}, false
	if w.b.o.Threads > 0 && rng.Float64() < w.b.o.Threads {
		parent, isReply = w.b.parent(rng)
	}
	if isReply {
		t.root, t.subject = parent.root, parent.subject
	} else {
		t.root, t.subject = t.id, subjects[rng.IntN(len(subjects))]
	}

	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("Date", time.Now().Format(time.RFC1123Z))
	hdr("From", mime2047(name)+" <"+w.b.o.From+">")
	hdr("To", "<"+strings.Join(w.b.o.To, ">, <")+">")
	if isReply {
		hdr("Subject", "Re: "+t.subject)
	} else {
		hdr("Subject", t.subject)
	}
	hdr("Message-ID", "<"+t.id+">")
	if isReply {
		hdr("In-Reply-To", "<"+parent.id+">")
		refs := "<" + parent.id + ">"
		if parent.root != parent.id {
			refs = "<" + parent.root + ">\r\n <" + parent.id + ">" // folded, RFC 5322 §2.2.3
		}
		hdr("References", refs)
	}
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=us-ascii; format=flowed")
	hdr("Content-Transfer-Encoding", "7bit")
	hdr("User-Agent", "mailbench/1 (tikkit load generator)")
	b.WriteString("\r\n")

	first := strings.Fields(name)[0]
	para := func(s []string) { wrap(b, strings.Join(s, " ")); b.WriteString("\r\n") }
	b.WriteString("Hello,\r\n\r\n")
	if isReply {
		para([]string{replies[rng.IntN(len(replies))]})
	} else {
		para([]string{"I would like to report a problem: " + strings.ToLower(t.subject) + ".",
			"Location: " + places[rng.IntN(len(places))] + "."})
	}
	sig := "Best regards,\r\n" + ascii(first) + "\r\n"
	quote := ""
	if isReply {
		quote = "\r\nOn " + time.Now().Add(-time.Hour).Format("Mon, 2 Jan 2006 at 15:04") + ", Facilities wrote:\r\n" +
			"> We have received your request and will look into it.\r\n> \r\n> Kind regards,\r\n> Facilities\r\n"
	}
	// Pad with sentences until the message is about o.Size bytes.
	for budget := w.b.o.Size - b.Len() - len(sig) - len(quote); budget > 80; budget = w.b.o.Size - b.Len() - len(sig) - len(quote) {
		var s []string
		for n := 0; n < 4 && budget > 80; n++ {
			x := sentences[rng.IntN(len(sentences))]
			s = append(s, x)
			budget -= len(x) + 1
		}
		para(s)
	}
	b.WriteString(sig)
	b.WriteString(quote)
	return t, isReply
}

// wrap writes s as lines of at most 72 characters. format=flowed (RFC 3676
// §4.2): soft breaks end in a space.
func wrap(b *bytes.Buffer, s string) {
	n := 0
	for j, word := range strings.Fields(s) {
		if j > 0 {
			if n+1+len(word) > 72 {
				b.WriteString(" \r\n")
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += len(word)
	}
	b.WriteString("\r\n")
}

// mime2047 encodes a display name: a quoted string when ASCII, an RFC 2047
// Q encoded-word otherwise.
func mime2047(name string) string {
	if ascii(name) == name {
		return `"` + name + `"`
	}
	return mime.QEncoding.Encode("utf-8", name)
}

// asciiFold spells the names above in ASCII for the 7bit body.
var asciiFold = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ë", "e", "é", "e", "í", "i", "á", "a", "ø", "o")

// ascii folds s to ASCII, dropping what the fold table does not know.
func ascii(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 126 {
			return -1
		}
		return r
	}, asciiFold.Replace(s))
}
