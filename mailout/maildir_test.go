package mailout

import (
	"context"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tikkit/tikkit/store"
)

func TestMaildirWritesReadableMail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbound", "Maildir")
	m, err := NewMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"one@tikkit.test", "two@tikkit.test"} {
		if err := m.Send(context.Background(), "help@tikkit.test", "jane@example.org", testMsg(id)); err != nil {
			t.Fatal(err)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("left in tmp: %v", tmp)
	}
	files, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil || len(files) != 2 || files[0].Name() == files[1].Name() {
		t.Fatalf("new = %v, %v; want two uniquely named files", files, err)
	}
	ids := map[string]bool{}
	for _, f := range files {
		if strings.ContainsAny(f.Name(), "/:") {
			t.Errorf("name %q has / or :", f.Name())
		}
		fh, err := os.Open(filepath.Join(dir, "new", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(fh)
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		body, _ := io.ReadAll(msg.Body)
		fh.Close()
		if msg.Header.Get("Return-Path") != "<help@tikkit.test>" || msg.Header.Get("Delivered-To") != "jane@example.org" ||
			msg.Header.Get("Subject") != "[REQ-1001] Leak" || string(body) != "We have your request.\n" {
			t.Errorf("%s: header %v body %q", f.Name(), msg.Header, body)
		}
		ids[msg.Header.Get("Message-Id")] = true
	}
	if !ids["<one@tikkit.test>"] || !ids["<two@tikkit.test>"] {
		t.Errorf("Message-IDs %v", ids)
	}
}

// TestWorkerToMaildir: with no relay the worker delivers into the maildir.
func TestWorkerToMaildir(t *testing.T) {
	s := openStore(t)
	m, err := NewMaildir(filepath.Join(t.TempDir(), "Maildir"))
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, "ack-2001@tikkit.test")
	startWorker(t, WorkerOptions{Store: s, Sender: m})
	waitFor(t, "sent", func() bool { return row(t, s, "ack-2001@tikkit.test").Status == store.OutboxSent })
	files, _ := os.ReadDir(filepath.Join(m.Dir(), "new"))
	if len(files) != 1 {
		t.Errorf("maildir holds %d messages, want 1", len(files))
	}
}
