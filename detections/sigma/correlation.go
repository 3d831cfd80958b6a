package sigma

import (
	"container/list"
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

// Correlation state limits.
const (
	// DefaultMaxGroups bounds the groups one correlation keeps; the group
	// updated least recently is evicted first (CorrelationStats.Evicted).
	DefaultMaxGroups = 100_000
	// MaxGroupEntries bounds the events one group remembers; the oldest is
	// dropped first (CorrelationStats.Dropped).
	MaxGroupEntries = 10_000
	// MaxFindingEvents bounds the events a correlation finding lists.
	MaxFindingEvents = 64
)

// CorrelationStats are a correlation's counters since it was built.
type CorrelationStats struct {
	Groups  int    // groups held now
	Evicted uint64 // groups evicted at the MaxGroups bound
	Dropped uint64 // entries dropped at the MaxGroupEntries bound
	Late    uint64 // events older than their group's window, ignored
}

// source is one rule a correlation refers to: a detection rule or a nested
// correlation, with the event fields its group-by and value fields read.
type source struct {
	rule    *Rule
	corr    *Correlation
	groupBy [][]string // per group-by field: candidate event fields
	gbName  []string   // per group-by field: the name in a nested finding's GroupBy
	value   []string   // candidates of the condition field
	valName string
}

// entry is one remembered event of a group.
type entry struct {
	t      int64 // unix nanoseconds, event time
	src    int32
	hasNum bool
	hasVal bool
	num    float64
	val    string
	id     string
	tenant string
}

type group struct {
	key     string
	vals    []string
	elem    *list.Element
	start   int64 // tumbling windows: first event time; 0 when sliding
	entries []entry
	// running aggregates over entries
	distinct map[string]int
	sum      float64
	nNum     int
	bySrc    []int
	last     *event.Event // tumbling windows: copy of the newest event
}

// Correlation is a compiled Sigma correlation rule. It implements
// detections.Rule, detections.Ticker and detections.Stateful, and is safe
// for concurrent use.
//
// Windows run on event time: an event belongs to a group's window when its
// time is within the timespan of the group's newest event, both ends
// inclusive. A condition that only bounds from below (gt, gte; temporal
// types) fires as soon as it holds, with the window's events, and the group
// starts afresh. Any other condition (lt, lte, eq, neq) is judged when the
// group's window closes: the window starts at the group's first event and
// closes at start+timespan, which a later event of the group or Tick
// notices. Tick estimates event time as the newest event time seen plus the
// wall time elapsed since it was seen, so windows close while events pause.
// value_percentile judges each event as it arrives: the percentile rank (in
// percent) of its value among the group's window — for a number, the share
// of values not above it; for text, the share of equal values — and keeps
// the group.
type Correlation struct {
	spec      *corrSpec
	meta      detections.Meta
	srcs      []source
	maxGroups int
	sliding   bool
	now       func() time.Time

	mu        sync.Mutex
	groups    map[string]*group
	lru       list.List // front: updated most recently
	watermark int64
	wallAt    time.Time
	stats     CorrelationStats
}

func newCorrelation(spec *corrSpec, meta detections.Meta, srcs []source) *Correlation {
	c := &Correlation{spec: spec, meta: meta, srcs: srcs, maxGroups: DefaultMaxGroups, now: time.Now, groups: map[string]*group{}}
	switch spec.typ {
	case ctTemporal, ctTemporalOrdered, ctValuePercentile:
		c.sliding = true
	default:
		c.sliding = spec.cond.growing()
	}
	return c
}

// Meta describes the correlation.
func (c *Correlation) Meta() detections.Meta { return c.meta }

// WithSeverity returns a new correlation like c, with no state, whose Meta
// (and so every alert) has severity sev; the rule pack's severity override
// uses it. The new correlation shares the correlations nested in c: use it
// in place of c, never both. Call it before use.
func (c *Correlation) WithSeverity(sev alert.Severity) detections.Rule {
	meta := c.meta
	meta.Severity = sev
	n := newCorrelation(c.spec, meta, c.srcs)
	n.maxGroups, n.now = c.maxGroups, c.now
	return n
}

// SetMaxGroups changes the group bound (DefaultMaxGroups when n <= 0) of the
// correlation and of the correlations nested in it. Call it before use.
func (c *Correlation) SetMaxGroups(n int) {
	if n <= 0 {
		n = DefaultMaxGroups
	}
	c.maxGroups = n
	for _, s := range c.srcs {
		if s.corr != nil {
			s.corr.SetMaxGroups(n)
		}
	}
}

// Stats returns the counters.
func (c *Correlation) Stats() CorrelationStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Groups = len(c.groups)
	return s
}

// Eval feeds ev to the referenced rules and emits a Finding when the
// correlation's condition holds. It never fails.
func (c *Correlation) Eval(ctx context.Context, ev *event.Event, emit func(detections.Finding)) error {
	c.observe(ev, emit)
	return nil
}

func (c *Correlation) observe(ev *event.Event, emit func(detections.Finding)) {
	for i := range c.srcs {
		s := &c.srcs[i]
		if s.rule != nil {
			if s.rule.Match(ev) {
				c.hit(i, ev, nil, emit)
			}
			continue
		}
		s.corr.observe(ev, func(f detections.Finding) { c.hitFinding(i, f, emit) })
	}
}

func (c *Correlation) hitFinding(i int, f detections.Finding, emit func(detections.Finding)) {
	if len(f.Events) == 0 {
		return
	}
	ev := *f.Events[0]
	if !f.Time.IsZero() {
		ev.Time = f.Time
	}
	c.hit(i, &ev, f.GroupBy, emit)
}

// lookup returns the text of the first present candidate field, from a
// nested finding's group-by values first.
func lookup(ev *event.Event, kvs []alert.KV, name string, cands []string) (event.Value, bool) {
	for _, kv := range kvs {
		if kv.Field == name {
			return event.StringValue(kv.Value), true
		}
	}
	for _, f := range cands {
		if v, ok := ev.Get(f); ok && v.Kind != event.Null {
			return v, true
		}
	}
	return event.Value{}, false
}

// hit records one match of source i.
func (c *Correlation) hit(i int, ev *event.Event, kvs []alert.KV, emit func(detections.Finding)) {
	s := &c.srcs[i]
	var kb [256]byte
	key := kb[:0]
	for j := range s.groupBy {
		if j > 0 {
			key = append(key, 0)
		}
		if v, ok := lookup(ev, kvs, s.gbName[j], s.groupBy[j]); ok {
			key = append(key, v.Text()...)
		}
	}
	e := entry{t: ev.Time.UnixNano(), src: int32(i), id: ev.ID, tenant: ev.Tenant}
	if s.value != nil {
		if v, ok := lookup(ev, kvs, s.valName, s.value); ok {
			e.hasVal, e.val = true, v.Text()
			switch v.Kind {
			case event.Number:
				e.hasNum, e.num = true, v.Num
			case event.String:
				if f, err := strconv.ParseFloat(v.Str, 64); err == nil {
					e.hasNum, e.num = true, f
				}
			}
		}
	}
	var out []detections.Finding
	c.mu.Lock()
	if e.t > c.watermark {
		c.watermark, c.wallAt = e.t, c.now()
	}
	g := c.groups[string(key)]
	if g == nil {
		g = c.newGroup(string(key), s, ev, kvs)
	} else {
		c.lru.MoveToFront(g.elem)
	}
	span := int64(c.spec.span)
	if c.sliding {
		if !c.add(g, e, span) {
			c.mu.Unlock()
			return
		}
		if x, ok := c.value(g, &e); ok && c.holds(g, x) {
			out = append(out, c.finding(g, ev, e.t))
			if c.spec.typ != ctValuePercentile {
				c.remove(g)
			}
		}
	} else {
		if g.start != 0 && e.t > g.start+span {
			if f, ok := c.close(g); ok {
				out = append(out, f)
			}
			g = c.newGroup(string(key), s, ev, kvs)
		}
		if g.start == 0 || e.t < g.start {
			if g.start != 0 {
				c.stats.Late++
				c.mu.Unlock()
				return
			}
			g.start = e.t
		}
		c.add(g, e, span)
		g.last = copyEvent(ev)
	}
	c.mu.Unlock()
	for _, f := range out {
		emit(f)
	}
}

func (c *Correlation) newGroup(key string, s *source, ev *event.Event, kvs []alert.KV) *group {
	if len(c.groups) >= c.maxGroups {
		if old := c.lru.Back(); old != nil {
			c.remove(old.Value.(*group))
			c.stats.Evicted++
		}
	}
	g := &group{key: key, vals: make([]string, len(s.groupBy))}
	for j := range s.groupBy {
		if v, ok := lookup(ev, kvs, s.gbName[j], s.groupBy[j]); ok {
			g.vals[j] = v.Text()
		}
	}
	c.insertGroup(g)
	return g
}

func (c *Correlation) insertGroup(g *group) {
	switch c.spec.typ {
	case ctValueCount:
		g.distinct = map[string]int{}
	case ctTemporal, ctTemporalOrdered:
		g.bySrc = make([]int, len(c.srcs))
	}
	g.elem = c.lru.PushFront(g)
	c.groups[g.key] = g
}

func (c *Correlation) remove(g *group) {
	c.lru.Remove(g.elem)
	delete(c.groups, g.key)
}

// add inserts e in time order and trims the group to the window ending at
// its newest entry. It reports false when e is older than the window.
func (c *Correlation) add(g *group, e entry, span int64) bool {
	if n := len(g.entries); n > 0 && e.t < g.entries[n-1].t-span && c.sliding {
		c.stats.Late++
		return false
	}
	i := len(g.entries)
	for i > 0 && g.entries[i-1].t > e.t {
		i--
	}
	g.entries = slices.Insert(g.entries, i, e)
	c.account(g, &e, 1)
	drop := 0
	if c.sliding {
		newest := g.entries[len(g.entries)-1].t
		for drop < len(g.entries) && g.entries[drop].t < newest-span {
			drop++
		}
	}
	if len(g.entries)-drop > MaxGroupEntries {
		c.stats.Dropped += uint64(len(g.entries) - drop - MaxGroupEntries)
		drop = len(g.entries) - MaxGroupEntries
	}
	if drop > 0 {
		for k := range drop {
			c.account(g, &g.entries[k], -1)
		}
		g.entries = append(g.entries[:0], g.entries[drop:]...)
	}
	return true
}

// account updates the running aggregates for an entry added (d=1) or
// removed (d=-1).
func (c *Correlation) account(g *group, e *entry, d int) {
	if g.distinct != nil && e.hasVal {
		if n := g.distinct[e.val] + d; n > 0 {
			g.distinct[e.val] = n
		} else {
			delete(g.distinct, e.val)
		}
	}
	if e.hasNum {
		g.sum += float64(d) * e.num
		g.nNum += d
	}
	if g.bySrc != nil {
		g.bySrc[e.src] += d
	}
}

// value computes the aggregate the condition judges; ok is false when there
// is none (no numeric value for a sum or average).
func (c *Correlation) value(g *group, last *entry) (float64, bool) {
	switch c.spec.typ {
	case ctEventCount:
		return float64(len(g.entries)), true
	case ctValueCount:
		return float64(len(g.distinct)), true
	case ctValueSum:
		return g.sum, g.nNum > 0
	case ctValueAvg:
		return g.sum / float64(g.nNum), g.nNum > 0
	case ctValuePercentile:
		if last == nil || !last.hasVal {
			return 0, false
		}
		n, le := 0, 0
		for k := range g.entries {
			e := &g.entries[k]
			if !e.hasVal {
				continue
			}
			n++
			if (last.hasNum && e.hasNum && e.num <= last.num) || (!last.hasNum && e.val == last.val) {
				le++
			}
		}
		return 100 * float64(le) / float64(n), true
	case ctTemporal:
		k := 0
		for _, n := range g.bySrc {
			if n > 0 {
				k++
			}
		}
		return float64(k), true
	default: // temporal_ordered: the length of the ordered chain
		pos := 0
		for k := range g.entries {
			if pos < len(c.srcs) && int(g.entries[k].src) == pos {
				pos++
			}
		}
		return float64(pos), true
	}
}

func (c *Correlation) holds(g *group, x float64) bool {
	switch c.spec.typ {
	case ctTemporal:
		if len(c.spec.cond) == 0 {
			return int(x) == len(c.srcs)
		}
	case ctTemporalOrdered:
		return int(x) == len(c.srcs)
	}
	return c.spec.cond.holds(x)
}

// close judges a tumbling window; the group is removed.
func (c *Correlation) close(g *group) (detections.Finding, bool) {
	c.remove(g)
	x, ok := c.value(g, nil)
	if !ok || !c.holds(g, x) || len(g.entries) == 0 {
		return detections.Finding{}, false
	}
	return c.finding(g, g.last, g.start+int64(c.spec.span)), true
}

// finding lists the triggering event (copied) first, then the newest other
// events of the window.
func (c *Correlation) finding(g *group, trigger *event.Event, t int64) detections.Finding {
	f := detections.Finding{Time: time.Unix(0, t).UTC()}
	first := ""
	if trigger != nil {
		f.Events = append(f.Events, copyEvent(trigger))
		first = trigger.ID
	}
	for k := len(g.entries) - 1; k >= 0 && len(f.Events) < MaxFindingEvents; k-- {
		e := &g.entries[k]
		if e.id == first && first != "" {
			first = ""
			continue
		}
		f.Events = append(f.Events, &event.Event{ID: e.id, Tenant: e.tenant, Time: time.Unix(0, e.t).UTC()})
	}
	for j, name := range c.spec.groupBy {
		f.GroupBy = append(f.GroupBy, alert.KV{Field: name, Value: g.vals[j]})
	}
	return f
}

func copyEvent(ev *event.Event) *event.Event {
	if ev == nil {
		return nil
	}
	cp := *ev
	cp.Fields = slices.Clone(ev.Fields)
	return &cp
}

// Tick closes the windows that event time has passed (see Correlation) and
// emits their findings, after ticking nested correlations. It also forgets
// groups whose window has passed. It never fails.
func (c *Correlation) Tick(ctx context.Context, now time.Time, emit func(detections.Finding)) error {
	for i := range c.srcs {
		if s := &c.srcs[i]; s.corr != nil {
			_ = s.corr.Tick(ctx, now, func(f detections.Finding) { c.hitFinding(i, f, emit) })
		}
	}
	var out []detections.Finding
	c.mu.Lock()
	if !c.wallAt.IsZero() {
		wm := c.watermark + int64(now.Sub(c.wallAt))
		span := int64(c.spec.span)
		for el := c.lru.Back(); el != nil; {
			g := el.Value.(*group)
			el = el.Prev()
			switch {
			case g.start != 0 && wm > g.start+span:
				if f, ok := c.close(g); ok {
					out = append(out, f)
				}
			case g.start == 0 && (len(g.entries) == 0 || wm > g.entries[len(g.entries)-1].t+span):
				c.remove(g)
			}
		}
	}
	c.mu.Unlock()
	for _, f := range out {
		emit(f)
	}
	return nil
}
