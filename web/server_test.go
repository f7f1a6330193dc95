package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 5, 4, 15, 30, 0, 0, time.UTC)

func newTestHandler(t *testing.T, cfg Config) (*handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if cfg.Started.IsZero() {
		cfg.Started = testNow.Add(-(3*time.Hour + 12*time.Minute + 40*time.Second))
	}
	h := NewHandler(cfg).(*handler)
	h.now = func() time.Time { return testNow }
	return h, &logs
}

func okStats(context.Context) (Stats, error) {
	return Stats{
		OpenRequests:   17,
		ClosedRequests: 4242,
		MessagesToday:  93,
		HeldMessages:   0,
		TotalMessages:  31337,
		LastMessageAt:  testNow.Add(-5 * time.Minute),
		OutboxQueued:   3,
		OutboxSent:     812,
		OutboxFailed:   0,
	}, nil
}

func do(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func wantContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q", s)
		}
	}
}

func TestStatusPage(t *testing.T) {
	h, _ := newTestHandler(t, Config{
		Version: "v0.3.1",
		Stats:   okStats,
		Listeners: func() []Listener {
			return []Listener{{"smtp", "127.0.0.1:2525", true}, {"imap", "imap.example.org:993", true}}
		},
	})
	res, body := do(t, h, http.MethodGet, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	wantContains(t, body,
		"All systems normal", "v0.3.1", "3 h 12 min",
		"<b>17</b><span>open requests", "<b>4242</b><span>closed requests",
		"<b>93</b><span>messages today", "<b>31337</b><span>messages in total",
		"<b>0</b><span>held messages", "smtp", "127.0.0.1:2525", "pill ok",
		"<b>3</b><span>outbound waiting", "<b>812</b><span>outbound sent", "<b>0</b><span>outbound failed",
		"2026-05-04 15:25 UTC (5 min ago)",
	)
	if strings.Contains(body, "@") {
		t.Errorf("page contains '@' (no addresses, no at-rules)")
	}
	if strings.Contains(body, "held --json") {
		t.Errorf("held hint shown with no held messages")
	}
	for _, bad := range []string{"<script", "http://", "https://", "src="} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q: no JS, no external assets", bad)
		}
	}
}

func TestStatusPageWarnings(t *testing.T) {
	h, _ := newTestHandler(t, Config{
		Stats: func(ctx context.Context) (Stats, error) {
			st, _ := okStats(ctx)
			st.HeldMessages = 3
			st.LastMessageAt = time.Time{}
			return st, nil
		},
		Listeners: func() []Listener { return []Listener{{"lmtp", "/run/tikkit/lmtp.sock", false}} },
	})
	res, body := do(t, h, http.MethodGet, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	wantContains(t, body, "1 listener down", "pill down", `card warn"><b>3</b>`,
		"<code>tikkitd held --json</code>", "never", "unknown") // version unknown
}

func TestStatusPageDatabaseDown(t *testing.T) {
	h, logs := newTestHandler(t, Config{
		Version: "v1",
		Stats: func(context.Context) (Stats, error) {
			return Stats{OpenRequests: 999}, errors.New("sqlite: disk I/O error at /var/lib/tikkit/x.db")
		},
		Listeners: func() []Listener { return []Listener{{"smtp", "127.0.0.1:2525", true}} },
	})
	res, body := do(t, h, http.MethodGet, "/")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", res.StatusCode)
	}
	wantContains(t, body, "Database unavailable", "banner down", "v1", "127.0.0.1:2525")
	for _, bad := range []string{"999", "disk I/O", "open requests"} {
		if strings.Contains(body, bad) {
			t.Errorf("page shows %q although the database is down", bad)
		}
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Errorf("error detail not logged: %s", logs)
	}

	res, body = do(t, h, http.MethodGet, "/healthz")
	if res.StatusCode != http.StatusServiceUnavailable || body != "database unavailable\n" {
		t.Errorf("healthz = %d %q", res.StatusCode, body)
	}
}

func TestHealthz(t *testing.T) {
	h, _ := newTestHandler(t, Config{Stats: okStats})
	res, body := do(t, h, http.MethodGet, "/healthz")
	if res.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz = %d %q", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}

	slow, _ := newTestHandler(t, Config{Stats: func(ctx context.Context) (Stats, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("Stats called without a deadline")
		}
		return Stats{}, context.DeadlineExceeded
	}})
	res, body = do(t, slow, http.MethodGet, "/healthz")
	if res.StatusCode != http.StatusServiceUnavailable || body != "database unavailable: timeout\n" {
		t.Errorf("healthz on timeout = %d %q", res.StatusCode, body)
	}

	none, _ := newTestHandler(t, Config{})
	if res, _ := do(t, none, http.MethodGet, "/healthz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz without Stats = %d, want 503", res.StatusCode)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	reg := NewRegistry()
	c := NewCounter("tikkit_messages_total", "Inbound messages stored.")
	reg.MustRegister(c)
	c.Add(5)
	h, _ := newTestHandler(t, Config{Registry: reg})
	res, body := do(t, h, http.MethodGet, "/metrics")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	wantContains(t, body, "# TYPE tikkit_messages_total counter\ntikkit_messages_total 5\n")

	empty, _ := newTestHandler(t, Config{})
	if res, body := do(t, empty, http.MethodGet, "/metrics"); res.StatusCode != http.StatusOK || body != "" {
		t.Errorf("nil registry: %d %q", res.StatusCode, body)
	}
}

func TestRoutingAndHeaders(t *testing.T) {
	h, _ := newTestHandler(t, Config{Stats: okStats, Registry: NewRegistry()})
	tests := []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/", 200},
		{http.MethodHead, "/", 200},
		{http.MethodGet, "/healthz", 200},
		{http.MethodHead, "/healthz", 200},
		{http.MethodGet, "/metrics", 200},
		{http.MethodPost, "/", 405},
		{http.MethodPut, "/healthz", 405},
		{http.MethodDelete, "/metrics", 405},
		{http.MethodOptions, "/", 405},
		{http.MethodGet, "/nope", 404},
		{http.MethodGet, "/healthz/", 404},
		{http.MethodGet, "/index.html", 404},
		{http.MethodPost, "/nope", 404},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res, _ := do(t, h, tc.method, tc.path)
			if res.StatusCode != tc.code {
				t.Errorf("status %d, want %d", res.StatusCode, tc.code)
			}
			if tc.code == 405 && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", res.Header.Get("Allow"))
			}
			checkSecurityHeaders(t, res.Header)
		})
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestPanicRecovered(t *testing.T) {
	tests := []struct {
		name, path string
		cfg        Config
	}{
		{"stats", "/", Config{Stats: func(context.Context) (Stats, error) { panic("boom") }}},
		{"listeners", "/", Config{Stats: okStats, Listeners: func() []Listener { panic("boom") }}},
		{"healthz", "/healthz", Config{Stats: func(context.Context) (Stats, error) { panic("boom") }}},
		{"gauge func", "/metrics", Config{Registry: func() *Registry {
			r := NewRegistry()
			r.MustRegister(NewGaugeFunc("g", "x", func() float64 { panic("boom") }))
			return r
		}()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, logs := newTestHandler(t, tc.cfg)
			res, body := do(t, h, http.MethodGet, tc.path)
			if res.StatusCode != http.StatusInternalServerError || body != "internal error\n" {
				t.Errorf("got %d %q, want 500", res.StatusCode, body)
			}
			checkSecurityHeaders(t, res.Header)
			if !strings.Contains(logs.String(), "panic") || !strings.Contains(logs.String(), "boom") {
				t.Errorf("panic not logged: %s", logs)
			}
		})
	}
}

// TestServerLoopback runs the handler behind a real listener, as cmd will.
func TestServerLoopback(t *testing.T) {
	srv := httptest.NewServer(NewHandler(Config{Stats: okStats, Version: "v9"}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "v9") {
		t.Errorf("GET / = %d", res.StatusCode)
	}
	res, err = http.Head(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("HEAD /healthz = %d", res.StatusCode)
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0 s"},
		{0, "0 s"},
		{59 * time.Second, "59 s"},
		{time.Minute, "1 min"},
		{59*time.Minute + 59*time.Second, "59 min"},
		{time.Hour, "1 h 0 min"},
		{3*time.Hour + 12*time.Minute + 59*time.Second, "3 h 12 min"},
		{24 * time.Hour, "1 d 0 h"},
		{50*time.Hour + 30*time.Minute, "2 d 2 h"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := humanDuration(tc.d); got != tc.want {
				t.Errorf("humanDuration(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func TestStatusPageIMAP(t *testing.T) {
	accounts := []IMAPAccount{
		{Name: "facilities", Connected: true, LastPoll: testNow.Add(-12 * time.Second), Fetched: 1234, Errors: 0},
		{Name: "caretaker-north", Connected: false, Fetched: 0, Errors: 7, Skipped: 1,
			LastErrorStep: "login", LastErrorAt: testNow.Add(-3 * time.Minute)},
		{Name: "south", Connected: true, LastPoll: testNow.Add(-time.Minute), Errors: 2,
			LastErrorStep: "as jo@example.org", LastErrorAt: testNow.Add(-time.Hour)},
	}
	h, _ := newTestHandler(t, Config{Stats: okStats, IMAP: func() []IMAPAccount { return accounts }})
	res, body := do(t, h, http.MethodGet, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	wantContains(t, body, "IMAP accounts", "1 IMAP account not connected", "banner warn", "<td><b>Last error</b></td>",
		`<tr><td>facilities</td><td><span class="pill ok">connected</span></td><td>12 s ago</td><td class="num">1234</td><td class="num">0</td><td></td><td class="num" title="messages the server would not return; left in the mailbox, see the log">0</td></tr>`,
		`<tr><td>caretaker-north</td><td><span class="pill down">not connected</span></td><td>never</td><td class="num">0</td><td class="num warn">7</td><td class="warn">login failed, 3 min ago</td><td class="num warn" title="messages the server would not return; left in the mailbox, see the log">1</td></tr>`,
		// A step that is not a plain word is not shown.
		`<td class="num warn">2</td><td class="warn">error, 1 h 0 min ago</td>`,
	)
	if strings.Contains(body, "@") || strings.Contains(body, "example.org") {
		t.Errorf("page shows the step's text")
	}

	// Connected again, but its last error is newer than its last poll
	// (a mailbox the server will not open): failing.
	accounts[1].Connected, accounts[1].LastPoll = true, testNow.Add(-(2*time.Hour + 5*time.Minute))
	accounts = accounts[:2]
	_, body = do(t, h, http.MethodGet, "/")
	wantContains(t, body, "1 IMAP account failing", "2 h 5 min ago")
	// Polled since: a refused move, then a skipped message still want a look.
	accounts[1].LastPoll = testNow.Add(-time.Minute)
	accounts[1].MoveRefused = true
	_, body = do(t, h, http.MethodGet, "/")
	wantContains(t, body, "1 IMAP account cannot move filed mail to processed_mailbox: see the log")
	accounts[1].MoveRefused = false
	_, body = do(t, h, http.MethodGet, "/")
	wantContains(t, body, "1 message left in an IMAP mailbox: see the log")
	accounts[1].Skipped = 0
	_, body = do(t, h, http.MethodGet, "/")
	wantContains(t, body, "All systems normal")
	if strings.Contains(body, "@") {
		t.Errorf("page contains '@'")
	}

	// No accounts: no section.
	h, _ = newTestHandler(t, Config{Stats: okStats})
	if _, body := do(t, h, http.MethodGet, "/"); strings.Contains(body, "IMAP") {
		t.Errorf("IMAP section shown without accounts")
	}
}

// Counts of one are in the singular, on the cards and in the headline.
func TestStatusPagePlurals(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want []string
	}{
		{1, []string{"1 held message needs a look", "<b>1</b><span>open request</span>", "<b>1</b><span>closed request</span>",
			"<b>1</b><span>message today</span>", "<b>1</b><span>message in total</span>", "<b>1</b><span>held message</span>"}},
		{2, []string{"2 held messages need a look", "<b>2</b><span>open requests</span>", "<b>2</b><span>closed requests</span>",
			"<b>2</b><span>messages today</span>", "<b>2</b><span>messages in total</span>", "<b>2</b><span>held messages</span>"}},
	} {
		h, _ := newTestHandler(t, Config{Stats: func(context.Context) (Stats, error) {
			return Stats{OpenRequests: tc.n, ClosedRequests: tc.n, MessagesToday: tc.n, TotalMessages: tc.n, HeldMessages: tc.n}, nil
		}})
		_, body := do(t, h, http.MethodGet, "/")
		wantContains(t, body, tc.want...)
	}
}
