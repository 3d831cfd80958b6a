// Package notify tells people that an incident's reporting or SLA deadline
// is about to run out or has run out: it renders a Notice and sends it to
// the configured targets (webhooks, e-mail), each target seeing only the
// tenants it is configured for, and its Dispatcher makes sure every notice
// goes out once, across restarts, through a Ledger the store provides.
package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Notice kinds. Kind is free text for other uses (e.g. "test").
const (
	KindDueSoon = "due_soon"
	KindOverdue = "overdue"
)

// Notice is one message about one deadline of one incident.
type Notice struct {
	Tenant         string    `json:"tenant"`
	IncidentID     string    `json:"incident_id"`
	IncidentTitle  string    `json:"incident_title"`
	Kind           string    `json:"kind"`
	DeadlineID     string    `json:"deadline_id"`
	DeadlineName   string    `json:"deadline_name"`
	DeadlineNameVI string    `json:"deadline_name_vi"`
	Due            time.Time `json:"due"`
	Basis          string    `json:"basis"`
	URL            string    `json:"url,omitempty"` // link to the incident in the UI
	Time           time.Time `json:"time"`          // when the notice was made
}

// Notifier sends a notice. Notify blocks until the notice is delivered or
// delivery failed for good (retries included), and honors ctx. A returned
// error wrapping ErrPermanent means retrying the same notice will not help
// (e.g. the receiver refused it with 400).
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// ErrPermanent marks delivery errors that retrying does not fix.
var ErrPermanent = errors.New("permanent delivery failure")

// Target is a named Notifier with a tenant filter.
type Target struct {
	// Name identifies the target in errors and in the Dispatcher's ledger
	// keys ("webhooks[0]", "smtp"); it must be unique in a Multi and
	// stable across restarts.
	Name string
	// Tenants the target receives notices of; empty means all (the
	// center's own targets).
	Tenants  []string
	Notifier Notifier
}

// Accepts reports whether the target receives notices of tenant.
func (t *Target) Accepts(tenant string) bool {
	return len(t.Tenants) == 0 || slices.Contains(t.Tenants, tenant)
}

// Multi sends each notice to every target that accepts its tenant.
type Multi struct {
	targets []Target
}

// NewMulti returns a Multi over targets.
func NewMulti(targets ...Target) *Multi { return &Multi{targets: slices.Clone(targets)} }

// Targets returns the targets.
func (m *Multi) Targets() []Target { return slices.Clone(m.targets) }

// Notify implements Notifier: it sends to the accepting targets in
// parallel, waits for all, and returns their errors joined, each prefixed
// with its target's name. A Multi with no accepting target returns nil.
func (m *Multi) Notify(ctx context.Context, n Notice) error {
	errs := make([]error, len(m.targets))
	var wg sync.WaitGroup
	for i := range m.targets {
		t := &m.targets[i]
		if !t.Accepts(n.Tenant) {
			continue
		}
		wg.Go(func() {
			if err := t.Notifier.Notify(ctx, n); err != nil {
				errs[i] = fmt.Errorf("%s: %w", t.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
