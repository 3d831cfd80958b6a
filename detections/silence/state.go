package silence

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// MaxStateBytes bounds the snapshot Restore reads.
const MaxStateBytes = 64 << 20

// stateFormat is the layout version of a snapshot.
const stateFormat = 1

// ErrStateMismatch reports a snapshot of another rule, rule version or
// snapshot format; Restore then starts empty.
var ErrStateMismatch = errors.New("silence: snapshot is of another rule, version or format")

// snapDoc is the snapshot: every watched source, most recently heard first.
type snapDoc struct {
	Format  int          `json:"format"`
	ID      string       `json:"id"`
	Version string       `json:"version"`
	Saved   int64        `json:"saved"` // Unix nanoseconds
	Sources []snapSource `json:"sources"`
}

type snapSource struct {
	Tenant    string `json:"tenant"`
	Collector string `json:"collector"`
	Host      string `json:"host"`
	Last      int64  `json:"last"` // Unix nanoseconds
	Alerted   bool   `json:"alerted,omitempty"`
}

// Snapshot writes the last-seen time and alert state of every watched
// source as JSON (detections.Stateful). It holds the rule's read lock while
// copying, not while writing.
func (r *Rule) Snapshot(w io.Writer) error {
	d := snapDoc{Format: stateFormat, ID: RuleID, Version: r.Meta().Version, Saved: r.now().UnixNano()}
	r.mu.RLock()
	d.Sources = make([]snapSource, 0, len(r.srcs))
	for k, s := range r.srcs {
		d.Sources = append(d.Sources, snapSource{Tenant: k.tenant, Collector: k.collector, Host: k.host,
			Last: s.last.Load(), Alerted: s.alerted.Load()})
	}
	r.mu.RUnlock()
	slices.SortFunc(d.Sources, func(a, b snapSource) int {
		return cmp.Or(cmp.Compare(b.Last, a.Last), cmp.Compare(a.Tenant, b.Tenant),
			cmp.Compare(a.Collector, b.Collector), cmp.Compare(a.Host, b.Host))
	})
	if err := json.NewEncoder(w).Encode(&d); err != nil {
		return fmt.Errorf("silence: writing snapshot: %w", err)
	}
	return nil
}

// Restore replaces the watched sources with those of a snapshot written by
// Snapshot (detections.Stateful), so that a restart neither forgets a
// source that stopped sending before it nor alerts again for a silence
// already reported. The current configuration applies: sources its
// collector and host patterns no longer watch are dropped, intervals come
// from it, and at most MaxSources are kept, the most recently heard.
//
// Sources not yet reported are not reported before the restart grace
// (RestartGrace, at most the time since the snapshot was written) has
// passed, giving senders time to reconnect and backlogs to arrive.
//
// A snapshot of another rule, version or format yields ErrStateMismatch; a
// malformed one an error; in both cases the rule starts empty. Restore may
// run while Eval and Tick do.
func (r *Rule) Restore(rd io.Reader) error {
	var d snapDoc
	err := json.NewDecoder(io.LimitReader(rd, MaxStateBytes)).Decode(&d)
	switch {
	case err != nil:
		err = fmt.Errorf("silence: reading snapshot: %w", err)
	case d.Format != stateFormat || d.ID != RuleID || d.Version != r.Meta().Version:
		err = fmt.Errorf("%w: format %d, rule %q version %q", ErrStateMismatch, d.Format, d.ID, d.Version)
	}
	if err != nil {
		r.mu.Lock()
		r.srcs = map[key]*state{}
		r.mu.Unlock()
		return err
	}
	now := r.now()
	down := max(0, now.Sub(time.Unix(0, d.Saved)))
	notBefore := now.Add(min(r.cfg.RestartGrace, down)).UnixNano()
	// Most recently heard first, so that the bound keeps those.
	slices.SortStableFunc(d.Sources, func(a, b snapSource) int { return cmp.Compare(b.Last, a.Last) })
	srcs := make(map[key]*state, min(len(d.Sources), r.cfg.MaxSources))
	for _, ss := range d.Sources {
		if len(srcs) >= r.cfg.MaxSources {
			break
		}
		k := key{tenant: ss.Tenant, collector: ss.Collector, host: ss.Host}
		if _, dup := srcs[k]; dup || ss.Last <= 0 || !r.watched(k) {
			continue
		}
		s := &state{interval: r.intervalFor(k), notBefore: notBefore}
		s.last.Store(min(ss.Last, now.UnixNano()))
		s.alerted.Store(ss.Alerted)
		srcs[k] = s
	}
	r.mu.Lock()
	r.srcs = srcs
	r.mu.Unlock()
	return nil
}
