package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mangrove-soc/mangrove/internal/wire"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// ackTimeout bounds the wait for the server to confirm an ack.
const ackTimeout = 10 * time.Second

// Consume runs the durable pull consumer name with workers concurrent
// handlers. Each message is acknowledged (and the ack confirmed by the
// server) only after h returned nil for its events; a handler error naks it
// with a delay that starts at RetryDelay and doubles up to 1m; a message
// without any decodable event is terminated and counted. On stop, messages
// fetched but not handled are released at once for redelivery. See Bus.
func (j *JetStream) Consume(ctx context.Context, name string, workers int, h Handler) error {
	cons := j.consumers[name]
	if cons == nil {
		return fmt.Errorf("%w: %q", ErrUnknownConsumer, name)
	}
	if h == nil {
		return errors.New("consuming with a nil handler")
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.consuming.Add(1)
	j.mu.Unlock()
	defer j.consuming.Done()

	workers = max(workers, 1)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var watch sync.WaitGroup
	watch.Go(func() {
		select {
		case <-j.closing:
			cancel()
		case <-runCtx.Done():
		}
	})
	defer watch.Wait()
	defer cancel()

	// Each message holds up to MaxMsgBytes of events: a small client buffer
	// keeps every worker busy without holding much memory.
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * workers))
	if err != nil {
		return fmt.Errorf("consuming %q: %w", name, err)
	}
	g, gctx := errgroup.WithContext(runCtx)
	for range workers {
		g.Go(func() error {
			dec := wire.NewDecoder(j.cfg.MaxMsgBytes)
			for {
				msg, err := it.Next(jetstream.NextContext(gctx))
				if err != nil {
					if gctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("consuming %q: %w", name, err)
				}
				j.handle(gctx, name, dec, msg, h)
			}
		})
	}
	err = g.Wait()
	j.release(it)
	if err != nil && ctx.Err() == nil && !j.isClosing() {
		return err
	}
	return nil
}

func (j *JetStream) isClosing() bool {
	select {
	case <-j.closing:
		return true
	default:
		return false
	}
}

// release stops it and naks the messages it had fetched but not handed out,
// so that they are redelivered now rather than after the ack wait.
func (j *JetStream) release(it jetstream.MessagesContext) {
	it.Drain()
	for {
		msg, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		if err := msg.Nak(); err != nil {
			j.stats.ackErrors.Add(1)
		}
	}
}

// handle decodes one message, runs h and settles the message.
func (j *JetStream) handle(ctx context.Context, name string, dec *wire.Decoder, msg jetstream.Msg, h Handler) {
	var delivered uint64 = 1
	md, err := msg.Metadata()
	if err == nil {
		delivered = md.NumDelivered
	}
	if delivered > 1 {
		j.stats.redeliveries.Add(1)
	}
	events, bad := dec.Decode(msg.Data())
	j.stats.decodeFailures.Add(uint64(bad))
	if len(events) == 0 {
		j.stats.poisonMessages.Add(1)
		ev := j.logger.Warn().Str("consumer", name).Int("bytes", len(msg.Data()))
		if md != nil {
			ev = ev.Uint64("stream_seq", md.Sequence.Stream)
		}
		ev.Msg("terminating a bus message without any decodable event")
		j.settle(msg.Term())
		return
	}
	j.stats.deliveredBatches.Add(1)
	j.stats.deliveredEvents.Add(uint64(len(events)))
	if err := h(ctx, events); err != nil {
		j.stats.handlerErrors.Add(1)
		if ctx.Err() != nil {
			// Stopping: let another consumer instance have it now.
			j.settle(msg.Nak())
			return
		}
		j.settle(msg.NakWithDelay(retryDelay(j.cfg.RetryDelay, delivered)))
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	err = msg.DoubleAck(actx)
	cancel()
	if err != nil {
		j.stats.ackErrors.Add(1)
		return
	}
	j.stats.ackedBatches.Add(1)
}

func (j *JetStream) settle(err error) {
	if err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		j.stats.ackErrors.Add(1)
	}
}

// retryDelay is the redelivery delay after the delivered-th failed delivery:
// base, doubling each time, at most maxRetryDelay.
func retryDelay(base time.Duration, delivered uint64) time.Duration {
	d := base
	for i := uint64(1); i < delivered && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}
