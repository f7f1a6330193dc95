package web

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// sample is one parsed exposition line: name{labels} value.
type sample struct {
	name   string
	labels string // raw text between the braces, "" when none
	value  float64
}

// parseExposition parses Prometheus text format 0.0.4 strictly enough for
// our own output: it fails on any line it does not understand, and checks
// that every sample follows a TYPE line for its family.
func parseExposition(t *testing.T, text string) (samples []sample, types map[string]string) {
	t.Helper()
	types = make(map[string]string)
	helps := make(map[string]bool)
	if text != "" && !strings.HasSuffix(text, "\n") {
		t.Fatalf("exposition does not end in a line feed")
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, _, ok := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			if !ok || helps[name] {
				t.Fatalf("bad or repeated HELP line %q", line)
			}
			helps[name] = true
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(strings.TrimPrefix(line, "# TYPE "))
			if len(f) != 2 || types[f[0]] != "" || !helps[f[0]] {
				t.Fatalf("bad TYPE line %q (HELP must come first, once)", line)
			}
			types[f[0]] = f[1]
		case line == "" || strings.HasPrefix(line, "#"):
			t.Fatalf("unexpected line %q", line)
		default:
			i := strings.LastIndexByte(line, ' ')
			if i < 0 {
				t.Fatalf("no value in %q", line)
			}
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err != nil {
				t.Fatalf("bad value in %q: %v", line, err)
			}
			s := sample{name: line[:i], value: v}
			if j := strings.IndexByte(s.name, '{'); j >= 0 {
				if !strings.HasSuffix(s.name, "}") {
					t.Fatalf("bad labels in %q", line)
				}
				s.labels, s.name = s.name[j+1:len(s.name)-1], s.name[:j]
			}
			family := s.name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(family, suf); ok && types[base] == "histogram" {
					family = base
				}
			}
			if types[family] == "" {
				t.Fatalf("sample %q before its TYPE line", line)
			}
			samples = append(samples, s)
		}
	}
	return samples, types
}

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	var b strings.Builder
	n, err := r.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Errorf("WriteTo returned %d, wrote %d bytes", n, b.Len())
	}
	return b.String()
}

func TestHistogramCumulativeAndConcurrent(t *testing.T) {
	h := NewHistogram("tikkit_ingest_seconds", "Time from DATA to 250.", []float64{0.01, 0.1, 1})
	r := NewRegistry()
	r.MustRegister(h)

	const goroutines, each = 8, 5000
	values := []float64{0.005, 0.01, 0.05, 0.5, 2, 0} // 0.01 must land in le="0.01"
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				h.Observe(values[(g+i)%len(values)])
				if i%1000 == 0 {
					r.WriteTo(io.Discard) // concurrent reads under -race
				}
			}
		}()
	}
	wg.Wait()

	samples, types := parseExposition(t, scrape(t, r))
	if types["tikkit_ingest_seconds"] != "histogram" {
		t.Fatalf("TYPE = %q", types["tikkit_ingest_seconds"])
	}
	var les []string
	var buckets []float64
	var sum, count float64
	for _, s := range samples {
		switch s.name {
		case "tikkit_ingest_seconds_bucket":
			les = append(les, s.labels)
			buckets = append(buckets, s.value)
		case "tikkit_ingest_seconds_sum":
			sum = s.value
		case "tikkit_ingest_seconds_count":
			count = s.value
		default:
			t.Errorf("unexpected sample %+v", s)
		}
	}
	wantLE := []string{`le="0.01"`, `le="0.1"`, `le="1"`, `le="+Inf"`}
	if strings.Join(les, ",") != strings.Join(wantLE, ",") {
		t.Fatalf("bucket labels = %v, want %v", les, wantLE)
	}
	for i := 1; i < len(buckets); i++ {
		if buckets[i] < buckets[i-1] {
			t.Errorf("buckets not cumulative: %v", buckets)
		}
	}
	total := float64(goroutines * each)
	if count != total || buckets[len(buckets)-1] != count {
		t.Errorf("_count = %v, +Inf = %v, want %v", count, buckets[len(buckets)-1], total)
	}
	// Count how often each value was observed to know every bucket exactly.
	var perValue [6]int
	for g := range goroutines {
		for i := range each {
			perValue[(g+i)%len(values)]++
		}
	}
	wantBuckets := []float64{
		float64(perValue[0] + perValue[1] + perValue[5]), // 0.005, 0.01, 0
		float64(perValue[0] + perValue[1] + perValue[5] + perValue[2]),
		float64(perValue[0] + perValue[1] + perValue[5] + perValue[2] + perValue[3]),
		total,
	}
	for i := range wantBuckets {
		if buckets[i] != wantBuckets[i] {
			t.Errorf("bucket %s = %v, want %v", wantLE[i], buckets[i], wantBuckets[i])
		}
	}
	var wantSum float64
	for i, n := range perValue {
		wantSum += values[i] * float64(n)
	}
	if math.Abs(sum-wantSum) > 1e-6*wantSum {
		t.Errorf("_sum = %v, want %v", sum, wantSum)
	}
	if h.Count() != uint64(total) {
		t.Errorf("Count() = %d", h.Count())
	}
}

func TestRegistryFormat(t *testing.T) {
	r := NewRegistry()
	c := NewCounter("tikkit_messages_total", "Inbound messages stored.")
	v := NewCounterVec("tikkit_smtp_replies_total", "SMTP replies by code.\nSecond \\ line.", "code")
	g := NewGauge("tikkit_outbox_pending", "Outbox rows waiting.")
	gf := NewGaugeFunc("tikkit_up", "Always 1.", func() float64 { return 1 })
	r.MustRegister(v, c, g, gf)

	c.Add(41)
	c.Inc()
	v.With("451").Inc()
	v.With("250").Add(7)
	v.With(`we"ird\` + "\n").Inc()
	g.Set(2.5)
	g.Add(-1)

	got := scrape(t, r)
	want := `# HELP tikkit_messages_total Inbound messages stored.
# TYPE tikkit_messages_total counter
tikkit_messages_total 42
# HELP tikkit_outbox_pending Outbox rows waiting.
# TYPE tikkit_outbox_pending gauge
tikkit_outbox_pending 1.5
# HELP tikkit_smtp_replies_total SMTP replies by code.\nSecond \\ line.
# TYPE tikkit_smtp_replies_total counter
tikkit_smtp_replies_total{code="250"} 7
tikkit_smtp_replies_total{code="451"} 1
tikkit_smtp_replies_total{code="we\"ird\\\n"} 1
# HELP tikkit_up Always 1.
# TYPE tikkit_up gauge
tikkit_up 1
`
	if got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	parseExposition(t, got)
}

func TestRegisterRejects(t *testing.T) {
	tests := []struct {
		name string
		m    Metric
	}{
		{"empty name", NewCounter("", "x")},
		{"leading digit", NewCounter("1abc", "x")},
		{"dash", NewCounter("a-b", "x")},
		{"bad label", NewCounterVec("ok_total", "x", "a:b")},
		{"le label", NewCounterVec("ok_total", "x", "le")},
		{"duplicate", NewGauge("taken", "x")},
		{"nil", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry()
			r.MustRegister(NewCounter("taken", "x"))
			if err := r.Register(tc.m); err == nil {
				t.Errorf("Register accepted %s", tc.name)
			}
		})
	}
	r := NewRegistry()
	if err := r.Register(NewCounter("a", "x"), NewCounter("a", "y")); err == nil {
		t.Error("duplicate within one call accepted")
	}
	if out := scrape(t, r); out != "" {
		t.Errorf("failed Register left metrics behind: %q", out)
	}
}

func TestHistogramBuckets(t *testing.T) {
	h := NewHistogram("h", "x", []float64{1, 2, math.Inf(1)})
	if len(h.upper) != 2 {
		t.Errorf("trailing +Inf not dropped: %v", h.upper)
	}
	h.Observe(math.NaN())
	h.Observe(math.Inf(1))
	if h.counts[2].Load() != 2 {
		t.Errorf("NaN and +Inf should land in +Inf bucket")
	}
	if d := NewHistogram("d", "x", nil); len(d.upper) != len(DefBuckets) {
		t.Errorf("nil buckets should mean DefBuckets")
	}
	for _, bad := range [][]float64{{1, 1}, {2, 1}, {math.NaN()}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHistogram(%v) did not panic", bad)
				}
			}()
			NewHistogram("bad", "x", bad)
		}()
	}
}

func TestCounterVecConcurrent(t *testing.T) {
	v := NewCounterVec("c_total", "x", "code")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				v.With(strconv.Itoa((g + i) % 3)).Inc()
			}
		}()
	}
	wg.Wait()
	var n uint64
	for _, k := range []string{"0", "1", "2"} {
		n += v.With(k).Value()
	}
	if n != 8000 {
		t.Errorf("total = %d, want 8000", n)
	}
}

func TestCounterVecFunc(t *testing.T) {
	r := NewRegistry()
	r.MustRegister(NewCounterVecFunc("tikkit_test_fetched_total", "Fetched.", "account", func() map[string]float64 {
		return map[string]float64{"b": 2, `a"\`: 1}
	}))
	text := scrape(t, r)
	samples, types := parseExposition(t, text)
	if types["tikkit_test_fetched_total"] != "counter" {
		t.Errorf("type %q, want counter:\n%s", types["tikkit_test_fetched_total"], text)
	}
	if len(samples) != 2 || samples[0].labels != `account="a\"\\"` || samples[0].value != 1 || samples[1].labels != `account="b"` {
		t.Errorf("samples %+v", samples)
	}
}
