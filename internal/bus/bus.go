package bus

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
)

// Handler processes one delivered batch of events. Returning nil acknowledges
// the batch; an error makes the bus redeliver it later (at-least-once), so a
// handler must tolerate seeing a batch again. A handler should return an error
// only for transient failures (a store that is down): an event that can never
// be processed must be counted and skipped by the handler, or it is retried
// forever.
//
// The handler must treat events as read-only and must not retain the slice or
// the events after it returns: the in-memory bus hands the same events to
// every consumer and the collector may reuse them once the batch is done, and
// the JetStream bus's events share one buffer per message (retaining one
// event would keep the whole message in memory).
// ctx is done when the consumer is stopping.
type Handler func(ctx context.Context, events []event.Event) error

// Bus carries batches of events from collectors to the consumers of the
// detection side (detection engine, event store, ...). It is safe for
// concurrent use.
//
// Consumers are named and declared when the bus is opened. Each declared
// consumer sees every event published after the bus was opened (fan-out), and
// an event is kept for a declared consumer until that consumer's handler has
// acknowledged it, even while no Consume call is running for it. Several
// Consume calls with the same name (in one process or, with JetStream, in
// several) share that consumer's work.
type Bus interface {
	// Publish implements collectors.Publisher. It blocks while downstream is
	// full (backpressure) and returns an error only when the batch was not
	// accepted: ctx done, ErrClosed, or an event too large for one message
	// (ErrEventTooLarge). Then b.Done is not called and the caller still owns
	// the batch; part of it may have been sent, and publishing it again is
	// safe (duplicates are absorbed, see the package documentation). On a nil
	// return the bus calls b.Done exactly once: with nil only after every
	// event is stored (JetStream: every message's publish acknowledgement;
	// memory: every declared consumer's handler returned nil), else with the
	// error that stopped it. The bus does not keep b.Events after Done.
	collectors.Publisher

	// Consume runs the declared consumer name until ctx is done or the bus
	// is closed, calling h with workers concurrent handlers (workers < 1
	// means 1). Batches are not delivered in order when workers > 1. It
	// returns nil when stopped by ctx or Close, ErrUnknownConsumer when name
	// was not declared, ErrClosed when called after Close, and otherwise the
	// fatal error that stopped it.
	Consume(ctx context.Context, name string, workers int, h Handler) error

	// Pending returns how many batches (JetStream: messages, each holding up
	// to MaxMsgBytes of events) the declared consumer name has not yet
	// acknowledged, whether delivered or not. It is the bus-lag metric, a
	// snapshot: it may miss a message for the moment it is being delivered.
	Pending(ctx context.Context, name string) (uint64, error)

	// Stats returns the bus's counters since it was opened.
	Stats() Stats

	// Close stops the bus: Publish returns ErrClosed, running Consume calls
	// return after their handlers finish, batches whose outcome is not known
	// are completed with Done(ErrClosed) (their events may still have been
	// stored: a collector that re-sends them creates duplicates, never loss).
	// Close waits for handlers that ignore their ctx. Only the first call has
	// an effect; later calls return nil.
	Close() error
}

// Sentinel errors.
var (
	// ErrClosed is returned by Publish after Close and passed to Done for
	// batches whose outcome is unknown at Close.
	ErrClosed = errors.New("bus closed")
	// ErrUnknownConsumer is returned for a consumer name that was not
	// declared when the bus was opened.
	ErrUnknownConsumer = errors.New("unknown bus consumer")
	// ErrEventTooLarge is returned by Publish when one encoded event does not
	// fit in a bus message (Config.MaxMsgBytes).
	ErrEventTooLarge = errors.New("event too large for a bus message")
)

// Stats are the bus's counters, monotonic since the bus was opened. The
// caller exports them (e.g. as Prometheus counters named
// mangrove_bus_<snake_case field>_total).
type Stats struct {
	// PublishedBatches and PublishedEvents count batches completed with
	// Done(nil) and their events.
	PublishedBatches uint64
	PublishedEvents  uint64
	// PublishedMessages counts bus messages stored (JetStream publish acks,
	// duplicates included; memory: equal to PublishedBatches).
	PublishedMessages uint64
	// DuplicateMessages counts messages the stream recognized as already
	// stored (same Nats-Msg-Id within the duplicate window) and dropped.
	DuplicateMessages uint64
	// PublishErrors counts batches completed with Done(err).
	PublishErrors uint64

	// DeliveredBatches and DeliveredEvents count batches handed to handlers
	// (every delivery, redeliveries included) and their events.
	DeliveredBatches uint64
	DeliveredEvents  uint64
	// AckedBatches counts batches acknowledged after the handler returned
	// nil.
	AckedBatches uint64
	// HandlerErrors counts handler errors (each schedules a redelivery).
	HandlerErrors uint64
	// Redeliveries counts deliveries of a batch that was delivered before
	// (after a handler error, an ack timeout or a restart).
	Redeliveries uint64
	// PoisonMessages counts messages that held no decodable event; they are
	// terminated (never redelivered).
	PoisonMessages uint64
	// DecodeFailures counts events that failed to decode; they are dropped,
	// and the rest of their message is delivered.
	DecodeFailures uint64
	// AckErrors counts acks, naks and terms the server did not confirm; the
	// message is then redelivered after the ack wait.
	AckErrors uint64
}

// counters holds Stats as atomics.
type counters struct {
	publishedBatches, publishedEvents, publishedMessages atomic.Uint64
	duplicateMessages, publishErrors                     atomic.Uint64
	deliveredBatches, deliveredEvents, ackedBatches      atomic.Uint64
	handlerErrors, redeliveries                          atomic.Uint64
	poisonMessages, decodeFailures, ackErrors            atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		PublishedBatches:  c.publishedBatches.Load(),
		PublishedEvents:   c.publishedEvents.Load(),
		PublishedMessages: c.publishedMessages.Load(),
		DuplicateMessages: c.duplicateMessages.Load(),
		PublishErrors:     c.publishErrors.Load(),
		DeliveredBatches:  c.deliveredBatches.Load(),
		DeliveredEvents:   c.deliveredEvents.Load(),
		AckedBatches:      c.ackedBatches.Load(),
		HandlerErrors:     c.handlerErrors.Load(),
		Redeliveries:      c.redeliveries.Load(),
		PoisonMessages:    c.poisonMessages.Load(),
		DecodeFailures:    c.decodeFailures.Load(),
		AckErrors:         c.ackErrors.Load(),
	}
}

// done completes b with err and counts the outcome.
func (c *counters) done(b *event.Batch, err error) {
	if err != nil {
		c.publishErrors.Add(1)
	} else {
		c.publishedBatches.Add(1)
		c.publishedEvents.Add(uint64(len(b.Events)))
	}
	b.Done(err)
}
