package pcap

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/tlshello"
)

// Options configure a Processor. Zero fields take the defaults.
type Options struct {
	// Tenant and Source are stamped on every event; Tenant is part of the
	// deterministic event ID.
	Tenant string
	Source string
	// Inactivity timeouts; defaults are Zeek's (5 min TCP, 1 min UDP and
	// ICMP). Flows of other IP protocols use UDPTimeout.
	TCPTimeout  time.Duration
	UDPTimeout  time.Duration
	ICMPTimeout time.Duration
	// MaxFlows bounds the flow table (default 1,048,576); when it is full
	// the flow idle the longest is reported early and counted in
	// Stats.FlowsEvicted.
	MaxFlows int
	// MaxPacketBytes bounds a frame (default 262,144, tcpdump's snap
	// length). Packet skips larger frames, counted in Stats.Oversized; in a
	// file, a larger record ends the read with an error, since the
	// reader's buffers are sized from it.
	MaxPacketBytes int
	// MaxDNSAnswers bounds the answers reported per DNS message (default 32).
	MaxDNSAnswers int
	// CommunityID selects the seed and encoding of network.community_id.
	CommunityID CommunityID
	// MaxStreamBytes bounds the in-order bytes inspected per TCP direction
	// (default 1 MiB, HTTP bodies skipped included); later bytes are not
	// inspected, counted in Stats.StreamLimit.
	MaxStreamBytes int
	// MaxStreamBuffer bounds the bytes buffered per TCP direction, in-order
	// bytes not yet parsed plus out-of-order segments (default 32 KiB);
	// inspection of the direction stops when it is hit, counted in
	// Stats.StreamLimit.
	MaxStreamBuffer int
	// MaxOutOfOrder bounds the out-of-order segments held per TCP
	// direction (default 16); one more is a gap, counted in
	// Stats.StreamGaps, and ends inspection of the direction.
	MaxOutOfOrder int
	// MaxReassemblyBytes bounds the bytes buffered for all TCP streams
	// together (default 64 MiB); a direction that would exceed it stops
	// being inspected, counted in Stats.ReassemblyLimit.
	MaxReassemblyBytes int
	// MaxHTTPPending bounds the requests waiting for their response per
	// connection (default 32); the oldest is reported without a response
	// when it is hit.
	MaxHTTPPending int
}

func (o Options) withDefaults() Options {
	if o.TCPTimeout <= 0 {
		o.TCPTimeout = DefaultTCPTimeout
	}
	if o.UDPTimeout <= 0 {
		o.UDPTimeout = DefaultUDPTimeout
	}
	if o.ICMPTimeout <= 0 {
		o.ICMPTimeout = DefaultICMPTimeout
	}
	if o.MaxFlows <= 0 {
		o.MaxFlows = DefaultMaxFlows
	}
	if o.MaxPacketBytes <= 0 {
		o.MaxPacketBytes = 262144
	}
	if o.MaxDNSAnswers <= 0 {
		o.MaxDNSAnswers = 32
	}
	if o.MaxStreamBytes <= 0 {
		o.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if o.MaxStreamBuffer <= 0 {
		o.MaxStreamBuffer = DefaultMaxStreamBuffer
	}
	if o.MaxOutOfOrder <= 0 {
		o.MaxOutOfOrder = 16
	}
	if o.MaxReassemblyBytes <= 0 {
		o.MaxReassemblyBytes = DefaultMaxReassemblyBytes
	}
	if o.MaxHTTPPending <= 0 {
		o.MaxHTTPPending = 32
	}
	return o
}

// Stats counts what a Processor saw. Malformed, unsupported and oversized
// packets are counted and skipped, never fatal.
type Stats struct {
	Packets         uint64 `json:"packets"`
	Bytes           uint64 `json:"bytes"`
	NonIP           uint64 `json:"non_ip"`
	Malformed       uint64 `json:"malformed"`
	UnsupportedLink uint64 `json:"unsupported_link"`
	Fragments       uint64 `json:"fragments"`
	Oversized       uint64 `json:"oversized"`
	Flows           uint64 `json:"flows"`
	FlowsEvicted    uint64 `json:"flows_evicted"`
	DNSMessages     uint64 `json:"dns_messages"`
	DNSMalformed    uint64 `json:"dns_malformed"`
	// TCP stream inspection.
	StreamBytes     uint64 `json:"stream_bytes"`     // in-order payload bytes inspected
	StreamGaps      uint64 `json:"stream_gaps"`      // directions ended by a gap or too many out-of-order segments
	StreamLimit     uint64 `json:"stream_limit"`     // directions ended by MaxStreamBytes or MaxStreamBuffer
	ReassemblyLimit uint64 `json:"reassembly_limit"` // directions ended by MaxReassemblyBytes
	AppMalformed    uint64 `json:"app_malformed"`    // TLS, HTTP, SSH or login streams that failed to parse
	TLSHandshakes   uint64 `json:"tls_handshakes"`
	HTTPMessages    uint64 `json:"http_messages"`
	SSHConnections  uint64 `json:"ssh_connections"`
	Logins          uint64 `json:"cleartext_logins"`
}

// Processor turns packets into flow, DNS, TLS, HTTP, SSH and cleartext
// login events. It is not safe for
// concurrent use; run one per capture or worker.
type Processor struct {
	opts  Options
	dec   *decoder
	table *flowTable
	dns   layers.DNS
	pkt   packet
	emit  func(*event.Event) error
	err   error // first emit error; stops processing
	stats Stats
	idBuf []byte
	// reasm is the bytes buffered by all TCP streams (MaxReassemblyBytes).
	reasm int
	ch    tlshello.ClientHello
	sh    tlshello.ServerHello
}

// NewProcessor returns a Processor that hands each event to emit. An error
// from emit stops the Processor and is returned by Packet and Flush. emit
// owns the event it receives.
func NewProcessor(opts Options, emit func(*event.Event) error) *Processor {
	p := &Processor{opts: opts.withDefaults(), dec: newDecoder(), emit: emit}
	p.table = newFlowTable(p.opts, p.flowDone)
	return p
}

// Stats returns the counters so far.
func (p *Processor) Stats() Stats {
	s := p.stats
	s.FlowsEvicted = p.table.evicted
	return s
}

// Packet processes one frame of link type lt. data is only read during the
// call. It returns an error only when emit failed.
func (p *Processor) Packet(lt layers.LinkType, data []byte, ci gopacket.CaptureInfo) error {
	if p.err != nil {
		return p.err
	}
	p.stats.Packets++
	p.stats.Bytes += uint64(max(ci.Length, len(data)))
	if len(data) > p.opts.MaxPacketBytes {
		p.stats.Oversized++
		return nil
	}
	pk := &p.pkt
	switch err := p.dec.decode(lt, data, ci, pk); {
	case err == nil:
	case errors.Is(err, errNoIP):
		p.stats.NonIP++
		return nil
	case errors.Is(err, errUnsupportedLink):
		p.stats.UnsupportedLink++
		return nil
	case errors.Is(err, errFragment):
		p.stats.Fragments++
		return nil
	default:
		p.stats.Malformed++
		return nil
	}
	f := p.table.add(pk)
	switch {
	case pk.proto == protoUDP && (pk.sport == 53 || pk.dport == 53) && len(pk.payload) > 0:
		if p.dnsMessage(pk, f, pk.payload) {
			f.svc = svcDNS
		}
	case pk.proto == protoTCP:
		p.tcpSegment(pk, f)
	}
	return p.err
}

// Flush reports every flow still open, oldest first. Call it at the end of
// a capture.
func (p *Processor) Flush() error {
	if p.err != nil {
		return p.err
	}
	p.table.flush()
	return p.err
}

func (p *Processor) send(ev *event.Event) {
	if p.err != nil {
		return
	}
	if err := p.emit(ev); err != nil {
		p.err = fmt.Errorf("pcap: emit: %w", err)
	}
}

// decodeDNS decodes a DNS message into p.dns, containing decoder panics.
func (p *Processor) decodeDNS(b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("dns decoder panic: %v", r)
		}
	}()
	return p.dns.DecodeFromBytes(b, gopacket.NilDecodeFeedback)
}
