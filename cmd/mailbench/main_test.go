package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is a go-smtp backend that parses and discards every message,
// remembering what the test needs to check.
type sink struct {
	rejectRcpt string // RCPT to this address gets 550
	failEvery  int    // every n-th DATA gets 451 (0: never)

	mu      sync.Mutex
	n       int
	ids     map[string]bool
	order   []string // Message-IDs in the order they were accepted
	parents []string // In-Reply-To of replies
	sizes   []int
	bad     []string // parse problems
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct{ s *sink }

func (*session) Reset()        {}
func (*session) Logout() error { return nil }
func (*session) Mail(string, *smtp.MailOptions) error {
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == ss.s.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.failEvery > 0 && s.n%s.failEvery == 0 {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		s.bad = append(s.bad, err.Error())
		return nil
	}
	id := m.Header.Get("Message-ID")
	if s.ids[id] {
		s.bad = append(s.bad, "duplicate Message-ID "+id)
	}
	s.ids[id] = true
	s.order = append(s.order, id)
	s.sizes = append(s.sizes, len(raw))
	for _, h := range []string{"Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type"} {
		if m.Header.Get(h) == "" {
			s.bad = append(s.bad, "missing "+h)
		}
	}
	if _, err := m.Header.Date(); err != nil {
		s.bad = append(s.bad, "Date: "+err.Error())
	}
	if _, err := m.Header.AddressList("From"); err != nil {
		s.bad = append(s.bad, "From: "+err.Error())
	}
	if p := m.Header.Get("In-Reply-To"); p != "" {
		if !strings.HasPrefix(m.Header.Get("Subject"), "Re: ") {
			s.bad = append(s.bad, "reply without Re: subject")
		}
		if !strings.Contains(m.Header.Get("References"), p) {
			s.bad = append(s.bad, "References lacks the parent")
		}
		if !s.ids[p] { // a reply names a message accepted before it
			s.bad = append(s.bad, "In-Reply-To "+p+" not delivered before")
		}
		s.parents = append(s.parents, p)
	}
	return nil
}

// startServer serves sk on 127.0.0.1:0 and returns the address.
func startServer(t *testing.T, sk *sink, lmtp bool) string {
	t.Helper()
	sk.ids = map[string]bool{}
	srv := smtp.NewServer(sk)
	srv.Domain = "localhost"
	srv.LMTP = lmtp
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen on loopback: %v", err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func opts(addr string) Options {
	return Options{Addr: addr, N: 200, C: 4, Size: 5120, From: "bench@example.org",
		To: []string{"help@localhost"}, Threads: 0.2, Timeout: 10 * time.Second, Seed: 1}
}

func checkPercentiles(t *testing.T, r Result) {
	t.Helper()
	if !(0 < r.P50 && r.P50 <= r.P90 && r.P90 <= r.P99 && r.P99 <= r.Max) {
		t.Errorf("percentiles not ordered: p50 %v p90 %v p99 %v max %v", r.P50, r.P90, r.P99, r.Max)
	}
}

func TestRun(t *testing.T) {
	for _, lmtp := range []bool{false, true} {
		name := map[bool]string{false: "smtp", true: "lmtp"}[lmtp]
		t.Run(name, func(t *testing.T) {
			sk := &sink{}
			o := opts(startServer(t, sk, lmtp))
			o.LMTP = lmtp
			res, err := run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != 200 || res.Failed != 0 || len(res.Errors) != 0 {
				t.Errorf("sent %d failed %d errors %v, want 200/0", res.Sent, res.Failed, res.Errors)
			}
			checkPercentiles(t, res)
			if res.Rate <= 0 || res.Elapsed <= 0 {
				t.Errorf("rate %v elapsed %v", res.Rate, res.Elapsed)
			}

			sk.mu.Lock()
			defer sk.mu.Unlock()
			if len(sk.bad) > 0 {
				t.Errorf("server saw problems: %v", sk.bad)
			}
			if len(sk.order) != 200 || len(sk.ids) != 200 {
				t.Errorf("server stored %d messages, %d unique ids", len(sk.order), len(sk.ids))
			}
			if res.Replies != len(sk.parents) || res.Replies < 10 || res.Replies > 80 {
				t.Errorf("replies: result %d, server %d; want about 20%% of 200", res.Replies, len(sk.parents))
			}
			for _, n := range sk.sizes {
				if n < 5120*9/10 || n > 5120*11/10 {
					t.Errorf("message of %d bytes, want about 5120", n)
					break
				}
			}
			var total int64
			for _, n := range sk.sizes {
				total += int64(n)
			}
			// The server sees the message without dot-stuffing and with CRLF, as sent.
			if res.Bytes != total {
				t.Errorf("result bytes %d, server bytes %d", res.Bytes, total)
			}
		})
	}
}

func TestRunCountsFailures(t *testing.T) {
	t.Run("451 on every 10th DATA", func(t *testing.T) {
		sk := &sink{failEvery: 10}
		res, err := run(context.Background(), opts(startServer(t, sk, false)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 180 || res.Failed != 20 || res.Errors["451"] != 20 || len(res.Errors) != 1 {
			t.Errorf("sent %d failed %d errors %v, want 180/20 all 451", res.Sent, res.Failed, res.Errors)
		}
		checkPercentiles(t, res)
	})
	t.Run("550 on RCPT", func(t *testing.T) {
		sk := &sink{rejectRcpt: "nobody@localhost"}
		o := opts(startServer(t, sk, false))
		o.N, o.To = 30, []string{"nobody@localhost"}
		res, err := run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 0 || res.Failed != 30 || res.Errors["550"] != 30 {
			t.Errorf("sent %d failed %d errors %v, want 0/30 all 550", res.Sent, res.Failed, res.Errors)
		}
		var out bytes.Buffer
		report(&out, o, res)
		if !strings.Contains(out.String(), "550") || !strings.Contains(out.String(), "mailbench: 0 msgs,") {
			t.Errorf("report:\n%s", out.String())
		}
	})
}

func TestRunBounded(t *testing.T) {
	sk := &sink{}
	o := opts(startServer(t, sk, false))
	o.N, o.Duration = 1<<30, 300*time.Millisecond
	start := time.Now()
	res, err := run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("run took %v with -duration 300ms", took)
	}
	if res.Sent == 0 || res.Failed != 0 || res.Sent >= o.N {
		t.Errorf("sent %d failed %d", res.Sent, res.Failed)
	}
}

func TestRunNoServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	o := opts(addr)
	o.Timeout = time.Second
	if _, err := run(context.Background(), o); err == nil {
		t.Error("run succeeded with no server")
	}
}

func TestReport(t *testing.T) {
	var out bytes.Buffer
	o := opts("127.0.0.1:2525")
	report(&out, o, Result{Sent: 10000, Rate: 812.34, Elapsed: 12310 * time.Millisecond, Bytes: 51200000,
		P50: 8100 * time.Microsecond, P90: 12 * time.Millisecond, P99: 30250 * time.Microsecond, Max: 80 * time.Millisecond,
		Errors: map[string]int{}})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != "mailbench: 10000 msgs, 812.3 msg/s, p50 8.1ms, p99 30.2ms" {
		t.Errorf("summary line %q", last)
	}
	if !strings.Contains(out.String(), "p90") || strings.Contains(out.String(), "errors") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty percentile not 0")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err      error
		code     string
		reusable bool
	}{
		{&smtp.SMTPError{Code: 550}, "550", true},
		{&smtp.SMTPError{Code: 421}, "421", false},
		{smtp.LMTPDataError{"b@x": &smtp.SMTPError{Code: 452}, "a@x": &smtp.SMTPError{Code: 550}}, "550", true},
		{io.EOF, "conn", false},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, "timeout", false},
		{errors.New("boom"), "conn", false},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			code, ok := classify(tc.err)
			if code != tc.code || ok != tc.reusable {
				t.Errorf("classify(%v) = %s %v, want %s %v", tc.err, code, ok, tc.code, tc.reusable)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
