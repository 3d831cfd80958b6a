// Package engine runs detection rules over events: a bounded queue of work,
// a fixed pool of workers, every rule on every event, findings turned into
// alerts with deterministic IDs. Rules can be swapped at run time without
// dropping events (a batch runs entirely on the rule set it started with).
package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/detections/exception"
)

// Config sizes the engine. Zero fields take defaults.
type Config struct {
	// Workers evaluating rules in parallel; default GOMAXPROCS.
	Workers int `yaml:"workers"`
	// Queue is how many chunks of events may wait for a worker; Process
	// blocks when it is full. Default 4 × Workers.
	Queue int `yaml:"queue"`
	// Chunk is how many events one worker takes at a time; default 256.
	Chunk int `yaml:"chunk"`
	// MaxAlertEventBytes caps the copy of the matching event kept in an
	// alert; a larger event is referenced by ID only. Default 64 KiB.
	MaxAlertEventBytes int `yaml:"max_alert_event_bytes"`
	// Group, when set, is called on every rule set (New, SetRules) to
	// combine rules into MultiRules that evaluate faster together; the
	// rules it returns in rest run one by one. An error leaves every rule
	// running one by one.
	Group func([]detections.Rule) (rest []detections.Rule, multi []detections.MultiRule, err error) `yaml:"-"`
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Workers < 0 {
		errs = append(errs, errors.New("workers: must be >= 0"))
	}
	if c.Queue < 0 {
		errs = append(errs, errors.New("queue: must be >= 0"))
	}
	if c.Chunk < 0 {
		errs = append(errs, errors.New("chunk: must be >= 0"))
	}
	if c.MaxAlertEventBytes < 0 {
		errs = append(errs, errors.New("max_alert_event_bytes: must be >= 0"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Queue == 0 {
		c.Queue = 4 * c.Workers
	}
	if c.Chunk == 0 {
		c.Chunk = 256
	}
	if c.MaxAlertEventBytes == 0 {
		c.MaxAlertEventBytes = 64 << 10
	}
	return c
}

// Stats are the engine's counters since start.
type Stats struct {
	Events     uint64 // events evaluated
	Alerts     uint64 // alerts produced (before deduplication by the store)
	RuleErrors uint64 // Eval calls that returned an error
	Suppressed uint64 // findings dropped by an active exception
	// GroupErrors counts rule sets that Config.Group failed to combine
	// (they then ran one by one).
	GroupErrors uint64
}

// Engine evaluates rules. Create it with New, start Run, then call Process.
type Engine struct {
	cfg   Config
	rules atomic.Pointer[ruleSet]
	work  chan job
	now   func() time.Time

	events, alerts, ruleErrors, suppressed, groupErrors atomic.Uint64

	exceptions atomic.Pointer[exception.Set]
}

// ruleSet is one generation of rules: all of them as given (for listing and
// ticking), and how they are evaluated.
type ruleSet struct {
	all    []detections.Rule
	single []detections.Rule
	multi  []detections.MultiRule
}

type job struct {
	ctx    context.Context
	rules  *ruleSet
	events []event.Event
	out    *[]alert.Alert
	wg     *sync.WaitGroup
}

// New returns an engine with the given rules.
func New(cfg Config, rules []detections.Rule) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, work: make(chan job, cfg.Queue), now: time.Now}
	e.SetRules(rules)
	return e
}

// SetRules replaces the rule set. Batches already in Process finish on the
// old set; later ones use the new set. Safe to call at any time.
func (e *Engine) SetRules(rules []detections.Rule) {
	rs := &ruleSet{all: append([]detections.Rule(nil), rules...), single: rules}
	if e.cfg.Group != nil {
		if rest, multi, err := e.cfg.Group(rules); err == nil {
			rs.single, rs.multi = rest, multi
		} else {
			e.groupErrors.Add(1)
		}
	}
	e.rules.Store(rs)
}

// Rules returns the current rules.
func (e *Engine) Rules() []detections.Rule { return e.rules.Load().all }

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	return Stats{Events: e.events.Load(), Alerts: e.alerts.Load(), RuleErrors: e.ruleErrors.Load(), Suppressed: e.suppressed.Load(), GroupErrors: e.groupErrors.Load()}
}

// SetExceptions replaces the rule exceptions; nil removes them all. A finding
// is dropped when an active exception of its rule matches every one of its
// events. Safe to call at any time.
func (e *Engine) SetExceptions(s *exception.Set) { e.exceptions.Store(s) }

// emitter returns the emit function for one rule: it drops suppressed
// findings and appends the others as alerts to *out.
func (e *Engine) emitter(m *detections.Meta, out *[]alert.Alert) func(detections.Finding) {
	return func(f detections.Finding) {
		if e.suppress(m.ID, f) {
			e.suppressed.Add(1)
			return
		}
		*out = append(*out, e.toAlert(m, f))
	}
}

func (e *Engine) suppress(ruleID string, f detections.Finding) bool {
	set := e.exceptions.Load()
	if set == nil || len(f.Events) == 0 {
		return false
	}
	now := e.now()
	for _, ev := range f.Events {
		if _, ok := set.Suppress(ruleID, ev, now); !ok {
			return false
		}
	}
	return true
}

// Run runs the workers until ctx is done. Tickers among the rules are ticked
// every tick (default one second when zero) and their alerts passed to onTick;
// onTick may be nil when no rule is stateful.
func (e *Engine) Run(ctx context.Context, tick time.Duration, onTick func(context.Context, []alert.Alert)) error {
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-e.work:
					*j.out = e.eval(j.ctx, j.rules, j.events, (*j.out)[:0])
					j.wg.Done()
				}
			}
		})
	}
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case now := <-t.C:
			if onTick == nil {
				continue
			}
			var out []alert.Alert
			for _, r := range e.Rules() {
				if tk, ok := r.(detections.Ticker); ok {
					meta := r.Meta()
					if err := tk.Tick(ctx, now, e.emitter(&meta, &out)); err != nil {
						e.ruleErrors.Add(1)
					}
				}
			}
			if len(out) > 0 {
				e.alerts.Add(uint64(len(out)))
				onTick(ctx, out)
			}
		}
	}
}

// Process evaluates every rule on every event and returns the alerts, in
// event order. It splits the batch over the workers and blocks while the
// queue is full. It fails only when ctx is done first.
func (e *Engine) Process(ctx context.Context, events []event.Event) ([]alert.Alert, error) {
	rules := e.rules.Load()
	if len(rules.all) == 0 || len(events) == 0 {
		e.events.Add(uint64(len(events)))
		return nil, nil
	}
	n := (len(events) + e.cfg.Chunk - 1) / e.cfg.Chunk
	outs := make([][]alert.Alert, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := i*e.cfg.Chunk, min((i+1)*e.cfg.Chunk, len(events))
		wg.Add(1)
		select {
		case e.work <- job{ctx: ctx, rules: rules, events: events[lo:hi], out: &outs[i], wg: &wg}:
		case <-ctx.Done():
			// Chunks already queued finish on their own; their results
			// are dropped with outs.
			return nil, ctx.Err()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var all []alert.Alert
	for _, o := range outs {
		all = append(all, o...)
	}
	return all, nil
}

func (e *Engine) eval(ctx context.Context, rs *ruleSet, events []event.Event, out []alert.Alert) []alert.Alert {
	metas := make([]detections.Meta, len(rs.single))
	emits := make([]func(detections.Finding), len(rs.single))
	for i, r := range rs.single {
		metas[i] = r.Meta()
		emits[i] = e.emitter(&metas[i], &out)
	}
	multiEmits := make([]func(int, detections.Finding), len(rs.multi))
	for i, m := range rs.multi {
		ms := m.Metas()
		multiEmits[i] = func(ri int, f detections.Finding) {
			if ri >= 0 && ri < len(ms) {
				e.emitter(&ms[ri], &out)(f)
			}
		}
	}
	for i := range events {
		ev := &events[i]
		// The next events' memory arrives while this one is evaluated.
		event.PrefetchAhead(events, i)
		for ri, r := range rs.single {
			if err := r.Eval(ctx, ev, emits[ri]); err != nil {
				e.ruleErrors.Add(1)
			}
		}
		for mi, m := range rs.multi {
			if err := m.EvalAll(ctx, ev, multiEmits[mi]); err != nil {
				e.ruleErrors.Add(1)
			}
		}
	}
	e.events.Add(uint64(len(events)))
	e.alerts.Add(uint64(len(out)))
	return out
}

// toAlert builds the alert for a finding: the ID hashes the tenant, the rule
// and the matching event IDs, so the same finding always has the same ID.
func (e *Engine) toAlert(m *detections.Meta, f detections.Finding) alert.Alert {
	a := alert.Alert{
		RuleID: m.ID, RuleVersion: m.Version, RuleTitle: m.Title, Severity: m.Severity,
		Techniques: m.Techniques, Tags: m.Tags, GroupBy: f.GroupBy, Time: f.Time, Created: e.now().UTC(),
	}
	for _, ev := range f.Events {
		a.EventIDs = append(a.EventIDs, ev.ID)
		if a.Tenant == "" {
			a.Tenant = ev.Tenant
		}
		if f.Time.IsZero() && ev.Time.After(a.Time) {
			a.Time = ev.Time
		}
	}
	a.ID = alert.NewID(a.Tenant, m.ID, a.EventIDs...)
	if len(f.Events) > 0 {
		if doc := event.AppendJSON(nil, f.Events[0]); len(doc) <= e.cfg.MaxAlertEventBytes {
			a.Event = doc
		}
	}
	if a.Severity == 0 {
		a.Severity = alert.Medium
	}
	return a
}

// String describes the engine for logs.
func (e *Engine) String() string {
	return fmt.Sprintf("engine(workers=%d, rules=%d)", e.cfg.Workers, len(e.Rules()))
}
