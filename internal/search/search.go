// Package search is the contract between the event store and its users: the
// pipeline stage that indexes events and the analyst API that searches them.
//
// A Store keeps events durably and answers Queries written in the query
// language analysts know from Kibana (KQL) and Lucene; package
// [github.com/mangrove-soc/mangrove/internal/search/kql] parses that language
// and defines its semantics, and package
// [github.com/mangrove-soc/mangrove/internal/search/local] is the embedded
// implementation on SQLite. Package searchtest holds the conformance suite
// every implementation passes and an in-memory reference Store.
package search

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// Result limits.
const (
	DefaultLimit = 100   // events returned when Query.Limit is 0
	MaxLimit     = 10000 // largest Query.Limit accepted
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrBadQuery is wrapped by every error caused by the query itself: a
	// syntax error in Query.Text, a limit out of range, an empty time range.
	// The HTTP layer answers 400 for it.
	ErrBadQuery = errors.New("bad query")
	// ErrBadEvent is wrapped by Index when an event cannot be stored (no ID,
	// a time outside what the store can represent, an encoding too large).
	// Retrying the same batch fails the same way; nothing of it was stored.
	ErrBadEvent = errors.New("bad event")
)

// Query selects events.
type Query struct {
	// Tenant restricts the search to one tenant's events; "" searches all
	// tenants (a center-wide analyst). The caller sets it from the analyst's
	// authorization, never from the query text.
	Tenant string
	// Text is a KQL / Lucene-style query (see package kql); "" matches all.
	Text string
	// From (inclusive) and To (exclusive) bound the event time; a zero
	// value leaves that side unbounded.
	From, To time.Time
	// Limit is how many events to return, newest first: 0 means
	// DefaultLimit; at most MaxLimit.
	Limit int
}

// Validate reports every problem of q's parameters at once, each wrapping
// ErrBadQuery. It does not parse Text; the Store does.
func (q Query) Validate() error {
	var errs []error
	if q.Limit < 0 || q.Limit > MaxLimit {
		errs = append(errs, fmt.Errorf("limit: %w: must be between 0 and %d, got %d", ErrBadQuery, MaxLimit, q.Limit))
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		errs = append(errs, fmt.Errorf("to: %w: must be after from", ErrBadQuery))
	}
	return errors.Join(errs...)
}

// EffectiveLimit returns the number of events a search returns at most:
// Limit, or DefaultLimit when Limit is 0.
func (q Query) EffectiveLimit() int {
	if q.Limit == 0 {
		return DefaultLimit
	}
	return q.Limit
}

// Result is the answer to a Query.
type Result struct {
	// Total counts every matching event, not only those returned.
	Total int `json:"total"`
	// Events are the newest matching events, newest first, at most the
	// query's limit. Never nil.
	Events []event.Event `json:"events"`
}

// Store keeps events and searches them. Its methods are safe for concurrent
// use. The owner of a Store calls Close once, after every other call has
// returned.
type Store interface {
	// Index stores events durably before returning, atomically: on error,
	// none of the batch is stored. It is idempotent by Event.ID: an event
	// whose ID is already stored is skipped, so re-indexing an event
	// changes nothing. An event with a zero Time is stored with the time
	// of indexing. If any event cannot be stored the call fails with an
	// error wrapping ErrBadEvent.
	Index(ctx context.Context, events []event.Event) error
	// Search returns the events matching q. Errors caused by q wrap
	// ErrBadQuery; other errors are faults of the store.
	Search(ctx context.Context, q Query) (Result, error)
	// Close releases the store's resources.
	Close() error
}
