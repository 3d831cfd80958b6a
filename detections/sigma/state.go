package sigma

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mangrove-soc/mangrove/detections"
)

// MaxStateBytes bounds one correlation's snapshot read by Restore.
const MaxStateBytes = 256 << 20

// ErrStateMismatch reports a snapshot of another rule, or of another
// version of the rule; Restore ignores it and starts empty.
var ErrStateMismatch = errors.New("sigma: snapshot is of another rule or version")

type snapDoc struct {
	Format    int         `json:"format"`
	ID        string      `json:"id"`
	Version   string      `json:"version"`
	Watermark int64       `json:"watermark,omitempty"`
	Groups    []snapGroup `json:"groups,omitempty"`
	Nested    []*snapDoc  `json:"nested,omitempty"` // by source index; nil for detection rules
}

type snapGroup struct {
	Key     string      `json:"key"`
	Vals    []string    `json:"vals"`
	Start   int64       `json:"start,omitempty"`
	Entries []snapEntry `json:"entries"`
}

type snapEntry struct {
	T      int64    `json:"t"`
	Src    int32    `json:"src,omitempty"`
	Num    *float64 `json:"num,omitempty"`
	Val    *string  `json:"val,omitempty"`
	ID     string   `json:"id,omitempty"`
	Tenant string   `json:"tenant,omitempty"`
}

// Snapshot writes the correlation's state (and that of the correlations
// nested in it) as JSON. It holds the correlation's lock while copying, not
// while writing.
func (c *Correlation) Snapshot(w io.Writer) error {
	if err := json.NewEncoder(w).Encode(c.snapshot()); err != nil {
		return fmt.Errorf("sigma: snapshot %s: %w", c.meta.ID, err)
	}
	return nil
}

func (c *Correlation) snapshot() *snapDoc {
	d := &snapDoc{Format: 1, ID: c.meta.ID, Version: c.meta.Version}
	for _, s := range c.srcs {
		if s.corr != nil {
			d.Nested = append(d.Nested, s.corr.snapshot())
		} else {
			d.Nested = append(d.Nested, nil)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d.Watermark = c.watermark
	// Oldest first, so that Restore rebuilds the eviction order.
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		g := el.Value.(*group)
		sg := snapGroup{Key: g.key, Vals: g.vals, Start: g.start, Entries: make([]snapEntry, len(g.entries))}
		for k, e := range g.entries {
			se := snapEntry{T: e.t, Src: e.src, ID: e.id, Tenant: e.tenant}
			if e.hasNum {
				se.Num = &e.num
			}
			if e.hasVal {
				se.Val = &e.val
			}
			sg.Entries[k] = se
		}
		d.Groups = append(d.Groups, sg)
	}
	return d
}

// Restore replaces the correlation's state with a snapshot. A snapshot of
// another rule ID or version yields ErrStateMismatch; a malformed one an
// error; in both cases the state is left empty. Groups beyond the bound and
// entries naming unknown rules are dropped.
func (c *Correlation) Restore(r io.Reader) error {
	var d snapDoc
	dec := json.NewDecoder(io.LimitReader(r, MaxStateBytes))
	if err := dec.Decode(&d); err != nil {
		c.reset()
		return fmt.Errorf("sigma: restore %s: %w", c.meta.ID, err)
	}
	return c.restore(&d)
}

func (c *Correlation) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.groups = map[string]*group{}
	c.lru.Init()
	c.watermark, c.wallAt = 0, time.Time{}
}

func (c *Correlation) restore(d *snapDoc) error {
	c.reset()
	if d.Format != 1 || d.ID != c.meta.ID || d.Version != c.meta.Version || (len(d.Nested) != 0 && len(d.Nested) != len(c.srcs)) {
		return fmt.Errorf("%w: %s", ErrStateMismatch, c.meta.ID)
	}
	for i, nd := range d.Nested {
		if s := c.srcs[i]; s.corr != nil && nd != nil {
			if err := s.corr.restore(nd); err != nil {
				return err
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watermark = d.Watermark
	if d.Watermark != 0 {
		c.wallAt = c.now()
	}
	for _, sg := range d.Groups {
		if _, dup := c.groups[sg.Key]; dup || len(sg.Vals) != len(c.spec.groupBy) {
			continue
		}
		if len(c.groups) >= c.maxGroups {
			c.remove(c.lru.Back().Value.(*group))
			c.stats.Evicted++
		}
		g := &group{key: sg.Key, vals: sg.Vals, start: sg.Start}
		c.insertGroup(g)
		for _, se := range sg.Entries {
			if se.Src < 0 || int(se.Src) >= len(c.srcs) {
				continue
			}
			e := entry{t: se.T, src: se.Src, id: se.ID, tenant: se.Tenant}
			if se.Num != nil {
				e.hasNum, e.num = true, *se.Num
			}
			if se.Val != nil {
				e.hasVal, e.val = true, *se.Val
			}
			c.add(g, e, int64(c.spec.span))
		}
	}
	return nil
}

// stateFile names the snapshot file of a rule in dir.
func stateFile(dir, id string) string {
	return filepath.Join(dir, "sigma-"+hashHex(id)+".json")
}

// SaveState writes the snapshot of every rule that implements
// detections.Stateful to dir (created when missing), one file per rule,
// each replaced atomically. The process that runs the rules calls it
// periodically (every minute, say) and when it stops or swaps the rule set;
// what happened since the last save is lost on a crash. It returns every
// problem at once.
func SaveState(dir string, rules []detections.Rule) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sigma: state directory: %w", err)
	}
	var errs []error
	for _, r := range rules {
		st, ok := r.(detections.Stateful)
		if !ok {
			continue
		}
		name := stateFile(dir, r.Meta().ID)
		if err := writeAtomic(name, st.Snapshot); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func writeAtomic(name string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".state-*")
	if err != nil {
		return fmt.Errorf("sigma: save state: %w", err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sigma: save state: %w", err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("sigma: save state: %w", err)
	}
	return nil
}

// RestoreState restores every detections.Stateful rule from its file in
// dir, as written by SaveState; call it after loading the rules and before
// evaluating events. A missing file, or the snapshot of another version of
// the rule (ErrStateMismatch), leaves the rule empty and is not an error:
// the rule starts afresh. Other problems are returned all at once.
func RestoreState(dir string, rules []detections.Rule) error {
	var errs []error
	for _, r := range rules {
		st, ok := r.(detections.Stateful)
		if !ok {
			continue
		}
		f, err := os.Open(stateFile(dir, r.Meta().ID))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sigma: restore state: %w", err))
			continue
		}
		err = st.Restore(f)
		f.Close()
		if err != nil && !errors.Is(err, ErrStateMismatch) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
