// Package incidents is the contract of the incident area: alerts go in
// through an Ingester, which groups them into incidents (see
// incidents/incident for the Incident type and its lifecycle).
package incidents

import (
	"context"

	"github.com/mangrove-soc/mangrove/detections/alert"
)

// Ingester groups alerts into incidents. Ingest is idempotent: an alert
// already ingested is skipped. It returns after the alerts and incidents are
// durably stored, so the caller may then acknowledge the events that produced
// them.
type Ingester interface {
	Ingest(ctx context.Context, alerts ...alert.Alert) error
}
