// Package searchtest helps test search.Store implementations and their
// users: Memory is an in-memory Store whose behaviour is the contract's
// reference (kql's Match over every event), and Run is the conformance
// suite that every Store (the embedded SQLite store, a future Elasticsearch
// store, Memory itself) passes.
package searchtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/search/kql"
)

// Memory is a search.Store that keeps events in memory and searches them
// with kql's Match. It is meant for tests of the store's users; it has no
// retention and no persistence. Its methods are safe for concurrent use.
type Memory struct {
	mu     sync.RWMutex
	events []event.Event       // in indexing order
	ids    map[string]struct{} // IDs in events
	closed bool
}

var _ search.Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{ids: map[string]struct{}{}} }

var errClosed = errors.New("store closed")

// Index adds the events whose IDs are not stored yet (see search.Store).
func (m *Memory) Index(ctx context.Context, events []event.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	for i := range events {
		if events[i].ID == "" {
			errs = append(errs, fmt.Errorf("events[%d].id: %w: must not be empty", i, search.ErrBadEvent))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	now := time.Now().UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	for _, ev := range events {
		if _, ok := m.ids[ev.ID]; ok {
			continue
		}
		if ev.Time.IsZero() {
			ev.Time = now
		}
		ev.Fields = slices.Clone(ev.Fields)
		m.ids[ev.ID] = struct{}{}
		m.events = append(m.events, ev)
	}
	return nil
}

// Search returns the events matching q (see search.Store). Events with the
// same time are returned last indexed first.
func (m *Memory) Search(ctx context.Context, q search.Query) (search.Result, error) {
	res := search.Result{Events: []event.Event{}}
	if err := q.Validate(); err != nil {
		return res, err
	}
	root, err := kql.Parse(q.Text)
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return res, errClosed
	}
	var hits []int
	for i := range m.events {
		if Selects(q, root, &m.events[i]) {
			hits = append(hits, i)
		}
	}
	slices.SortStableFunc(hits, func(a, b int) int {
		if c := m.events[b].Time.Compare(m.events[a].Time); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	res.Total = len(hits)
	for _, i := range hits[:min(len(hits), q.EffectiveLimit())] {
		res.Events = append(res.Events, m.events[i])
	}
	return res, nil
}

// Selects reports whether a search for q, whose text parsed to root,
// selects ev: the tenant, the time window and the text all match.
func Selects(q search.Query, root kql.Node, ev *event.Event) bool {
	if q.Tenant != "" && ev.Tenant != q.Tenant {
		return false
	}
	if !q.From.IsZero() && ev.Time.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !ev.Time.Before(q.To) {
		return false
	}
	return root.Match(ev)
}

// Close marks the store closed; later calls fail.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
