package cmd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mangrove-soc/mangrove/collectors/eventid"
)

// idKeyFile is the default event ID key, under the data directory.
const idKeyFile = "keys/event-id.key"

// loadIDKey returns the key of the collectors' event IDs (eventid.Key): the
// hex secret in path, or, when path is "" , in the data directory's
// keys/event-id.key, created on first start. A configured path must exist:
// the nodes of a cluster share one key, and a node that made its own would
// silently stop recognizing messages re-sent to it by another's senders.
func loadIDKey(dataDir, path string) (*eventid.Key, error) {
	create := path == ""
	if create {
		path = filepath.Join(dataDir, idKeyFile)
	}
	secret, err := readIDKey(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		secret, err = createIDKey(path)
	}
	if err != nil {
		return nil, err
	}
	return eventid.NewKey(secret)
}

func readIDKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("event ID key: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("event ID key %s has mode %v; it must not be readable by group or others (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("event ID key %s: %w", path, err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(secret) != eventid.KeySize {
		return nil, fmt.Errorf("event ID key %s: want %d random bytes in hex", path, eventid.KeySize)
	}
	return secret, nil
}

func createIDKey(path string) ([]byte, error) {
	secret := make([]byte, eventid.KeySize)
	rand.Read(secret)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating event ID key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readIDKey(path) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("creating event ID key: %w", err)
	}
	_, err = fmt.Fprintln(f, hex.EncodeToString(secret))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("writing event ID key: %w", err)
	}
	return secret, nil
}
