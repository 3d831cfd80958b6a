// Package file is the `file` collector: it tails files matched by glob
// patterns, follows rotation (rename + create, and copytruncate), reads
// gzip-compressed files once, parses each line with a collectors/parse
// parser, and remembers how far it got in
// <DataDir>/collectors/<name>/offsets.json. An offset is committed only once
// the batch holding the lines before it is acknowledged by the bus
// (Batch.Done(nil)), in order, so a crash or restart re-reads at most the
// unacknowledged lines (at-least-once) and gives them the same event IDs.
package file

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/parse"
)

// Type is the `file` collector type for collectors.Registry.
var Type = collectors.Type{Name: "file", New: func() collectors.Spec { return NewSpec() }}

// Spec is one `type: file` entry of the configuration.
type Spec struct {
	// Paths are glob patterns (filepath.Match syntax) of the files to read.
	Paths []string `yaml:"paths"`
	// Exclude are glob patterns matched against the base name of a file;
	// matching files are not read.
	Exclude []string `yaml:"exclude"`
	// Parser names the collectors/parse parser for every line; "auto"
	// (default) detects each line's format, passing unknown text through.
	Parser string `yaml:"parser"`
	// Tenant is the agency the events belong to (required).
	Tenant string `yaml:"tenant"`
	// Dataset is the events' event.dataset; default "file".
	Dataset string `yaml:"dataset"`
	// PollInterval is how often the globs are expanded and idle files
	// checked for new data; default 250ms.
	PollInterval time.Duration `yaml:"poll_interval"`
	// BatchSize is the most lines in one batch; default 512.
	BatchSize int `yaml:"batch_size"`
	// MaxInFlight is the most batches published and not yet acknowledged;
	// reading waits beyond it. Default 8.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxLineBytes bounds one line; the rest of a longer line is dropped
	// (counted) and the event is tagged "truncated". Default 64 KiB.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// CommitInterval is how often acknowledged offsets are written to disk;
	// default 1s. They are also written on shutdown.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// CloseInactive closes a file that has not grown for this long and no
	// longer matches the globs (rotated away or deleted); default 5m.
	CloseInactive time.Duration `yaml:"close_inactive"`
	// StartAt is where a file without a saved offset that the collector
	// finds when it starts is read from: StartBeginning (default: all of
	// it) or StartEnd (tail -f: only what is written from now on; a last
	// line still being written is read whole). Files that appear later
	// (rotated in, created) are always read from their beginning, and a
	// saved offset always wins.
	StartAt string `yaml:"start_at"`
}

// StartAt values.
const (
	StartBeginning = "beginning"
	StartEnd       = "end"
)

// NewSpec returns a Spec with its defaults.
func NewSpec() *Spec {
	return &Spec{
		Parser: parse.Auto, Dataset: "file", PollInterval: 250 * time.Millisecond,
		BatchSize: 512, MaxInFlight: 8, MaxLineBytes: 64 << 10,
		CommitInterval: time.Second, CloseInactive: 5 * time.Minute,
		StartAt: StartBeginning,
	}
}

// Validate reports every problem at once, each with its key.
func (s *Spec) Validate() error {
	var errs []error
	if len(s.Paths) == 0 {
		errs = append(errs, errors.New("paths: at least one glob is required"))
	}
	for i, p := range s.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("paths[%d]: %q: %w", i, p, err))
		} else if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("paths[%d]: %q must be absolute", i, p))
		}
	}
	for i, p := range s.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("exclude[%d]: %q: %w", i, p, err))
		}
	}
	if !parse.Known(s.Parser) {
		errs = append(errs, fmt.Errorf("parser: %q is not auto or one of %v", s.Parser, parse.Names()))
	}
	if s.Tenant == "" {
		errs = append(errs, errors.New("tenant: required"))
	}
	if s.Dataset == "" {
		errs = append(errs, errors.New("dataset: must not be empty"))
	}
	if s.PollInterval < 10*time.Millisecond {
		errs = append(errs, errors.New("poll_interval: must be at least 10ms"))
	}
	if s.BatchSize < 1 || s.BatchSize > 100000 {
		errs = append(errs, errors.New("batch_size: must be between 1 and 100000"))
	}
	if s.MaxInFlight < 1 || s.MaxInFlight > 1024 {
		errs = append(errs, errors.New("max_in_flight: must be between 1 and 1024"))
	}
	if s.MaxLineBytes < 256 || s.MaxLineBytes > 16<<20 {
		errs = append(errs, errors.New("max_line_bytes: must be between 256 and 16777216"))
	}
	if s.CommitInterval < 10*time.Millisecond {
		errs = append(errs, errors.New("commit_interval: must be at least 10ms"))
	}
	if s.StartAt != StartBeginning && s.StartAt != StartEnd {
		errs = append(errs, fmt.Errorf("start_at: %q is not %s or %s", s.StartAt, StartBeginning, StartEnd))
	}
	if s.CloseInactive < time.Second {
		errs = append(errs, errors.New("close_inactive: must be at least 1s"))
	}
	return errors.Join(errs...)
}

// Build returns the collector; its state lives in
// env.DataDir/collectors/<name>.
func (s *Spec) Build(name string, env collectors.Env) (collectors.Collector, error) {
	if env.DataDir == "" {
		return nil, errors.New("file collector: the process has no data directory")
	}
	m, err := collectors.NewMetrics(env.Registerer, Type.Name, name)
	if err != nil {
		return nil, fmt.Errorf("registering metrics of collector %s: %w", name, err)
	}
	lagBytes, err := lagBytesGauge(env.Registerer)
	if err != nil {
		return nil, fmt.Errorf("registering metrics of collector %s: %w", name, err)
	}
	return &Collector{
		spec:     *s,
		name:     name,
		dir:      filepath.Join(env.DataDir, "collectors", name),
		log:      env.Logger.With().Str("component", "collectors.file").Str("collector", name).Logger(),
		metrics:  m,
		lagBytes: lagBytes.WithLabelValues(name),

		drainTimeout: drainTimeout,
	}, nil
}
