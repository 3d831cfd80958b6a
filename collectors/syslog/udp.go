package syslog

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mangrove-soc/mangrove/collectors"
)

// maxUDPSources bounds the sender → route cache of a UDP listener.
const maxUDPSources = 4096

// datagram is one received UDP message waiting to be parsed.
type datagram struct {
	data []byte
	addr netip.AddrPort
	rt   *route
	at   time.Time
}

func (c *Collector) runUDP(ctx context.Context, p collectors.Publisher) error {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", c.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.spec.Listen, err)
	}
	conn := pc.(*net.UDPConn)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	granted, err := setupUDPSocket(conn, c.spec.ReadBuffer)
	if err != nil {
		c.log.Warn().Err(err).Msg("UDP socket options not set: kernel drops are not counted")
	} else if granted > 0 && granted < c.spec.ReadBuffer {
		c.log.Warn().Int("read_buffer", c.spec.ReadBuffer).Int("granted", granted).
			Msg("UDP receive buffer capped by the kernel: raise net.core.rmem_max or grant CAP_NET_ADMIN")
	}
	c.log.Info().Str("addr", conn.LocalAddr().String()).Str("proto", "udp").Int("read_buffer", granted).Msg("syslog listening")
	if c.onListen != nil {
		c.onListen(conn.LocalAddr())
	}
	queue := make(chan datagram, c.spec.UDPQueue)
	var wg sync.WaitGroup
	wg.Go(func() { c.udpWorker(ctx, queue, p) })
	err = c.udpRead(ctx, conn, queue)
	close(queue)
	wg.Wait()
	return err
}

// udpRead reads datagrams into queue and never blocks on it: when the queue
// is full the datagram is dropped and counted for its source.
//
// Datagrams the kernel dropped because the socket buffer was full (the
// reader fell behind) are counted with source "unknown" and reason
// "kernel" where the kernel reports them (Linux: SO_RXQ_OVFL). The counter
// comes with the datagrams, so drops show once the next datagram after
// them is read.
func (c *Collector) udpRead(ctx context.Context, conn *net.UDPConn, queue chan<- datagram) error {
	buf := make([]byte, 65536)
	oob := make([]byte, udpOOBSize)
	var kernelSeen uint32 // the socket's drop counter as last reported
	routes := map[netip.Addr]*route{}
	for {
		if c.beforeRead != nil {
			c.beforeRead()
		}
		n, oobn, _, addr, err := conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading %s: %w", c.spec.Listen, err)
		}
		if d, ok := kernelDrops(oob[:oobn]); ok && d != kernelSeen {
			c.m.drop(unknownSource, reasonKernel, int(d-kernelSeen)) // modulo 2^32
			kernelSeen = d
		}
		ip := addr.Addr().Unmap()
		rt, ok := routes[ip]
		if !ok {
			rt = c.router.match(ip, "")
			if len(routes) >= maxUDPSources {
				clear(routes)
			}
			routes[ip] = rt
		}
		c.m.bytes.Add(float64(n))
		c.m.shared.Bytes.Add(float64(n))
		if rt == nil {
			c.m.drop(unknownSource, reasonRefused, 1)
			continue
		}
		if n > c.spec.MaxMessageSize {
			c.m.drop(rt.name, reasonOversize, 1)
			continue
		}
		select {
		case queue <- datagram{data: append([]byte(nil), buf[:n]...), addr: addr, rt: rt, at: time.Now()}:
		default:
			c.m.drop(rt.name, reasonQueueFull, 1)
		}
	}
}

// udpWorker parses queued datagrams and publishes them in batches; Publish
// blocking fills the queue, and the reader then drops.
//
// When ctx is done the reader stops and closes the queue; the worker still
// publishes what is queued, for at most shutdownTimeout.
func (c *Collector) udpWorker(ctx context.Context, queue <-chan datagram, p collectors.Publisher) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownTimeout, cancel) })
	defer stop()
	ctx = wctx
	b := newBatcher(ctx, c, p, nil)
	defer b.finish(ctx)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case d, ok := <-queue:
			if !ok {
				return
			}
			if ctx.Err() != nil {
				c.m.drop(d.rt.name, reasonShutdown, 1)
				continue
			}
			b.add(d.data, d.rt, d.addr, d.at)
			if b.pending() == 1 {
				timer.Reset(c.spec.BatchWait)
			}
			if b.pending() >= c.spec.BatchSize {
				timer.Stop()
				if b.flush(ctx) != nil {
					return
				}
			}
		case <-timer.C:
			if b.flush(ctx) != nil {
				return
			}
		}
	}
}
