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
	c := &Collector{name: name, spec: *s, scheme: scheme, addr: addr, m: m, router: rt,
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
	prs := newParser(c.spec.KeepOriginal, c.spec.Parser)
	var deadline time.Time
	for {
		want := time.Time{}
		if len(b.events) > 0 {
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
		b.added(prs.parse(b.slot(), msg, rt.zone, meta{collector: c.name, tenant: rt.tenant, addr: addr, received: time.Now()}))
		if len(b.events) >= c.spec.BatchSize {
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

// batcher collects one connection's (or the UDP worker's) events into
// batches and publishes them, with at most spec.InFlight unacknowledged.
// Publishing (which encodes the batch) runs on its own goroutine so that
// parsing the next batch proceeds meanwhile on another core; the in-flight
// slot is taken before the hand-over, so the window of events read but not
// acknowledged stays (InFlight+1)×BatchSize.
type batcher struct {
	c        *Collector
	p        collectors.Publisher
	events   []event.Event
	first    time.Time
	slots    chan struct{}
	onFail   func()
	pubc     chan *event.Batch
	pubDone  chan struct{}
	mu       sync.Mutex
	err      error
	msgs     int
	parseErr int
	bytes    int
}

func newBatcher(ctx context.Context, c *Collector, p collectors.Publisher, onFail func()) *batcher {
	b := &batcher{c: c, p: p, onFail: onFail, slots: make(chan struct{}, c.spec.InFlight),
		events: make([]event.Event, 0, c.spec.BatchSize), pubc: make(chan *event.Batch), pubDone: make(chan struct{})}
	go b.publishLoop(ctx)
	return b
}

// publishLoop publishes the batches flush hands over until pubc closes.
// When ctx is done a batch is still published, bounded by shutdownTimeout,
// because its events were read from the sender.
func (b *batcher) publishLoop(ctx context.Context) {
	defer close(b.pubDone)
	for batch := range b.pubc {
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

// slot appends a zero event to the pending ones and returns it for the
// parser to fill; added must follow.
func (b *batcher) slot() *event.Event {
	if len(b.events) == 0 {
		b.first = time.Now()
	}
	b.events = append(b.events, event.Event{})
	return &b.events[len(b.events)-1]
}

// added counts the message whose event slot returned, and whether it
// parsed.
func (b *batcher) added(parsed bool) {
	b.msgs++
	if !parsed {
		b.parseErr++
	}
}

// failed returns the first publishing error.
func (b *batcher) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// flush hands the pending events to the publishing goroutine, first waiting
// (without reading further) until fewer than InFlight batches await
// acknowledgement. It returns an error when ctx is done first or an earlier
// batch failed; the events then stay pending.
func (b *batcher) flush(ctx context.Context) error {
	m := b.c.m
	if b.msgs > 0 || b.bytes > 0 {
		m.messages.Add(float64(b.msgs))
		m.parseErrors.Add(float64(b.parseErr))
		m.bytes.Add(float64(b.bytes))
		m.shared.In.Add(float64(b.msgs))
		m.shared.ParseErrors.Add(float64(b.parseErr))
		m.shared.Bytes.Add(float64(b.bytes))
		if b.msgs > 0 {
			m.lastSeen.Set(float64(time.Now().UnixNano()) / 1e9)
			m.shared.LastSeen.Set(float64(time.Now().UnixNano()) / 1e9)
		}
		b.msgs, b.parseErr, b.bytes = 0, 0, 0
	}
	if len(b.events) == 0 {
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
	n := len(b.events)
	b.pubc <- event.NewBatch(b.events, func(err error) {
		if err != nil {
			m.failed.Add(float64(n))
			b.fail(fmt.Errorf("bus did not store a syslog batch: %w", err))
		} else {
			m.published.Add(float64(n))
		}
		<-b.slots
	})
	b.events = make([]event.Event, 0, b.c.spec.BatchSize)
	return nil
}

// finish publishes what is pending and waits for every batch's
// acknowledgement, bounded by shutdownTimeout even when ctx is done.
func (b *batcher) finish(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := b.flush(fctx); err != nil {
		b.c.m.failed.Add(float64(len(b.events)))
		b.c.log.Warn().Err(err).Int("events", len(b.events)).Msg("syslog events read but not published at shutdown")
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
