package mailout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/tikkit/tikkit/store"
)

func TestBackoffSchedule(t *testing.T) {
	const base, max = time.Minute, 6 * time.Hour
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{
		{0, time.Minute},
		{1, time.Minute},
		{2, 2 * time.Minute},
		{3, 4 * time.Minute},
		{4, 8 * time.Minute},
		{5, 16 * time.Minute},
		{6, 32 * time.Minute},
		{7, 64 * time.Minute},
		{8, 128 * time.Minute},
		{9, 256 * time.Minute},
		{10, 6 * time.Hour}, // 512m, capped
		{12, 6 * time.Hour},
		{200, 6 * time.Hour}, // no overflow
	} {
		t.Run(fmt.Sprint(tc.attempts), func(t *testing.T) {
			if got := Backoff(tc.attempts, base, max); got != tc.want {
				t.Errorf("Backoff(%d) = %v, want %v", tc.attempts, got, tc.want)
			}
			for range 50 {
				d := Backoff(tc.attempts, base, max)
				j := jitter(d, max)
				if j < d-d/10 || j > d+d/10 || j > max {
					t.Fatalf("jitter(%v) = %v, outside ±10%% or above the cap", d, j)
				}
			}
		})
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func enqueue(t *testing.T, s *store.Store, msgid string) int64 {
	t.Helper()
	var id int64
	err := s.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		id, err = tx.EnqueueMail(context.Background(), store.OutboxRow{Kind: "ack", ToEmail: "jane@example.org",
			Subject: "[REQ-1001] Leak", OutMessageID: msgid, Automatic: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func composeTest(row store.OutboxRow) ([]byte, error) { return testMsg(row.OutMessageID), nil }

func row(t *testing.T, s *store.Store, msgid string) store.OutboxRow {
	t.Helper()
	r, err := s.OutboxByMessageID(context.Background(), msgid)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// running is a worker started in the background; stop cancels it and
// waits for Run to return.
type running struct {
	w      *Worker
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

func startWorker(t *testing.T, o WorkerOptions) *running {
	t.Helper()
	if o.Compose == nil {
		o.Compose = composeTest
	}
	if o.From == "" {
		o.From = "help@tikkit.test"
	}
	if o.Base == 0 {
		o.Base = 20 * time.Millisecond
	}
	if o.Max == 0 {
		o.Max = time.Second
	}
	if o.Poll == 0 {
		o.Poll = 50 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: NewWorker(o), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.w.Run(ctx)
	}()
	t.Cleanup(r.stop)
	return r
}

type observed struct {
	mu sync.Mutex
	s  []string
}

func (o *observed) add(s string) { o.mu.Lock(); o.s = append(o.s, s); o.mu.Unlock() }
func (o *observed) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.s, ",")
}

var (
	err451 = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}
	err550 = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
)

// TestWorkerRetriesTemporaryFailures: the relay answers 451 twice, then
// accepts: the message arrives once, on the third attempt.
func TestWorkerRetriesTemporaryFailures(t *testing.T) {
	s := openStore(t)
	tr, _ := startRelay(t, relayConfig{onData: func(n int) error {
		if n <= 2 {
			return err451
		}
		return nil
	}})
	var obs observed
	startWorker(t, WorkerOptions{Store: s, Sender: newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none"}), Observe: obs.add})
	enqueue(t, s, "ack-1001@tikkit.test")
	waitFor(t, "sent", func() bool { return row(t, s, "ack-1001@tikkit.test").Status == store.OutboxSent })
	r := row(t, s, "ack-1001@tikkit.test")
	if r.Attempts != 3 || !r.SentAt.Valid || r.LastError != "" {
		t.Errorf("row = %+v; want 3 attempts", r)
	}
	if n := tr.count("ack-1001@tikkit.test"); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}
	if got := obs.String(); got != "retry,retry,sent" {
		t.Errorf("observed %s", got)
	}
}

// TestWorkerPermanentFailure: 550 fails the row at once; no retry.
func TestWorkerPermanentFailure(t *testing.T) {
	s := openStore(t)
	tr, _ := startRelay(t, relayConfig{onData: func(int) error { return err550 }})
	startWorker(t, WorkerOptions{Store: s, Sender: newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none"})})
	enqueue(t, s, "ack-1002@tikkit.test")
	waitFor(t, "failed", func() bool { return row(t, s, "ack-1002@tikkit.test").Status == store.OutboxFailed })
	time.Sleep(200 * time.Millisecond) // several backoff periods
	r := row(t, s, "ack-1002@tikkit.test")
	if r.Attempts != 1 || !strings.Contains(r.LastError, "550") || r.Status != store.OutboxFailed {
		t.Errorf("row = %+v", r)
	}
	if n := tr.dataCalls.Load(); n != 1 {
		t.Errorf("%d attempts at the relay, want 1", n)
	}
}

// TestWorkerStopFinishesMessageInFlight: cancelled while the relay is slow
// in DATA, the worker waits for the reply and records it; a restarted
// worker sends nothing again.
func TestWorkerStopFinishesMessageInFlight(t *testing.T) {
	s := openStore(t)
	tr, _ := startRelay(t, relayConfig{onData: func(n int) error {
		if n == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		return nil
	}})
	relay := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none"})
	w := startWorker(t, WorkerOptions{Store: s, Sender: relay})
	enqueue(t, s, "ack-1003@tikkit.test")
	w.w.Notify()
	waitFor(t, "DATA", func() bool { return tr.dataCalls.Load() == 1 })
	w.stop()
	if r := row(t, s, "ack-1003@tikkit.test"); r.Status != store.OutboxSent || r.Attempts != 1 {
		t.Errorf("after stop: %+v; want sent (the message in flight is finished)", r)
	}
	w2 := startWorker(t, WorkerOptions{Store: s, Sender: relay})
	w2.w.Notify()
	time.Sleep(200 * time.Millisecond)
	w2.stop()
	if n := tr.count("ack-1003@tikkit.test"); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}
}

// TestWorkerStopWithoutReplyThenRestart: the first attempt never gets the
// 250 (the relay holds DATA past our timeout, then drops the message); the
// worker stops; a restarted worker delivers it, once.
func TestWorkerStopWithoutReplyThenRestart(t *testing.T) {
	s := openStore(t)
	hold := make(chan struct{})
	var tr *testRelay
	tr, _ = startRelay(t, relayConfig{onData: func(n int) error {
		if n == 1 {
			select {
			case <-hold:
			case <-tr.done:
			}
			return err451 // never seen by the client, nothing recorded
		}
		return nil
	}})
	relay := newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none", Timeout: 300 * time.Millisecond})
	w := startWorker(t, WorkerOptions{Store: s, Sender: relay, Base: 50 * time.Millisecond})
	enqueue(t, s, "ack-1004@tikkit.test")
	w.w.Notify()
	waitFor(t, "DATA", func() bool { return tr.dataCalls.Load() == 1 })
	w.stop()
	r := row(t, s, "ack-1004@tikkit.test")
	if r.Status != store.OutboxQueued || r.Attempts != 1 || !strings.Contains(r.LastError, "end of DATA") {
		t.Errorf("after stop: %+v; want queued for retry with the timeout recorded", r)
	}
	close(hold)
	startWorker(t, WorkerOptions{Store: s, Sender: relay})
	waitFor(t, "sent", func() bool { return row(t, s, "ack-1004@tikkit.test").Status == store.OutboxSent })
	if n := tr.count("ack-1004@tikkit.test"); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}
	if r := row(t, s, "ack-1004@tikkit.test"); r.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", r.Attempts)
	}
}

// TestWorkerPicksUpAfterCrash: a row claimed by a worker that died (left
// "sending") is delivered by another once the lease has expired, not before.
func TestWorkerPicksUpAfterCrash(t *testing.T) {
	s := openStore(t)
	tr, _ := startRelay(t, relayConfig{})
	enqueue(t, s, "ack-1005@tikkit.test")
	const lease = 400 * time.Millisecond
	claimed := time.Now()
	if rows, err := s.ClaimDue(context.Background(), claimed, lease, 10); err != nil || len(rows) != 1 {
		t.Fatalf("claim: %v %v", rows, err)
	}
	// The claiming worker is gone. A new one starts at once.
	startWorker(t, WorkerOptions{Store: s, Sender: newRelay(t, RelayOptions{Addr: tr.addr, TLS: "none"}), Lease: time.Minute})
	time.Sleep(lease / 2)
	if n := tr.dataCalls.Load(); n != 0 {
		t.Fatalf("delivered during the lease")
	}
	waitFor(t, "sent", func() bool { return row(t, s, "ack-1005@tikkit.test").Status == store.OutboxSent })
	r := row(t, s, "ack-1005@tikkit.test")
	if r.SentAt.Time.Before(claimed.Add(lease)) || r.Attempts != 2 {
		t.Errorf("row = %+v; want sent after the lease, attempt 2", r)
	}
	if n := tr.count("ack-1005@tikkit.test"); n != 1 {
		t.Errorf("delivered %d times", n)
	}
}

type senderFunc func(ctx context.Context, from, to string, msg []byte) error

func (f senderFunc) Send(ctx context.Context, from, to string, msg []byte) error {
	return f(ctx, from, to, msg)
}

func TestWorkerComposeFailuresAndPanics(t *testing.T) {
	s := openStore(t)
	var mu sync.Mutex
	var sent []string
	sender := senderFunc(func(_ context.Context, _, _ string, msg []byte) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, string(msg))
		return nil
	})
	compose := func(r store.OutboxRow) ([]byte, error) {
		switch r.OutMessageID {
		case "bad@x":
			return nil, errors.New("template ack: missing field")
		case "boom@x":
			panic("nil map")
		}
		return []byte(r.OutMessageID), nil
	}
	for _, id := range []string{"bad@x", "boom@x", "good@x"} {
		enqueue(t, s, id)
	}
	startWorker(t, WorkerOptions{Store: s, Sender: sender, Compose: compose})
	waitFor(t, "good sent", func() bool { return row(t, s, "good@x").Status == store.OutboxSent })
	if r := row(t, s, "bad@x"); r.Status != store.OutboxFailed || r.LastError != "compose: template ack: missing field" || r.Attempts != 1 {
		t.Errorf("bad: %+v", r)
	}
	if r := row(t, s, "boom@x"); r.Status != store.OutboxFailed || !strings.Contains(r.LastError, "nil map") {
		t.Errorf("boom: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 1 || sent[0] != "good@x" {
		t.Errorf("sent %q", sent)
	}
}

func TestWorkerGivesUp(t *testing.T) {
	s := openStore(t)
	var calls sync.Map
	sender := senderFunc(func(context.Context, string, string, []byte) error {
		n, _ := calls.LoadOrStore("n", new(int))
		*n.(*int)++
		return errors.New("connection reset")
	})
	enqueue(t, s, "stuck@x")
	startWorker(t, WorkerOptions{Store: s, Sender: sender, MaxAttempts: 3, Base: time.Millisecond})
	waitFor(t, "failed", func() bool { return row(t, s, "stuck@x").Status == store.OutboxFailed })
	r := row(t, s, "stuck@x")
	if r.Attempts != 3 || !strings.Contains(r.LastError, "gave up after 3 attempts") || !strings.Contains(r.LastError, "connection reset") {
		t.Errorf("row = %+v", r)
	}
	// A row past its age is given up at its next temporary failure.
	err := s.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.EnqueueMail(context.Background(), store.OutboxRow{Kind: "ack", ToEmail: "a@b", Subject: "s",
			OutMessageID: "old@x", CreatedAt: time.Now().Add(-72 * time.Hour), NextAttemptAt: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "old failed", func() bool { return row(t, s, "old@x").Status == store.OutboxFailed })
	if r := row(t, s, "old@x"); r.Attempts != 1 || !strings.Contains(r.LastError, "gave up") {
		t.Errorf("old row = %+v", r)
	}
}

// TestWorkerNotify: with a long poll interval, Notify makes the worker
// look at once.
func TestWorkerNotify(t *testing.T) {
	s := openStore(t)
	got := make(chan string, 1)
	sender := senderFunc(func(_ context.Context, _, _ string, msg []byte) error { got <- string(msg); return nil })
	w := startWorker(t, WorkerOptions{Store: s, Sender: sender, Poll: time.Hour,
		Compose: func(r store.OutboxRow) ([]byte, error) { return []byte(r.OutMessageID), nil }})
	time.Sleep(50 * time.Millisecond) // the worker is asleep
	enqueue(t, s, "notified@x")
	w.w.Notify()
	select {
	case m := <-got:
		if m != "notified@x" {
			t.Errorf("sent %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Notify did not wake the worker")
	}
}

// TestWorkersNeverShareARow: two workers on one store deliver every row
// exactly once.
func TestWorkersNeverShareARow(t *testing.T) {
	s := openStore(t)
	var mu sync.Mutex
	seen := map[string]int{}
	sender := senderFunc(func(_ context.Context, _, _ string, msg []byte) error {
		mu.Lock()
		seen[string(msg)]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil
	})
	compose := func(r store.OutboxRow) ([]byte, error) { return []byte(r.OutMessageID), nil }
	const n = 60
	for i := range n {
		enqueue(t, s, fmt.Sprintf("m%d@x", i))
	}
	a := startWorker(t, WorkerOptions{Store: s, Sender: sender, Compose: compose, Batch: 3})
	b := startWorker(t, WorkerOptions{Store: s, Sender: sender, Compose: compose})
	a.w.Notify()
	b.w.Notify()
	waitFor(t, "all sent", func() bool {
		c, _ := s.OutboxCounts(context.Background())
		return c[store.OutboxSent] == n
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Errorf("%d distinct messages sent, want %d", len(seen), n)
	}
	for m, k := range seen {
		if k != 1 {
			t.Errorf("%s sent %d times", m, k)
		}
	}
}
