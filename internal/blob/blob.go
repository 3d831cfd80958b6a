// Package blob stores files by the SHA-256 of their content (evidence
// attached to incidents): a file is written to a temporary name, synced, and
// renamed to its hash, so a crash never leaves a partial file under a valid
// name and the same content is stored once.
package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrTooLarge is returned when content exceeds the store's limit.
var ErrTooLarge = errors.New("content exceeds the size limit")

// ErrNotFound is returned for an unknown hash.
var ErrNotFound = errors.New("no such blob")

// Store is a directory of content-addressed files. It is safe for concurrent
// use (by several processes too: writes are atomic renames).
type Store struct {
	dir     string
	maxSize int64
}

// Open returns the store in dir (created if needed); maxSize caps one file.
func Open(dir string, maxSize int64) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	return &Store{dir: dir, maxSize: maxSize}, nil
}

// Put stores r's content and returns its SHA-256 (hex) and size. Content
// larger than the limit is refused with ErrTooLarge and nothing is kept.
func (s *Store) Put(r io.Reader) (sum string, size int64, err error) {
	tmp, err := os.CreateTemp(s.dir, ".upload-*")
	if err != nil {
		return "", 0, fmt.Errorf("storing blob: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, s.maxSize+1))
	if err != nil {
		return "", 0, fmt.Errorf("storing blob: %w", err)
	}
	if size > s.maxSize {
		return "", 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, s.maxSize)
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("storing blob: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("storing blob: %w", err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	dst := s.path(sum)
	if err = os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", 0, fmt.Errorf("storing blob: %w", err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("storing blob: %w", err)
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return sum, size, nil
}

// Open returns the content stored under sum, checking that sum is a SHA-256
// in hex (no path tricks).
func (s *Store) Open(sum string) (*os.File, error) {
	if len(sum) != 64 {
		return nil, ErrNotFound
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return nil, ErrNotFound
	}
	f, err := os.Open(s.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

func (s *Store) path(sum string) string { return filepath.Join(s.dir, sum[:2], sum) }
