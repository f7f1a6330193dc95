package web

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tikkit/tikkit/store"
)

// reqFixture is a store with two requests and the keys the test signer knows.
type reqFixture struct {
	st   *store.Store
	keys map[string]int64 // "number/key" → person id
	sha  map[string]string
	data map[string][]byte
}

func (f *reqFixture) verify(number int64, key string) (int64, bool) {
	id, ok := f.keys[strconv.FormatInt(number, 10)+"/"+key]
	return id, ok
}

func newReqFixture(t *testing.T) *reqFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &reqFixture{st: st, keys: map[string]int64{}, sha: map[string]string{}, data: map[string][]byte{
		"photo":  []byte("\x89PNG\r\n\x1a\n fake png bytes"),
		"report": []byte("<html><script>alert(1)</script></html>"),
		"secret": []byte("%PDF internal only"),
		"auto":   []byte("auto reply attachment"),
		"other":  []byte("belongs to the other request"),
	}}
	for name, b := range f.data {
		sha, _, stored, err := st.Blobs.Put(bytes.NewReader(b), -1)
		if err != nil || !stored {
			t.Fatalf("blob %s: %v %v", name, stored, err)
		}
		f.sha[name] = sha
	}
	nid := func(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: true} }
	at := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	err = st.Update(ctx, func(tx *store.Tx) error {
		person := func(email, name, kind, status string) store.Person {
			p, err := tx.InsertPerson(ctx, store.Person{Email: email, Name: name, Kind: kind, Status: status, CreatedVia: "email"})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		jane := person("jane@example.org", "Jane Doe", "occupant", "active")
		fred := person("fred@example.org", "Fred Cc", "occupant", "active")
		bob := person("bob@example.org", "Bob Blocked", "occupant", "blocked")
		olga := person("olga@example.org", "Olga Other", "occupant", "active")
		stan := person("stan@facilities.example", "", "staff", "active")

		r1, err := tx.InsertRequest(ctx, store.Request{Subject: "Leak under the sink (from jane@example.org)", NormSubject: "leak", RequesterID: jane.ID, CreatorID: jane.ID}, 1001)
		if err != nil {
			return err
		}
		r2, err := tx.InsertRequest(ctx, store.Request{Subject: "Broken window", NormSubject: "broken window", RequesterID: olga.ID, CreatorID: olga.ID}, 1001)
		if err != nil {
			return err
		}
		for _, fl := range []struct {
			r, p   int64
			reason string
		}{{r1.ID, jane.ID, "requester"}, {r1.ID, fred.ID, "cc"}, {r1.ID, bob.ID, "cc"}, {r2.ID, olga.ID, "requester"}} {
			if _, err := tx.AddFollower(ctx, fl.r, fl.p, fl.reason); err != nil {
				return err
			}
		}
		loc, err := tx.AddLocation(ctx, "Tower A/Floor 2/Suite 201", false, nil)
		if err != nil {
			return err
		}
		if err := tx.SetRequestLocation(ctx, r1.ID, nid(loc.ID)); err != nil {
			return err
		}
		if err := tx.SetRequestPriority(ctx, r1.ID, "high"); err != nil {
			return err
		}
		for _, l := range []string{"plumbing", "kitchen"} {
			if err := tx.AddLabel(ctx, r1.ID, l); err != nil {
				return err
			}
		}
		n := 0
		msg := func(r int64, author store.Person, fromName, text, outcome string, internal, auto bool, atts ...store.Attachment) {
			n++
			id, err := tx.InsertMessage(ctx, store.Message{
				MessageID: fmt.Sprintf("m%d@example.org", n), RequestID: nid(r), AuthorID: nid(author.ID),
				FromEmail: author.Email, FromName: fromName, Subject: "Leak", BodyText: text + "\n\n> quoted old@example.org",
				VisibleText: text, Internal: internal, Auto: auto, Outcome: outcome,
				ReceivedAt: at.Add(time.Duration(n) * time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range atts {
				a.MessageID = id
				if _, err := tx.InsertAttachment(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
		}
		msg(r1.ID, jane, "Jane Doe", "Water is dripping <b>everywhere</b>.\n  Call me: jane@example.org", "created", false, false,
			store.Attachment{Name: "photo.png", ContentType: "image/png", Size: int64(len(f.data["photo"])), SHA256: f.sha["photo"], Stored: true},
			store.Attachment{Name: "../rapport é (final).html", ContentType: "text/html; charset=utf-8", Size: int64(len(f.data["report"])), SHA256: f.sha["report"], Stored: true},
			store.Attachment{Name: "video.mov", ContentType: "video/quicktime", Size: 3 << 20, SHA256: strings.Repeat("ab", 32), Stored: false})
		msg(r1.ID, stan, "", "INTERNAL NOTE: tenant owes rent", "appended", true, false,
			store.Attachment{Name: "secret.pdf", ContentType: "application/pdf", Size: int64(len(f.data["secret"])), SHA256: f.sha["secret"], Stored: true})
		msg(r1.ID, fred, "Fred Cc", "AUTOREPLY: I am out of the office", "appended", false, true,
			store.Attachment{Name: "auto.txt", ContentType: "text/plain", Size: int64(len(f.data["auto"])), SHA256: f.sha["auto"], Stored: true})
		msg(r1.ID, fred, "Fred Cc", "DUPLICATE TEXT", "duplicate", false, false)
		msg(r1.ID, stan, "stan@facilities.example", "We will come on Tuesday.", "appended", false, false)
		msg(r2.ID, olga, "Olga Other", "OTHER REQUEST TEXT", "created", false, false,
			store.Attachment{Name: "other.txt", ContentType: "text/plain", Size: int64(len(f.data["other"])), SHA256: f.sha["other"], Stored: true})

		f.keys["1001/k-jane"] = jane.ID
		f.keys["1001/k-fred"] = fred.ID
		f.keys["1001/k-stan"] = stan.ID
		f.keys["1001/k-bob"] = bob.ID   // blocked follower
		f.keys["1001/k-olga"] = olga.ID // signed once, but Olga does not follow 1001 (revoked)
		f.keys["1002/k-olga"] = olga.ID
		f.keys["9999/k-ghost"] = jane.ID // a valid signature for a request that does not exist
		f.keys["1001/k-nobody"] = 424242 // a person who does not exist
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func newReqHandler(t *testing.T, f *reqFixture) *handler {
	h, _ := newTestHandler(t, Config{Store: f.st, VerifyKey: f.verify, TagPrefix: "REQ-"})
	return h
}

func doReq(t *testing.T, h http.Handler, method, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func checkPageHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Cache-Control":           "private, no-store",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

func TestRequestPage(t *testing.T) {
	f := newReqFixture(t)
	h := newReqHandler(t, f)
	res, b := doReq(t, h, http.MethodGet, "/r/1001/k-jane")
	body := string(b)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", res.StatusCode, body)
	}
	checkPageHeaders(t, "page", res.Header)
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	wantContains(t, body,
		`<title>[REQ-1001] Leak under the sink (from [address hidden])</title>`,
		`<span class="tag">[REQ-1001]</span> Leak under the sink`,
		`<span class="badge open">Open</span>`,
		"Tower A/Floor 2/Suite 201", "<dd>high</dd>",
		`<span class="label">kitchen</span><span class="label">plumbing</span>`,
		`<meta name="robots" content="noindex">`,
		"<b>Jane Doe</b>", "2026-05-04 10:00 UTC",
		"Water is dripping &lt;b&gt;everywhere&lt;/b&gt;.\n  Call me: [address hidden]",
		`<a href="./k-jane/att/`+f.sha["photo"]+`">photo.png</a>`,
		`<img src="./k-jane/att/`+f.sha["photo"]+`"`,
		`rapport é (final).html</a>`, "video.mov", "3.0 MB · not kept",
		"<b>Facilities team</b> <span class=\"badge staff\">staff</span>", "We will come on Tuesday.",
	)
	for _, bad := range []string{"INTERNAL NOTE", "secret.pdf", f.sha["secret"], "AUTOREPLY", "auto.txt", "DUPLICATE",
		"OTHER REQUEST", "quoted", "<script", "Fred Cc", "Bob", "Olga", "example.org", "facilities.example", "@"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if strings.Count(body, "<article") != 2 {
		t.Errorf("want 2 public messages, got %d", strings.Count(body, "<article"))
	}
	if i, j := strings.Index(body, "Water is dripping"), strings.Index(body, "We will come"); i < 0 || j < i {
		t.Error("messages out of order")
	}
	if strings.Contains(body, "<img src=\"./k-jane/att/"+f.sha["report"]) {
		t.Error("non-image shown inline")
	}

	// HEAD: same status and headers, no body.
	hres, hb := doReq(t, h, http.MethodHead, "/r/1001/k-jane")
	if hres.StatusCode != 200 || len(hb) != 0 || hres.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q (GET %d)", hres.StatusCode, len(hb), hres.Header.Get("Content-Length"), len(b))
	}
	checkPageHeaders(t, "HEAD", hres.Header)

	// Followers and staff see it too; a closed request says so.
	for _, p := range []string{"/r/1001/k-fred", "/r/1001/k-stan"} {
		if res, _ := doReq(t, h, http.MethodGet, p); res.StatusCode != 200 {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	r1, _ := f.st.RequestByNumber(context.Background(), 1001)
	if err := f.st.SetRequestState(context.Background(), r1.ID, "closed"); err != nil {
		t.Fatal(err)
	}
	_, b = doReq(t, h, http.MethodGet, "/r/1001/k-jane")
	wantContains(t, string(b), `<span class="badge closed">Closed</span>`)
}

func TestRequestNotFoundIsUniform(t *testing.T) {
	f := newReqFixture(t)
	h := newReqHandler(t, f)
	ref, refBody := doReq(t, h, http.MethodGet, "/r/1001/wrong-key")
	if ref.StatusCode != http.StatusNotFound {
		t.Fatalf("wrong key: %d", ref.StatusCode)
	}
	checkPageHeaders(t, "404", ref.Header)
	if strings.Contains(string(refBody), "1001") || strings.Contains(string(refBody), "@") {
		t.Errorf("404 body mentions the request or an address:\n%s", refBody)
	}
	att := "/r/1001/k-jane/att/"
	paths := []string{
		"/r/1001/k-olga",    // another request's key / revoked follower
		"/r/1002/k-jane",    // Jane's key does not open Olga's request
		"/r/1001/k-bob",     // blocked follower
		"/r/1001/k-nobody",  // person gone
		"/r/9999/k-ghost",   // request does not exist, signature valid
		"/r/9999/wrong-key", // request does not exist
		"/r/abc/k-jane",     // non-numeric
		"/r/01001/k-jane",   // non-canonical number
		"/r/-1001/k-jane",   // negative
		"/r/0/k-jane",       // zero
		"/r/99999999999999999999/k-jane",
		"/r/1001/",
		"/r/1001",
		"/r/",
		"/r/1001/k-jane/",
		"/r/1001/k-jane/extra",
		"/r/1001/k-jane/att/",
		"/r/1001/k-jane/att",
		att + f.sha["secret"],                 // internal note's attachment
		att + f.sha["auto"],                   // auto-reply's attachment
		att + f.sha["other"],                  // another request's attachment
		att + strings.Repeat("ab", 32),        // listed but not stored
		att + strings.Repeat("0", 64),         // unknown
		att + strings.ToUpper(f.sha["photo"]), // not canonical
		att + f.sha["photo"] + "/x",
		"/r/1002/k-olga/att/" + f.sha["photo"],    // public, but of another request
		"/r/1001/wrong-key/att/" + f.sha["photo"], // good file, bad key
		att + "../../../../etc/passwd",
		att + "..%2F..%2F..%2Ftikkit.db",
		att + "%2e%2e/%2e%2e/tikkit.db",
		"/r/1001/k-jane/att/../../1002/k-olga",
		"/r/1001/..%2F1002/k-olga",
		"/r/1001/%2e%2e",
		"/r/1001/k%00jane",
		"/r/1001/k-jane%0A",
		"/r/1001/" + strings.Repeat("k", 600),
	}
	for _, p := range paths {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			res, body := doReq(t, h, m, p)
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: status %d", m, p, res.StatusCode)
				continue
			}
			if !reflect.DeepEqual(res.Header, ref.Header) {
				t.Errorf("%s %s: headers differ:\n%v\nwant\n%v", m, p, res.Header, ref.Header)
			}
			want := refBody
			if m == http.MethodHead {
				want = nil
			}
			if !bytes.Equal(body, want) {
				t.Errorf("%s %s: body differs", m, p)
			}
		}
	}

	// Pages off: nothing under /r/ is served.
	off, _ := newTestHandler(t, Config{Store: f.st})
	if res, _ := doReq(t, off, http.MethodGet, "/r/1001/k-jane"); res.StatusCode != http.StatusNotFound {
		t.Errorf("pages off: %d", res.StatusCode)
	}
	// Other methods are refused without looking anything up.
	if res, _ := doReq(t, h, http.MethodPost, "/r/1001/k-jane"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", res.StatusCode)
	}
}

func TestRequestAttachmentDownload(t *testing.T) {
	f := newReqFixture(t)
	h := newReqHandler(t, f)

	// An image is served as itself, inline.
	res, b := doReq(t, h, http.MethodGet, "/r/1001/k-jane/att/"+f.sha["photo"])
	if res.StatusCode != 200 || !bytes.Equal(b, f.data["photo"]) {
		t.Fatalf("photo: %d %q", res.StatusCode, b)
	}
	checkPageHeaders(t, "photo", res.Header)
	if ct := res.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("photo Content-Type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != "inline; filename*=UTF-8''photo.png" {
		t.Errorf("photo Content-Disposition %q", cd)
	}
	if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(f.data["photo"])) {
		t.Errorf("photo Content-Length %q", cl)
	}

	// Anything else downloads as octet-stream, whatever it claims to be.
	res, b = doReq(t, h, http.MethodGet, "/r/1001/k-fred/att/"+f.sha["report"])
	if res.StatusCode != 200 || !bytes.Equal(b, f.data["report"]) {
		t.Fatalf("report: %d %q", res.StatusCode, b)
	}
	checkPageHeaders(t, "report", res.Header)
	if ct := res.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("report Content-Type %q", ct)
	}
	if cd, want := res.Header.Get("Content-Disposition"), "attachment; filename*=UTF-8''rapport%20%C3%A9%20%28final%29.html"; cd != want {
		t.Errorf("report Content-Disposition %q, want %q", cd, want)
	}

	// HEAD: headers, no body.
	res, b = doReq(t, h, http.MethodHead, "/r/1001/k-jane/att/"+f.sha["report"])
	if res.StatusCode != 200 || len(b) != 0 || res.Header.Get("Content-Length") != strconv.Itoa(len(f.data["report"])) ||
		res.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("HEAD: %d, %d bytes, %v", res.StatusCode, len(b), res.Header)
	}

	// Ranges (resumed downloads on a phone).
	res, b = doReq(t, h, http.MethodGet, "/r/1001/k-jane/att/"+f.sha["report"], "Range", "bytes=0-5")
	if res.StatusCode != http.StatusPartialContent || string(b) != string(f.data["report"][:6]) {
		t.Errorf("range: %d %q", res.StatusCode, b)
	}
}

func TestRedactAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"mail <a.b+c@example.org>, or x@y": "mail <[address hidden]>, or [address hidden]",
		"meet @ 3pm":                       "meet @ 3pm",
		"no address":                       "no address",
		"(jürgen@bücher.de)":               "([address hidden])",
	} {
		if got := redactAddresses(in); got != want {
			t.Errorf("redactAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KB", 15 << 10: "15 KB", 3 << 20: "3.0 MB", 5 << 30: "5.0 GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
