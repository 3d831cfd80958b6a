// Package bus carries batches of events from collectors to the detection
// side: a Bus is the collectors' Publisher on one end and runs named
// consumers ("detect", "store", ...) on the other. It is the only package
// that imports NATS.
//
// Two implementations:
//
//   - JetStream (OpenJetStream): durable. By default a NATS server with
//     JetStream runs embedded in the process (in-process connection, no
//     listening socket, file store under the data directory); with
//     Config.URL the same code uses an external NATS JetStream cluster, where
//     several Mangrove processes consuming the same durable consumer share
//     its work.
//   - Memory (NewMemory): in-process and not durable, for offline runs (pcap
//     import, replay), tests and benchmarks.
//
// # Delivery
//
// Delivery is at-least-once. Publish returns once the batch is handed to the
// bus; the bus then calls the batch's Done exactly once, with nil only when
// every event is stored: for JetStream, when every message of the batch has
// its publish acknowledgement, which with Sync "always" (the default) comes
// after the message was fsynced. A collector acknowledges its source only on
// Done(nil). A consumer acknowledges a message only after its handler
// returned nil; a handler error, an ack timeout (Config.AckWait) or a restart
// delivers the batch again. Consumers therefore see duplicates, never gaps;
// events carry deterministic IDs (event.NewID) so that downstream stores
// and alerts deduplicate.
//
// # Messages
//
// A batch travels as one or more messages of at most Config.MaxMsgBytes. A
// message's payload is its events encoded with event.AppendJSON, one per
// line (newline-separated), so `nats sub` shows readable events and any
// JSON reader can consume the stream. Consumers decode it with a trusted
// event.Decoder, so the mangrove.* metadata (ID, tenant, source) survives;
// lines in AppendJSON's canonical form take a fast path that yields the same
// Events (checked by a fuzz test) at a fraction of the cost, and share one
// copy of the message for all their strings.
// Each message carries a Nats-Msg-Id header, a hash of its events' IDs (of
// its payload if an event has no ID): a batch re-published within
// Config.DuplicateWindow, e.g. after a Publish interrupted by its ctx, is
// dropped by the stream and acknowledged as a duplicate. A line that does
// not decode is dropped and counted (Stats.DecodeFailures); a message
// without any decodable event is terminated, never redelivered, and counted
// (Stats.PoisonMessages). Neither blocks the stream.
//
// # Storage
//
// The stream uses file storage and interest retention: a message is kept
// until every declared durable consumer (Config.Consumers, created when the
// bus opens) has acknowledged or terminated it, then deleted. Limits
// retention would keep acknowledged events until MaxAge/MaxBytes and, with
// DiscardOld, silently drop unconsumed ones when full; work-queue retention
// allows a single consumer only. Because interest retention discards
// messages published while no consumer exists, consumers are declared up
// front rather than created by Consume. MaxAge and MaxBytes are optional
// safety limits; the stream discards new messages when full, so a full
// stream makes publishing fail (the collector retries) instead of dropping
// stored events. A durable consumer removed from the configuration still
// holds its messages on the server until it is deleted (nats consumer rm);
// OpenJetStream logs a warning for each such consumer.
//
// Durability of the embedded server: Sync "always" sets the server's
// SyncAlways, so the file store writes synchronously and a publish ack means
// the message is on disk. Sync "interval" fsyncs every SyncInterval (NATS's
// own default is two minutes, which lost acknowledged writes in Jepsen's
// power-failure tests): faster, and safe against a process crash, but a
// power failure loses up to SyncInterval of acknowledged events. An external
// cluster's durability is its own configuration (three replicas, or
// sync_interval: always on a single node).
//
// # Backpressure
//
// Publish blocks while downstream is full: for JetStream while
// Config.MaxInFlight messages await their publish ack; for Memory while a
// declared consumer's queue holds MemoryConfig.QueueLen batches. Consumers
// fetch only a few messages ahead and the server stops delivering past
// Config.MaxAckPending unacknowledged messages.
//
// # Metrics
//
// Stats returns monotonic counters (published, duplicate, delivered, acked,
// redelivered, handler errors, poison messages, decode failures) and Pending
// a consumer's lag in batches; the caller exports them. The embedded
// server's own log goes to the injected zerolog logger: its notices at debug
// level, its warnings and errors at their level; nothing is logged per
// event.
package bus
