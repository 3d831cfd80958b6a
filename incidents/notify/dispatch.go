package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/incidents/clock"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// Ledger remembers which notices were sent, so that each goes out once even
// across restarts. The SQLite store implements it with a table; MemoryLedger
// is for tests. Both methods may be called concurrently.
type Ledger interface {
	// Sent reports whether key was marked sent.
	Sent(ctx context.Context, key string) (bool, error)
	// MarkSent records key as sent at at; marking a key again is not an
	// error.
	MarkSent(ctx context.Context, key string, at time.Time) error
}

// MemoryLedger is a Ledger in memory. The zero value is ready.
type MemoryLedger struct {
	mu   sync.Mutex
	sent map[string]time.Time
}

// Sent implements Ledger.
func (l *MemoryLedger) Sent(_ context.Context, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.sent[key]
	return ok, nil
}

// MarkSent implements Ledger.
func (l *MemoryLedger) MarkSent(_ context.Context, key string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent == nil {
		l.sent = map[string]time.Time{}
	}
	if _, ok := l.sent[key]; !ok {
		l.sent[key] = at
	}
	return nil
}

// Len returns how many keys are marked.
func (l *MemoryLedger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent)
}

// Key returns the ledger key of notice n for target: incident, deadline,
// kind, due time and target. A deadline whose due time moves (e.g. the
// incident was found serious later) is announced again; every target gets
// its own key, so one that failed is retried without repeating the others.
func Key(n Notice, target string) string {
	return strings.Join([]string{"notify", "v1", n.IncidentID, n.DeadlineID, n.Kind,
		strconv.FormatInt(n.Due.Unix(), 10), target}, "\x1f")
}

// Dispatcher turns running deadlines into notices and sends each to each
// accepting target once.
type Dispatcher struct {
	targets []Target
	ledger  Ledger
	dueSoon time.Duration
	every   time.Duration
	baseURL string
	log     zerolog.Logger
	mu      sync.Mutex // one Dispatch at a time: Sent and MarkSent bracket a send
}

// NewDispatcher returns a dispatcher sending to m's targets, remembering in
// ledger, with cfg's due_soon lead time, interval and base URL (defaults
// applied).
func NewDispatcher(m *Multi, ledger Ledger, cfg Config, logger zerolog.Logger) *Dispatcher {
	cfg.ApplyDefaults()
	return &Dispatcher{targets: m.Targets(), ledger: ledger, dueSoon: cfg.DueSoon, every: cfg.Interval,
		baseURL: strings.TrimSuffix(cfg.BaseURL, "/"), log: logger.With().Str("component", "incidents.notify").Logger()}
}

// Notices returns the notices inc's deadlines call for at now: for each
// deadline not met, overdue once its due time has come, due_soon when it
// is due within the lead time, nothing before (nor for a deadline without
// a due time).
func (d *Dispatcher) Notices(inc *incident.Incident, deadlines []clock.Deadline, now time.Time) []Notice {
	var out []Notice
	for _, dl := range deadlines {
		if dl.Met || dl.Due.IsZero() {
			continue
		}
		var kind string
		switch left := dl.Due.Sub(now); {
		case left <= 0:
			kind = KindOverdue
		case left <= d.dueSoon:
			kind = KindDueSoon
		default:
			continue
		}
		n := Notice{Tenant: inc.Tenant, IncidentID: inc.ID, IncidentTitle: inc.Title, Kind: kind, DeadlineID: dl.ID,
			DeadlineName: dl.Name, DeadlineNameVI: dl.NameVI, Due: dl.Due, Basis: dl.Basis, Time: now}
		if d.baseURL != "" {
			n.URL = d.baseURL + "/incidents/" + inc.ID
		}
		out = append(out, n)
	}
	return out
}

// Dispatch sends the notices inc's deadlines call for at now (see Notices)
// to every accepting target that has not had them yet, marking each in the
// ledger after a successful send. It returns how many sends succeeded and
// the failures joined; failed sends are not marked and go out on a later
// call. Calls are serialized.
func (d *Dispatcher) Dispatch(ctx context.Context, inc *incident.Incident, deadlines []clock.Deadline, now time.Time) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var (
		sent int
		errs []error
	)
	for _, n := range d.Notices(inc, deadlines, now) {
		for i := range d.targets {
			t := &d.targets[i]
			if !t.Accepts(n.Tenant) {
				continue
			}
			key := Key(n, t.Name)
			done, err := d.ledger.Sent(ctx, key)
			if err != nil {
				return sent, errors.Join(append(errs, fmt.Errorf("reading notify ledger: %w", err))...)
			}
			if done {
				continue
			}
			if err := t.Notifier.Notify(ctx, n); err != nil {
				errs = append(errs, fmt.Errorf("notifying %s of %s %s on %s: %w", t.Name, n.Kind, n.DeadlineID, n.IncidentID, err))
				continue
			}
			sent++
			if err := d.ledger.MarkSent(ctx, key, now); err != nil {
				return sent, errors.Join(append(errs, fmt.Errorf("writing notify ledger: %w", err))...)
			}
		}
	}
	return sent, errors.Join(errs...)
}

// Pending is an incident with its running deadlines.
type Pending struct {
	Incident  incident.Incident
	Deadlines []clock.Deadline
}

// Source lists the open incidents whose unmet deadlines fall due within
// `within` of now (overdue included): the store with clock.Clock.Due.
type Source interface {
	Pending(ctx context.Context, now time.Time, within time.Duration) ([]Pending, error)
}

// Run dispatches every interval (and once at start) until ctx ends, then
// returns nil. A failed round is logged at warn level and retried on the
// next tick; Run itself does not fail.
func (d *Dispatcher) Run(ctx context.Context, src Source, now func() time.Time) error {
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		d.round(ctx, src, now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (d *Dispatcher) round(ctx context.Context, src Source, now time.Time) {
	pending, err := src.Pending(ctx, now, d.dueSoon)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn().Err(err).Msg("listing deadlines to notify")
		}
		return
	}
	for i := range pending {
		p := &pending[i]
		if _, err := d.Dispatch(ctx, &p.Incident, p.Deadlines, now); err != nil && ctx.Err() == nil {
			d.log.Warn().Err(err).Str("incident_id", p.Incident.ID).Str("tenant", p.Incident.Tenant).Msg("sending deadline notices")
		}
	}
}
