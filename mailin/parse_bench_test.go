package mailin

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand"
	"runtime"
	"testing"
)

// benchMessage builds a message with a text part and one attachment of
// attSize random bytes, base64 in 76-column lines.
func benchMessage(attSize int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Jane Doe <jane.doe@example.org>\r\nTo: maintenance@example.com\r\n" +
		"Subject: Survey data\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <bench@example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"bench-boundary\"\r\n\r\n" +
		"--bench-boundary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "Line %d of the text: the radiator in room 204 is leaking again.\r\n", i)
	}
	if attSize > 0 {
		data := make([]byte, attSize)
		rand.New(rand.NewSource(1)).Read(data)
		enc := base64.StdEncoding.EncodeToString(data)
		b.WriteString("--bench-boundary\r\nContent-Type: application/octet-stream; name=\"survey.bin\"\r\n" +
			"Content-Disposition: attachment; filename=\"survey.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--bench-boundary--\r\n")
	return b.Bytes()
}

func benchParse(b *testing.B, msg []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := Parse(bytes.NewReader(msg), hashSink{}, ParseOptions{})
		if err != nil || p.Unparseable != "" || (len(msg) > 1<<20 && len(p.Attachments) != 1) {
			b.Fatalf("err %v %+v", err, p)
		}
	}
}

func BenchmarkParse25MB(b *testing.B) {
	msg := benchMessage(25 << 20)
	benchParse(b, msg)
	// Peak heap growth of one parse, beside the allocation total per op.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Parse(bytes.NewReader(msg), hashSink{}, ParseOptions{}); err != nil {
		b.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc), "heap-alloc-B/parse")
}

func BenchmarkParse5KB(b *testing.B) {
	msg := benchMessage(3 << 10)
	benchParse(b, msg)
}
