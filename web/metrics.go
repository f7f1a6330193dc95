package web

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// This file is a small metrics registry written against the Prometheus text
// exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Metrics are
// plain values: packages that must not import web (mailin, mailout) get
// callbacks from cmd that end in Counter.Inc or Histogram.Observe.

// Metric is anything a Registry can expose: *Counter, *CounterVec, *Gauge,
// *GaugeFunc and *Histogram.
type Metric interface {
	metricName() string
	write(w *bufio.Writer)
}

// DefBuckets are histogram upper bounds in seconds, from 5 ms to 10 s.
var DefBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// desc is the name and help text shared by all metric kinds.
type desc struct {
	name, help string
}

func (d desc) metricName() string { return d.name }

func (d desc) header(w *bufio.Writer, typ string) {
	w.WriteString("# HELP " + d.name + " " + escapeHelp(d.help) + "\n")
	w.WriteString("# TYPE " + d.name + " " + typ + "\n")
}

// Counter is a monotonically increasing count. The zero value is usable
// inside a CounterVec; stand-alone counters come from NewCounter.
type Counter struct {
	desc
	v atomic.Uint64
}

// NewCounter returns a counter; by convention its name ends in "_total".
func NewCounter(name, help string) *Counter {
	return &Counter{desc: desc{name, help}}
}

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

func (c *Counter) write(w *bufio.Writer) {
	c.header(w, "counter")
	w.WriteString(c.name + " " + strconv.FormatUint(c.Value(), 10) + "\n")
}

// CounterVec is a family of counters told apart by the value of one label,
// e.g. smtp_replies_total{code="250"}.
type CounterVec struct {
	desc
	label string

	mu sync.RWMutex
	m  map[string]*Counter
}

// NewCounterVec returns a counter family with one label.
func NewCounterVec(name, help, label string) *CounterVec {
	return &CounterVec{desc: desc{name, help}, label: label, m: make(map[string]*Counter)}
}

// With returns the counter for one label value, creating it at zero. Callers
// on a hot path may keep the result.
func (v *CounterVec) With(value string) *Counter {
	v.mu.RLock()
	c := v.m[value]
	v.mu.RUnlock()
	if c != nil {
		return c
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c = v.m[value]; c == nil {
		c = new(Counter)
		v.m[value] = c
	}
	return c
}

func (v *CounterVec) write(w *bufio.Writer) {
	v.header(w, "counter")
	v.mu.RLock()
	values := make([]string, 0, len(v.m))
	for k := range v.m {
		values = append(values, k)
	}
	counters := make([]*Counter, len(values))
	sort.Strings(values)
	for i, k := range values {
		counters[i] = v.m[k]
	}
	v.mu.RUnlock()
	for i, k := range values {
		w.WriteString(v.name + "{" + v.label + `="` + escapeLabel(k) + `"} ` +
			strconv.FormatUint(counters[i].Value(), 10) + "\n")
	}
}

// Gauge is a value that goes up and down.
type Gauge struct {
	desc
	bits atomic.Uint64 // math.Float64bits of the value
}

// NewGauge returns a gauge at zero.
func NewGauge(name, help string) *Gauge {
	return &Gauge{desc: desc{name, help}}
}

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds d (which may be negative).
func (g *Gauge) Add(d float64) { addFloat(&g.bits, d) }

// Value returns the current value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

func (g *Gauge) write(w *bufio.Writer) {
	g.header(w, "gauge")
	w.WriteString(g.name + " " + formatFloat(g.Value()) + "\n")
}

// GaugeFunc is a gauge whose value is read from f at every scrape, e.g. the
// outbox queue length. f must be safe for concurrent use and return quickly.
type GaugeFunc struct {
	desc
	f func() float64
}

// NewGaugeFunc returns a gauge that calls f when exposed.
func NewGaugeFunc(name, help string, f func() float64) *GaugeFunc {
	return &GaugeFunc{desc: desc{name, help}, f: f}
}

func (g *GaugeFunc) write(w *bufio.Writer) {
	g.header(w, "gauge")
	w.WriteString(g.name + " " + formatFloat(g.f()) + "\n")
}

// GaugeVecFunc is a family of gauges with one label whose values are read
// from f at every scrape (e.g. the outbox by status).
type GaugeVecFunc struct {
	desc
	typ   string // "gauge", or "counter" from NewCounterVecFunc
	label string
	f     func() map[string]float64
}

// NewGaugeVecFunc returns gauges labelled label, read from f when exposed.
func NewGaugeVecFunc(name, help, label string, f func() map[string]float64) *GaugeVecFunc {
	return &GaugeVecFunc{desc: desc{name, help}, typ: "gauge", label: label, f: f}
}

// NewCounterVecFunc is NewGaugeVecFunc for counts kept elsewhere (e.g. by a
// poller in a package that must not import web): exposed as counters, so
// f must only ever return growing values per label.
func NewCounterVecFunc(name, help, label string, f func() map[string]float64) *GaugeVecFunc {
	return &GaugeVecFunc{desc: desc{name, help}, typ: "counter", label: label, f: f}
}

func (g *GaugeVecFunc) write(w *bufio.Writer) {
	g.header(w, g.typ)
	m := g.f()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.WriteString(g.name + "{" + g.label + `="` + escapeLabel(k) + `"} ` + formatFloat(m[k]) + "\n")
	}
}

// Histogram counts observations (usually durations in seconds) into
// buckets. Observe is lock-free: one atomic add per bucket, count and sum.
// The exposition derives _count from the buckets, so +Inf always equals
// _count even while observations arrive; _sum may lag by in-flight values.
type Histogram struct {
	desc
	upper  []float64       // sorted upper bounds, without +Inf
	counts []atomic.Uint64 // per bucket, not cumulative; last is +Inf
	sum    atomic.Uint64   // math.Float64bits
}

// NewHistogram returns a histogram with the given upper bounds (nil means
// DefBuckets). Bounds must be strictly increasing; a trailing +Inf is
// implied and dropped when given. It panics on unsorted bounds, a
// programming error caught at start-up.
func NewHistogram(name, help string, buckets []float64) *Histogram {
	if buckets == nil {
		buckets = DefBuckets
	}
	upper := slices.Clone(buckets)
	if n := len(upper); n > 0 && math.IsInf(upper[n-1], 1) {
		upper = upper[:n-1]
	}
	for i, b := range upper {
		if math.IsNaN(b) || (i > 0 && b <= upper[i-1]) {
			panic(fmt.Sprintf("web: histogram %s: buckets must be strictly increasing", name))
		}
	}
	return &Histogram{
		desc:   desc{name, help},
		upper:  upper,
		counts: make([]atomic.Uint64, len(upper)+1),
	}
}

// Observe records one value. Safe for concurrent use.
func (h *Histogram) Observe(v float64) {
	// Smallest i with upper[i] >= v: Prometheus buckets are "less or equal".
	// NaN compares false everywhere and lands in +Inf.
	i := sort.SearchFloat64s(h.upper, v)
	h.counts[i].Add(1)
	addFloat(&h.sum, v)
}

// Count returns the number of observations so far.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

func (h *Histogram) write(w *bufio.Writer) {
	h.header(w, "histogram")
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		le := "+Inf"
		if i < len(h.upper) {
			le = formatFloat(h.upper[i])
		}
		w.WriteString(h.name + `_bucket{le="` + le + `"} ` + strconv.FormatUint(cum, 10) + "\n")
	}
	w.WriteString(h.name + "_sum " + formatFloat(math.Float64frombits(h.sum.Load())) + "\n")
	w.WriteString(h.name + "_count " + strconv.FormatUint(cum, 10) + "\n")
}

// Registry holds metrics and writes them out sorted by name.
type Registry struct {
	mu      sync.Mutex
	metrics map[string]Metric
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{metrics: make(map[string]Metric)}
}

// Register adds metrics. It fails on an invalid or duplicate name (or
// label name) and then registers none of them.
func (r *Registry) Register(ms ...Metric) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics == nil {
		r.metrics = make(map[string]Metric)
	}
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if m == nil {
			return errors.New("web: register: nil metric")
		}
		name := m.metricName()
		if !validName(name, true) {
			return fmt.Errorf("web: register: invalid metric name %q", name)
		}
		if v, ok := m.(*CounterVec); ok && (!validName(v.label, false) || v.label == "le") {
			return fmt.Errorf("web: register %s: invalid label name %q", name, v.label)
		}
		if _, dup := r.metrics[name]; dup || seen[name] {
			return fmt.Errorf("web: register: duplicate metric %q", name)
		}
		seen[name] = true
	}
	for _, m := range ms {
		r.metrics[m.metricName()] = m
	}
	return nil
}

// MustRegister is Register for wiring code: it panics on error.
func (r *Registry) MustRegister(ms ...Metric) {
	if err := r.Register(ms...); err != nil {
		panic(err)
	}
}

// WriteTo writes every metric in the Prometheus text format 0.0.4. It
// implements io.WriterTo.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	ms := make([]Metric, 0, len(r.metrics))
	for _, m := range r.metrics {
		ms = append(ms, m)
	}
	r.mu.Unlock()
	slices.SortFunc(ms, func(a, b Metric) int { return strings.Compare(a.metricName(), b.metricName()) })

	cw := &countingWriter{w: w}
	bw := bufio.NewWriter(cw)
	for _, m := range ms {
		m.write(bw)
	}
	err := bw.Flush()
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// addFloat adds d to the float64 stored as bits in u.
func addFloat(u *atomic.Uint64, d float64) {
	for {
		old := u.Load()
		if u.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// validName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]* (metric
// names) or [a-zA-Z_][a-zA-Z0-9_]* (label names, colon not allowed).
func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(colon && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string { return helpEscaper.Replace(s) }

// escapeLabel escapes a label value: backslash, double quote and line feed.
func escapeLabel(s string) string { return labelEscaper.Replace(s) }
