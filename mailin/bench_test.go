package mailin

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"github.com/emersion/go-smtp"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// ingestBenchMessage builds a plain message of about size bytes.
func ingestBenchMessage(i int, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Occupant %d <occupant%d@example.org>\r\nTo: maintenance@example.com\r\n", i%500, i%500)
	fmt.Fprintf(&b, "Subject: Light flickering in room %d\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n", i)
	fmt.Fprintf(&b, "Message-ID: <bench.%d.%d@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", i, time.Now().UnixNano())
	line := "The light in the corridor keeps flickering since this morning, please have a look.\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// BenchmarkIngest5KB measures the whole ingest path (parse, classify,
// thread, group commit with fsync) with 16 concurrent deliveries.
func BenchmarkIngest5KB(b *testing.B) {
	h := newHarness(b, "ingest", nil)
	var n atomic.Int64
	b.SetParallelism(8) // 8 x GOMAXPROCS(2) = 16 goroutines
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			if _, err := h.in.Ingest(h.ctx, Delivery{Source: "ingest", Raw: RawBytes(ingestBenchMessage(i, 5120))}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkIngest25MBAttachment reports the peak extra heap while one
// message with a 25 MB attachment goes through the path (target < 40 MB).
func BenchmarkIngest25MBAttachment(b *testing.B) {
	att := make([]byte, 25<<20)
	rand.Read(att)
	var msg bytes.Buffer
	msg.WriteString("From: Jane <jane@example.org>\r\nTo: maintenance@example.com\r\nSubject: Survey\r\nMIME-Version: 1.0\r\n")
	msg.WriteString("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSurvey attached.\r\n")
	msg.WriteString("--b\r\nContent-Type: application/octet-stream; name=\"survey.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(att)
	for len(enc) > 76 {
		msg.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	msg.WriteString(enc + "\r\n--b--\r\n")
	h := newHarness(b, "ingest", func(o *Options) { o.MaxAttachmentBytes = 30 << 20 })
	var peak uint64
	for i := 0; b.Loop(); i++ {
		raw := bytes.Replace(msg.Bytes(), []byte("Subject: Survey"), []byte(fmt.Sprintf("Subject: Survey %d", i)), 1)
		spool, err := Spool(bytes.NewReader(raw), h.st.Blobs.TempDir(), -1)
		if err != nil {
			b.Fatal(err)
		}
		raw = nil
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		stop := make(chan struct{})
		done := make(chan uint64)
		go func() {
			var max uint64
			var s runtime.MemStats
			for {
				runtime.ReadMemStats(&s)
				if s.HeapInuse > max {
					max = s.HeapInuse
				}
				select {
				case <-stop:
					done <- max
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		}()
		if _, err := h.in.Ingest(h.ctx, Delivery{Source: "ingest", Raw: spool}); err != nil {
			b.Fatal(err)
		}
		close(stop)
		if m := <-done; m > base && m-base > peak {
			peak = m - base
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-extra-MB")
}

// BenchmarkSMTPIngest5KB measures SMTP delivery of 5 KB messages over 16
// connections into the daemon's listener (client in the same process).
func BenchmarkSMTPIngest5KB(b *testing.B) {
	h := newHarness(b, "smtp", nil)
	var n atomic.Int64
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := smtp.Dial(h.addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		for pb.Next() {
			i := int(n.Add(1))
			if err := c.SendMail("occupant@example.org", []string{"maintenance@example.com"}, bytes.NewReader(ingestBenchMessage(i, 5120))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "msgs/s")
}
