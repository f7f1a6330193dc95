package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSecretKey(t *testing.T) {
	dir := t.TempDir()
	a, err := SecretKey(dir)
	if err != nil || len(a) != 32 {
		t.Fatalf("first: %x %v", a, err)
	}
	b, err := SecretKey(dir)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second call made another key: %v", err)
	}
	fi, _ := os.Stat(filepath.Join(dir, SecretKeyFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	os.WriteFile(filepath.Join(dir, SecretKeyFile), []byte("short"), 0o600)
	if _, err := SecretKey(dir); err == nil {
		t.Error("a short key was accepted")
	}
}
