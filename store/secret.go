package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretKeyFile is the name of the signing key in the data directory: it
// signs reply tokens and status page keys. Deleting it revokes them all.
const SecretKeyFile = "secret.key"

// SecretKey returns the data directory's signing key, creating a random
// 32-byte one (mode 0600) on first use.
func SecretKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, SecretKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("store: %s is shorter than 32 bytes; delete it to make a new one (links in mail sent so far stop working)", path)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: secret key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: secret key: %w", err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("store: secret key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return SecretKey(dataDir) // made by another process just now
	} else if err != nil {
		return nil, fmt.Errorf("store: secret key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: secret key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: secret key: %w", err)
	}
	return b, f.Close()
}
