package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// JetStream is the durable Bus: NATS JetStream, embedded in the process or
// an external cluster. See the package documentation for the storage model.
type JetStream struct {
	cfg        Config
	logger     zerolog.Logger
	srv        *server.Server // nil with an external cluster
	nc         *nats.Conn
	js         jetstream.JetStream
	consumers  map[string]jetstream.Consumer
	maxPayload int // per message, headers excluded
	stats      counters
	bufs       sync.Pool // *[]byte message buffers, reused once acknowledged

	mu         sync.Mutex
	closed     bool
	closing    chan struct{} // closed by Close
	publishing sync.WaitGroup
	consuming  sync.WaitGroup

	acks          chan pendingAck // publish futures, in publish order
	stopCompleter chan struct{}
	completerDone chan struct{}
}

var _ Bus = (*JetStream)(nil)

// pendingAck is one published message awaiting its ack.
type pendingAck struct {
	t    *pubTracker
	paf  jetstream.PubAckFuture
	data []byte // the message's buffer, back to the pool once resolved
}

// pubTracker completes a batch once all its messages are acknowledged. Only
// the completer goroutine touches it after Publish handed it over.
type pubTracker struct {
	b         *event.Batch
	remaining int
	err       error
}

// OpenJetStream opens the JetStream bus: it starts the embedded server when
// cfg.URL is "" (or connects to cfg.URL), creates or updates the stream and
// the declared durable consumers, and returns when the bus is ready. ctx
// bounds only the opening. Close releases what OpenJetStream started.
func OpenJetStream(ctx context.Context, cfg Config, logger zerolog.Logger) (*JetStream, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bus config: %w", err)
	}
	j := &JetStream{
		cfg:           cfg,
		logger:        logger.With().Str("component", "bus").Logger(),
		consumers:     make(map[string]jetstream.Consumer, len(cfg.Consumers)),
		maxPayload:    cfg.MaxMsgBytes - headerReserve,
		closing:       make(chan struct{}),
		acks:          make(chan pendingAck, cfg.MaxInFlight),
		stopCompleter: make(chan struct{}),
		completerDone: make(chan struct{}),
	}
	if err := j.open(ctx, logger); err != nil {
		j.shutdown()
		return nil, err
	}
	go j.complete()
	return j, nil
}

// open connects and declares the stream and consumers. logger is the caller's
// (the embedded server's log gets its own component).
func (j *JetStream) open(ctx context.Context, logger zerolog.Logger) error {
	cfg := j.cfg
	opts := []nats.Option{
		nats.Name("mangrove"),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			j.logger.Warn().Err(err).Msg("nats connection error")
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				j.logger.Warn().Err(err).Msg("nats disconnected")
			}
		}),
	}
	if cfg.URL == "" {
		srv, err := startServer(cfg, logger)
		if err != nil {
			return err
		}
		j.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
	} else {
		opts = append(opts, nats.MaxReconnects(-1))
		if cfg.CredsFile != "" {
			opts = append(opts, nats.UserCredentials(cfg.CredsFile))
		}
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return fmt.Errorf("connecting to NATS: %w", err)
	}
	j.nc = nc
	if mp := nc.MaxPayload(); int64(cfg.MaxMsgBytes) > mp {
		return fmt.Errorf("bus config: max_msg_bytes: %d exceeds the server's max_payload %d", cfg.MaxMsgBytes, mp)
	}
	j.js, err = jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout))
	if err != nil {
		return fmt.Errorf("opening JetStream: %w", err)
	}
	maxBytes := cfg.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	// Interest retention: a message stays until every durable consumer
	// acknowledged it (or terminated it); DiscardNew: when the stream is
	// full, publishing fails instead of dropping what is stored.
	stream, err := j.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "Mangrove events from collectors to detection",
		Subjects:    []string{cfg.Subject},
		Retention:   jetstream.InterestPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Discard:     jetstream.DiscardNew,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    maxBytes,
		MaxMsgs:     -1,
		MaxMsgSize:  int32(cfg.MaxMsgBytes),
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("creating or updating stream %q: %w", cfg.Stream, err)
	}
	for _, name := range cfg.Consumers {
		c, err := j.js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
			Durable:       name,
			Description:   "Mangrove bus consumer " + name,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxDeliver:    -1,
			MaxAckPending: cfg.MaxAckPending,
		})
		if err != nil {
			return fmt.Errorf("creating or updating consumer %q: %w", name, err)
		}
		j.consumers[name] = c
	}
	names := stream.ConsumerNames(ctx)
	for name := range names.Name() {
		if j.consumers[name] == nil {
			// A leftover durable consumer keeps every message it has not
			// acknowledged: the stream grows until it is removed.
			j.logger.Warn().Str("consumer", name).Str("stream", cfg.Stream).
				Msg("stream has an undeclared consumer; remove it if it is no longer used")
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("listing consumers of stream %q: %w", cfg.Stream, err)
	}
	return nil
}

// startServer starts the embedded NATS server with JetStream.
func startServer(cfg Config, logger zerolog.Logger) (*server.Server, error) {
	opts := &server.Options{
		ServerName:   "mangrove",
		JetStream:    true,
		StoreDir:     cfg.StoreDir,
		DontListen:   cfg.Listen == "",
		SyncAlways:   cfg.Sync == SyncAlways,
		SyncInterval: cfg.SyncInterval,
		MaxPayload:   int32(max(cfg.MaxMsgBytes, server.MAX_PAYLOAD_SIZE)),
		NoLog:        true,
		NoSigs:       true,
	}
	if cfg.Listen != "" {
		host, port, _ := net.SplitHostPort(cfg.Listen) // checked by Validate
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("bus config: listen: port %q: %w", port, err)
		}
		opts.Host, opts.Port = host, p
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring the embedded NATS server: %w", err)
	}
	sl := &serverLogger{l: logger.With().Str("component", "bus.nats-server").Logger()}
	srv.SetLoggerV2(sl, logger.GetLevel() <= zerolog.DebugLevel, false, false)
	srv.Start()
	if msg := sl.fatal.Load(); msg != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("starting the embedded NATS server: %s", *msg)
	}
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("starting the embedded NATS server: not ready after 30s")
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return nil, errors.New("starting the embedded NATS server: JetStream is not enabled")
	}
	return srv, nil
}

// serverLogger routes the embedded server's log to zerolog. Its notices are
// debug-level chatter; its warnings and errors keep their level.
type serverLogger struct {
	l     zerolog.Logger
	fatal atomic.Pointer[string]
}

func (s *serverLogger) Noticef(format string, v ...any) { s.l.Debug().Msgf(format, v...) }
func (s *serverLogger) Warnf(format string, v ...any)   { s.l.Warn().Msgf(format, v...) }
func (s *serverLogger) Errorf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s *serverLogger) Debugf(format string, v ...any)  { s.l.Debug().Msgf(format, v...) }
func (s *serverLogger) Tracef(format string, v ...any)  { s.l.Trace().Msgf(format, v...) }

// Fatalf records the message: the embedded server must not exit the
// process; OpenJetStream returns it as an error.
func (s *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	s.fatal.Store(&msg)
	s.l.Error().Msg(msg)
}

// Publish encodes b into messages of at most MaxMsgBytes and publishes them
// asynchronously, blocking while MaxInFlight messages await their ack. See
// Bus for the contract.
func (j *JetStream) Publish(ctx context.Context, b *event.Batch) error {
	if b == nil {
		return errors.New("publishing a nil batch")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.publishing.Add(1)
	j.mu.Unlock()
	defer j.publishing.Done()

	chunks, err := encodeBatch(b.Events, j.maxPayload, j.getBuf)
	if err != nil {
		return err
	}
	if len(chunks) == 0 {
		j.stats.done(b, nil)
		return nil
	}
	t := &pubTracker{b: b, remaining: len(chunks)}
	for i, c := range chunks {
		m := &nats.Msg{
			Subject: j.cfg.Subject,
			Data:    c.data,
			Header:  nats.Header{jetstream.MsgIDHeader: []string{c.id}},
		}
		for {
			paf, err := j.js.PublishMsgAsync(m)
			if err == nil {
				select {
				case j.acks <- pendingAck{t: t, paf: paf, data: c.data}:
				case <-ctx.Done():
					j.putBufs(chunks[i+1:])
					return ctx.Err()
				case <-j.closing:
					j.putBufs(chunks[i+1:])
					return ErrClosed
				}
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				j.putBufs(chunks[i:])
				return fmt.Errorf("publishing to stream %q: %w", j.cfg.Stream, err)
			}
			// Backpressure: MaxInFlight messages await their ack and
			// none came within the stall wait. Try again.
			select {
			case <-ctx.Done():
				j.putBufs(chunks[i:])
				return ctx.Err()
			case <-j.closing:
				j.putBufs(chunks[i:])
				return ErrClosed
			default:
			}
		}
	}
	return nil
}

// getBuf returns an empty message buffer.
func (j *JetStream) getBuf() []byte {
	if p, ok := j.bufs.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 64<<10)
}

// putBufs returns the buffers of chunks that were not sent, or whose publish
// is resolved (no retry can read them any more), to the pool.
func (j *JetStream) putBufs(chunks []chunk) {
	for _, c := range chunks {
		j.putBuf(c.data)
	}
}

func (j *JetStream) putBuf(b []byte) {
	if cap(b) <= 2*j.cfg.MaxMsgBytes {
		b = b[:0]
		j.bufs.Put(&b)
	}
}

// complete awaits publish acks in publish order and completes batches.
func (j *JetStream) complete() {
	defer close(j.completerDone)
	for {
		select {
		case p := <-j.acks:
			select {
			case ack := <-p.paf.Ok():
				j.acked(p, ack, nil)
			case err := <-p.paf.Err():
				j.acked(p, nil, err)
			case <-j.stopCompleter:
				j.resolveNow(p)
			}
		case <-j.stopCompleter:
			for {
				select {
				case p := <-j.acks:
					j.resolveNow(p)
				default:
					return
				}
			}
		}
	}
}

// resolveNow completes p with its outcome if known, else with ErrClosed.
func (j *JetStream) resolveNow(p pendingAck) {
	select {
	case ack := <-p.paf.Ok():
		j.acked(p, ack, nil)
	case err := <-p.paf.Err():
		j.acked(p, nil, err)
	default:
		// Unresolved: a retry may still read the buffer; leave it to the GC.
		p.data = nil
		j.acked(p, nil, ErrClosed)
	}
}

func (j *JetStream) acked(p pendingAck, ack *jetstream.PubAck, err error) {
	if p.data != nil {
		j.putBuf(p.data)
	}
	t := p.t
	if err != nil {
		if t.err == nil {
			t.err = fmt.Errorf("publishing to stream %q: %w", j.cfg.Stream, err)
		}
	} else {
		j.stats.publishedMessages.Add(1)
		if ack.Duplicate {
			j.stats.duplicateMessages.Add(1)
		}
	}
	t.remaining--
	if t.remaining == 0 {
		j.stats.done(t.b, t.err)
	}
}

// Pending returns how many messages consumer name has not acknowledged:
// those not yet delivered plus those delivered and awaiting their ack.
func (j *JetStream) Pending(ctx context.Context, name string) (uint64, error) {
	c := j.consumers[name]
	if c == nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownConsumer, name)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading consumer %q: %w", name, err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// Stats returns the bus's counters.
func (j *JetStream) Stats() Stats { return j.stats.snapshot() }

// Close stops publishing and consuming, waits up to PublishTimeout for
// outstanding publish acks, completes the batches still unresolved with
// Done(ErrClosed), closes the connection and shuts the embedded server down
// (its store is flushed; unacknowledged messages are delivered again after
// a reopen). See Bus.
func (j *JetStream) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	close(j.closing)
	j.mu.Unlock()

	j.publishing.Wait()
	j.consuming.Wait()
	var errs []error
	wait := time.NewTimer(j.cfg.PublishTimeout)
	select {
	case <-j.js.PublishAsyncComplete():
	case <-wait.C:
		errs = append(errs, fmt.Errorf("closing the bus: %d publish acks still outstanding after %s",
			j.js.PublishAsyncPending(), j.cfg.PublishTimeout))
	}
	wait.Stop()
	close(j.stopCompleter)
	<-j.completerDone
	if err := j.shutdown(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// shutdown closes the connection and stops the embedded server.
func (j *JetStream) shutdown() error {
	var err error
	if j.nc != nil {
		if !j.nc.IsClosed() {
			if ferr := j.nc.FlushTimeout(5 * time.Second); ferr != nil && !errors.Is(ferr, nats.ErrConnectionClosed) {
				err = fmt.Errorf("closing the bus: flushing the NATS connection: %w", ferr)
			}
		}
		j.nc.Close()
	}
	if j.srv != nil {
		j.srv.Shutdown()
		j.srv.WaitForShutdown()
	}
	return err
}
