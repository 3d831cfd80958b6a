package syslog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/eventid"
)

// shutdownTimeout bounds publishing the last partial batches and waiting for
// their acknowledgement when the collector stops.
const shutdownTimeout = 10 * time.Second

// handshakeTimeout bounds a TLS handshake.
const handshakeTimeout = 10 * time.Second

// Collector is a running syslog listener.
type Collector struct {
	name   string
	spec   Spec
	scheme string
	addr   string
	log    zerolog.Logger
	m      *metrics
	router *router
	tls    *tls.Config
	ids    *eventid.Key
	// onListen, when set, is called with the bound address (tests).
	onListen func(net.Addr)
	// beforeRead, when set, is called before each UDP read (tests pause
	// the reader with it).
	beforeRead func()
}

// Build makes the collector named name.
func (s *Spec) Build(name string, env collectors.Env) (collectors.Collector, error) {
	return s.build(name, env)
}

func (s *Spec) build(name string, env collectors.Env) (*Collector, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	scheme, addr, _ := s.listenAddr()
	rt, err := newRouter(s)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(env.Registerer, name)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	c := &Collector{name: name, spec: *s, scheme: scheme, addr: addr, m: m, router: rt, ids: env.IDKey,
		log: env.Logger.With().Str("component", "collectors.syslog").Str("collector", name).Logger()}
	if scheme == "tls" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading cert_file/key_file: %w", err)
		}
		c.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if s.ClientCAFile != "" {
			pem, err := os.ReadFile(s.ClientCAFile)
			if err != nil {
				return nil, fmt.Errorf("reading client_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("client_ca_file %s: no PEM certificate", s.ClientCAFile)
			}
			c.tls.ClientCAs = pool
			c.tls.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return c, nil
}

// Run listens until ctx is done. It returns an error only when it cannot
// listen or the listener fails.
func (c *Collector) Run(ctx context.Context, p collectors.Publisher) error {
	if c.scheme == "udp" {
		return c.runUDP(ctx, p)
	}
	return c.runStream(ctx, p)
}

func (c *Collector) runStream(ctx context.Context, p collectors.Publisher) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.spec.Listen, err)
	}
	if c.tls != nil {
		ln = tls.NewListener(ln, c.tls)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	c.log.Info().Str("addr", ln.Addr().String()).Str("proto", c.scheme).Msg("syslog listening")
	if c.onListen != nil {
		c.onListen(ln.Addr())
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, c.spec.MaxConnections)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accepting on %s: %w", c.spec.Listen, err)
		}
		select {
		case slots <- struct{}{}:
		default:
			c.m.drop(c.sourceName(conn), reasonConnLimit, 1)
			conn.Close()
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			c.serveConn(ctx, conn, p)
		})
	}
}

// unknownSource labels drops of senders no route accepts; their addresses
// are not labels, so that scans cannot grow the metric without bound.
const unknownSource = "unknown"

// sourceName is the metrics label of a connection's sender: its route's
// name, or unknownSource.
func (c *Collector) sourceName(conn net.Conn) string {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		if rt := c.router.match(a.AddrPort().Addr(), ""); rt != nil {
			return rt.name
		}
	}
	return unknownSource
}

// serveConn reads one connection until it ends or ctx is done.
func (c *Collector) serveConn(ctx context.Context, conn net.Conn, p collectors.Publisher) {
	defer conn.Close()
	c.m.connTotal.Inc()
	c.m.connections.Inc()
	defer c.m.connections.Dec()
	var addr netip.AddrPort
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		addr = a.AddrPort()
	}
	cn := ""
	if tc, ok := conn.(*tls.Conn); ok {
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.log.Debug().Err(err).Str("source", addr.String()).Msg("TLS handshake failed")
			c.m.drop(unknownSource, reasonRefused, 1)
			return
		}
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			cn = certs[0].Subject.CommonName
		}
	}
	rt := c.router.match(addr.Addr(), cn)
	if rt == nil {
		c.log.Debug().Str("source", addr.String()).Str("cn", cn).Msg("sender refused: no source matches and no default tenant")
		c.m.drop(unknownSource, reasonRefused, 1)
		return
	}
	b := newBatcher(ctx, c, p, func() { conn.Close() })
	defer b.finish(ctx)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	fr := newFramer(conn, c.spec.MaxMessageSize)
	var deadline time.Time
	for {
		want := time.Time{}
		if b.pending() > 0 {
			want = b.first.Add(c.spec.BatchWait)
		}
		if !want.Equal(deadline) {
			conn.SetReadDeadline(want)
			deadline = want
		}
		if ctx.Err() != nil {
			return
		}
		before := fr.bytesRead
		msg, err := fr.next()
		b.bytes += int(fr.bytesRead - before)
		switch {
		case err == nil:
		case errors.Is(err, errTooLong):
			c.m.drop(rt.name, reasonOversize, 1)
			continue
		case isTimeout(err):
			if ctx.Err() != nil {
				return
			}
			if b.flush(ctx) != nil {
				return
			}
			continue
		default:
			if errors.Is(err, errFraming) {
				c.m.drop(rt.name, reasonFraming, 1)
			}
			return
		}
		b.add(msg, rt, addr, time.Now())
		if b.pending() >= c.spec.BatchSize {
			if b.flush(ctx) != nil {
				return
			}
		}
		if b.failed() != nil {
			return // the bus refused a batch: closing makes the sender resend
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// batcher collects one connection's (or the UDP worker's) messages into
// batches and publishes them, with at most spec.InFlight batches parsed or
// awaiting acknowledgement at once. The reader only frames and copies
// messages (add); each batch is parsed on its own goroutine, so a busy
// connection's batches are parsed on every core while it is read, and
// published in the order they were read by publishLoop. The in-flight slot
// is taken before a batch leaves the reader, so the window of messages read
// but not acknowledged stays (InFlight+1)×BatchSize.
type batcher struct {
	c       *Collector
	p       collectors.Publisher
	raw     *rawBatch
	first   time.Time
	slots   chan struct{}
	onFail  func()
	pubc    chan *pubJob
	pubDone chan struct{}
	// parsers and raws keep spare parsers and raw batches for reuse: at
	// most InFlight+1 of each exist.
	parsers chan *parser
	raws    chan *rawBatch
	mu      sync.Mutex
	err     error
	msgs    int
	bytes   int
}

// rawBatch is messages read but not parsed: their bytes back to back in buf,
// message i ending at msgs[i].end.
type rawBatch struct {
	buf  []byte
	msgs []rawMsg
}

// rawMsg is where one message ends in its rawBatch and what its event gets
// from the transport.
type rawMsg struct {
	end  int
	rt   *route
	addr netip.AddrPort
	at   time.Time
}

// pubJob is one batch on its way to the bus: batch is set, and ready
// closed, once it is parsed.
type pubJob struct {
	batch *event.Batch
	ready chan struct{}
}

func newBatcher(ctx context.Context, c *Collector, p collectors.Publisher, onFail func()) *batcher {
	n := c.spec.InFlight
	b := &batcher{c: c, p: p, onFail: onFail, slots: make(chan struct{}, n),
		pubc: make(chan *pubJob, n), pubDone: make(chan struct{}),
		parsers: make(chan *parser, n+1), raws: make(chan *rawBatch, n+1)}
	b.raw = b.newRaw()
	go b.publishLoop(ctx)
	return b
}

// publishLoop publishes the batches flush hands over, in order, until pubc
// closes. When ctx is done a batch is still published, bounded by
// shutdownTimeout, because its events were read from the sender.
func (b *batcher) publishLoop(ctx context.Context) {
	defer close(b.pubDone)
	for job := range b.pubc {
		<-job.ready
		batch := job.batch
		err := b.p.Publish(ctx, batch)
		if err != nil && ctx.Err() != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
			err = b.p.Publish(sctx, batch)
			cancel()
		}
		if err != nil {
			b.c.m.failed.Add(float64(len(batch.Events)))
			b.c.log.Warn().Err(err).Int("events", len(batch.Events)).Msg("syslog events read but not published")
			b.fail(fmt.Errorf("publishing syslog batch: %w", err))
			<-b.slots
		}
	}
}

func (b *batcher) fail(err error) {
	b.mu.Lock()
	first := b.err == nil
	if first {
		b.err = err
	}
	b.mu.Unlock()
	if first && b.onFail != nil {
		b.onFail()
	}
}

// add copies msg, received at from addr on route rt, into the pending
// batch.
func (b *batcher) add(msg []byte, rt *route, addr netip.AddrPort, at time.Time) {
	r := b.raw
	if len(r.msgs) == 0 {
		b.first = at
	}
	r.buf = append(r.buf, msg...)
	r.msgs = append(r.msgs, rawMsg{end: len(r.buf), rt: rt, addr: addr, at: at})
	b.msgs++
}

// pending returns how many messages wait in the batch being filled.
func (b *batcher) pending() int { return len(b.raw.msgs) }

func (b *batcher) newRaw() *rawBatch {
	select {
	case r := <-b.raws:
		return r
	default:
		return &rawBatch{msgs: make([]rawMsg, 0, b.c.spec.BatchSize)}
	}
}

func (b *batcher) parser() *parser {
	select {
	case p := <-b.parsers:
		return p
	default:
		return newParser(b.c.spec.KeepOriginal, b.c.spec.Parser, b.c.ids)
	}
}

// parse turns raw into the events of job, counts the messages that did not
// parse, and recycles raw and the parser (events keep no reference to
// raw's bytes).
func (b *batcher) parse(job *pubJob, raw *rawBatch) {
	prs := b.parser()
	events := make([]event.Event, len(raw.msgs))
	bad, start := 0, 0
	for i, m := range raw.msgs {
		if !prs.parse(&events[i], raw.buf[start:m.end], m.rt.zone,
			meta{collector: b.c.name, tenant: m.rt.tenant, addr: m.addr, received: m.at}) {
			bad++
		}
		start = m.end
	}
	raw.buf, raw.msgs = raw.buf[:0], raw.msgs[:0]
	select {
	case b.parsers <- prs:
	default:
	}
	select {
	case b.raws <- raw:
	default:
	}
	if bad > 0 {
		b.c.m.parseErrors.Add(float64(bad))
		b.c.m.shared.ParseErrors.Add(float64(bad))
	}
	m, n := b.c.m, len(events)
	job.batch = event.NewBatch(events, func(err error) {
		if err != nil {
			m.failed.Add(float64(n))
			b.fail(fmt.Errorf("bus did not store a syslog batch: %w", err))
		} else {
			m.published.Add(float64(n))
		}
		<-b.slots
	})
	close(job.ready)
}

// failed returns the first publishing error.
func (b *batcher) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// flush hands the pending messages to be parsed and published, first
// waiting (without reading further) until fewer than InFlight batches are
// parsed or await acknowledgement. It returns an error when ctx is done
// first or an earlier batch failed; the messages then stay pending.
func (b *batcher) flush(ctx context.Context) error {
	m := b.c.m
	if b.msgs > 0 || b.bytes > 0 {
		m.messages.Add(float64(b.msgs))
		m.bytes.Add(float64(b.bytes))
		m.shared.In.Add(float64(b.msgs))
		m.shared.Bytes.Add(float64(b.bytes))
		if b.msgs > 0 {
			m.lastSeen.Set(float64(time.Now().UnixNano()) / 1e9)
			m.shared.LastSeen.Set(float64(time.Now().UnixNano()) / 1e9)
		}
		b.msgs, b.bytes = 0, 0
	}
	if b.pending() == 0 {
		return nil
	}
	if err := b.failed(); err != nil {
		return err
	}
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	job := &pubJob{ready: make(chan struct{})}
	raw := b.raw
	b.raw = b.newRaw()
	go b.parse(job, raw)
	b.pubc <- job
	return nil
}

// finish publishes what is pending and waits for every batch's
// acknowledgement, bounded by shutdownTimeout even when ctx is done.
func (b *batcher) finish(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := b.flush(fctx); err != nil {
		b.c.m.failed.Add(float64(b.pending()))
		b.c.log.Warn().Err(err).Int("events", b.pending()).Msg("syslog events read but not published at shutdown")
	}
	close(b.pubc)
	<-b.pubDone
	for range cap(b.slots) {
		select {
		case b.slots <- struct{}{}:
		case <-fctx.Done():
			b.c.log.Warn().Msg("syslog batches not acknowledged at shutdown")
			return
		}
	}
}
