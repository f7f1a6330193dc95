package mailin

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"time"
)

// rawFetch reads every message of INBOX through the poller's own
// connection code (SELECT, UID SEARCH, UID FETCH BODY.PEEK[] in batches)
// and throws the bodies away: the ceiling the poller is measured against.
func rawFetch(ctx context.Context, acc IMAPAccount, spoolDir string) (int, error) {
	c, err := dialIMAP(ctx, acc, spoolDir)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Select("INBOX"); err != nil {
		return 0, err
	}
	uids, err := c.UIDsAbove(0)
	if err != nil {
		return 0, err
	}
	n := 0
	for chunk := range slices.Chunk(uids, acc.Batch) {
		err := c.Fetch(chunk, func(uid uint32, body io.Reader) error {
			n++
			_, err := io.Copy(io.Discard, body)
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// BenchmarkIMAPIngest measures, for 2,000 messages of 5 KB in a real
// Dovecot INBOX, (a) the raw fetch rate of the IMAP client with no
// processing and (b) the poller's PollOnce into a fresh store (parse,
// classify, thread, commit, then \Seen), and reports (b) as a share of (a)
// (issue 5: target at least 70 %). Each iteration does both, in turns, and
// (c) the same number of messages ingested from memory in the same way (in
// order, a batch in flight at a time) with no IMAP at all: the ceiling the
// ingest path sets, which (b) is also reported against.
//
//	go test ./mailin -run '^$' -bench IMAPIngest -benchtime 3x
func BenchmarkIMAPIngest(b *testing.B) {
	const msgs, size = 2000, 5120
	dc := startDovecot(b)
	dc.seedMaildir(msgs, size)
	acc := dc.account()
	acc.IDLE = false
	acc.Existing = "all" // each iteration is a new tikkit; the messages are \Seen after the first
	acc.Batch = 100      // the poller's default, for both paths
	ctx := context.Background()
	spool := b.TempDir()
	// Warm-up: Dovecot builds its index and cache of the new maildir.
	if n, err := rawFetch(ctx, acc, spool); err != nil || n != msgs {
		b.Fatalf("warm-up fetch: %d messages, %v", n, err)
	}
	var raw, poll, mem time.Duration
	iters := 0
	for b.Loop() {
		t0 := time.Now()
		n, err := rawFetch(ctx, acc, spool)
		raw += time.Since(t0)
		if err != nil || n != msgs {
			b.Fatalf("raw fetch: %d messages, %v", n, err)
		}

		b.StopTimer()
		h := newHarness(b, "imap", nil) // a fresh store: every message is new
		p := NewPoller(h.in, h.st, acc, nil)
		b.StartTimer()
		t0 = time.Now()
		n, err = p.PollOnce(ctx)
		poll += time.Since(t0)
		b.StopTimer()
		p.Disconnect()
		if err != nil || n != msgs {
			b.Fatalf("PollOnce: %d messages, %v", n, err)
		}
		mem += ingestFromMemory(b, msgs, size, acc.Batch)
		b.StartTimer()
		iters++
	}
	rawRate := float64(msgs*iters) / raw.Seconds()
	pollRate := float64(msgs*iters) / poll.Seconds()
	b.ReportMetric(rawRate, "raw-msgs/s")
	b.ReportMetric(pollRate, "msgs/s")
	b.ReportMetric(100*pollRate/rawRate, "pct-of-raw")
	memRate := float64(msgs*iters) / mem.Seconds()
	b.ReportMetric(memRate, "mem-ingest-msgs/s")
	b.ReportMetric(100*pollRate/memRate, "pct-of-mem-ingest")
}

// ingestFromMemory ingests n generated messages into a fresh store as the
// poller does, minus IMAP: a batch at a time, parsed concurrently,
// committed in order. It returns the time taken.
func ingestFromMemory(b *testing.B, n, size, batch int) time.Duration {
	h := newHarness(b, "imap", nil)
	raws := make([]*Raw, n)
	for i := range raws {
		raws[i] = RawBytes(ingestBenchMessage(i, size))
	}
	t0 := time.Now()
	for chunk := range slices.Chunk(raws, batch) {
		var wg sync.WaitGroup
		var prev chan struct{}
		for _, raw := range chunk {
			after, queued := prev, make(chan struct{})
			prev = queued
			wg.Go(func() {
				if _, err := h.in.ingestAfter(context.Background(), Delivery{Source: "imap", Raw: raw}, after, queued); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	return time.Since(t0)
}
