// Package collectors is the contract between event sources and the bus: a
// Collector produces Batches of events and hands them to a Publisher.
package collectors

import (
	"context"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// Publisher hands batches on to the bus.
//
// Publish blocks while downstream is full (that is the backpressure) and
// returns an error only when the batch was not accepted (ctx done, publisher
// closed); then Done is not called by the publisher and the caller still owns
// the batch. Once Publish returns nil, the publisher calls b.Done exactly once:
// Done(nil) when every event is durably stored, Done(err) otherwise. A
// collector acknowledges its sender only on Done(nil).
type Publisher interface {
	Publish(ctx context.Context, b *event.Batch) error
}

// Collector is a source of events. Run blocks until ctx is done and returns
// only fatal errors; per-input problems are counted, not returned.
type Collector interface {
	Run(ctx context.Context, p Publisher) error
}
