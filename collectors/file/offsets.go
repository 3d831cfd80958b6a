package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// offsetsFile is the name of the state file in the collector's directory.
const offsetsFile = "offsets.json"

// maxOffsetsBytes bounds the state file read at start-up.
const maxOffsetsBytes = 64 << 20

// saved is the committed state of one file, keyed by its identity.
type saved struct {
	// Path is where the file was last seen (informational).
	Path string `json:"path"`
	// Offset is the first byte not yet acknowledged (in the decompressed
	// stream for gzip files).
	Offset int64 `json:"offset"`
	// Gen counts truncations and identity reuse; it is part of event IDs so
	// that new content at an old offset gets new IDs.
	Gen int `json:"gen"`
	// FP is a hash of the file's first FPLen bytes, to recognize a reused
	// inode.
	FP    string `json:"fp,omitempty"`
	FPLen int    `json:"fp_len,omitempty"`
	// Done is set for a gzip file read to the end and acknowledged.
	Done bool `json:"done,omitempty"`
}

// offsets is the whole state file.
type offsets struct {
	Version int              `json:"version"`
	Files   map[string]saved `json:"files"`
}

// loadOffsets reads dir/offsets.json; a missing file is an empty state.
func loadOffsets(dir string) (map[string]saved, error) {
	p := filepath.Join(dir, offsetsFile)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]saved{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading offsets: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading offsets: %w", err)
	}
	if st.Size() > maxOffsetsBytes {
		return nil, fmt.Errorf("reading offsets: %s is %d bytes, limit %d", p, st.Size(), maxOffsetsBytes)
	}
	var o offsets
	if err := json.NewDecoder(f).Decode(&o); err != nil {
		return nil, fmt.Errorf("reading offsets %s: %w", p, err)
	}
	if o.Version != 1 {
		return nil, fmt.Errorf("reading offsets %s: unknown version %d", p, o.Version)
	}
	if o.Files == nil {
		o.Files = map[string]saved{}
	}
	return o.Files, nil
}

// saveOffsets writes the state atomically: a temporary file in dir, fsync,
// rename over offsets.json, fsync of the directory.
func saveOffsets(dir string, files map[string]saved) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("saving offsets: %w", err)
	}
	b, err := json.Marshal(offsets{Version: 1, Files: files})
	if err != nil {
		return fmt.Errorf("saving offsets: %w", err)
	}
	tmp, err := os.CreateTemp(dir, offsetsFile+".tmp*")
	if err != nil {
		return fmt.Errorf("saving offsets: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("saving offsets: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving offsets: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving offsets: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, offsetsFile)); err != nil {
		return fmt.Errorf("saving offsets: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("saving offsets: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("saving offsets: syncing %s: %w", dir, err)
	}
	return nil
}
