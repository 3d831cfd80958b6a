package pcap

import (
	"net/netip"
	"time"
)

// Zeek's default inactivity timeouts (tcp_inactivity_timeout,
// udp_inactivity_timeout, icmp_inactivity_timeout) and the delay after
// which a closed TCP connection is reported (tcp_close_delay).
const (
	DefaultTCPTimeout   = 5 * time.Minute
	DefaultUDPTimeout   = time.Minute
	DefaultICMPTimeout  = time.Minute
	DefaultClosedDelay  = 5 * time.Second
	DefaultMaxFlows     = 1 << 20
	maxHistory          = 16
	sweepEveryCaptureNs = int64(time.Second)
)

// flowKey is the canonical (ordered) 5-tuple of a flow.
type flowKey struct {
	a, b         netip.Addr
	aPort, bPort uint16
	proto        uint8
}

// flow is one bidirectional connection. The originator is the sender of
// the first packet seen.
type flow struct {
	key                flowKey
	orig, resp         netip.Addr
	origPort, respPort uint16
	oneWay             bool
	start, last        time.Time
	origPkts, respPkts uint64
	origBytes          uint64
	respBytes          uint64
	flags              [2]uint8 // TCP flags seen, [0] orig, [1] resp
	history            [maxHistory]byte
	nhist              uint8
	closed             bool
	svc                service   // application protocol, once recognized
	app                *tcpApp   // TCP stream inspection state, nil before data
	isn                [2]uint32 // initial sequence number per direction, from the SYN
	hasISN             [2]bool
	appOff             bool // stream inspection finished for good
	list               int  // index of the expiry list the flow is on
	prev, next         *flow
}

// lru is an intrusive list of flows ordered by last packet time.
type lru struct {
	head, tail *flow
	timeout    time.Duration
}

func (l *lru) remove(f *flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

func (l *lru) pushBack(f *flow) {
	f.prev, f.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

// Expiry lists: one per timeout, so each is ordered by expiry time.
const (
	listTCP = iota
	listUDP
	listICMP
	listClosed
	nLists
)

// flowTable tracks flows; flows leave it through done when they time out,
// are evicted because the table is full, or at flush.
type flowTable struct {
	flows     map[flowKey]*flow
	lists     [nLists]lru
	maxFlows  int
	lastSweep int64
	done      func(*flow, string)
	free      *flow
	evicted   uint64
}

func newFlowTable(opts Options, done func(f *flow, reason string)) *flowTable {
	t := &flowTable{flows: make(map[flowKey]*flow), maxFlows: opts.MaxFlows, done: done}
	t.lists[listTCP].timeout = opts.TCPTimeout
	t.lists[listUDP].timeout = opts.UDPTimeout
	t.lists[listICMP].timeout = opts.ICMPTimeout
	t.lists[listClosed].timeout = DefaultClosedDelay
	return t
}

func listFor(proto uint8) int {
	switch proto {
	case protoTCP:
		return listTCP
	case protoICMP, protoICMPv6:
		return listICMP
	}
	return listUDP
}

// add accounts one packet and returns its flow.
func (t *flowTable) add(p *packet) *flow {
	now := p.ts.UnixNano()
	if now-t.lastSweep >= sweepEveryCaptureNs {
		t.expire(p.ts)
		t.lastSweep = now
	}
	k := flowKey{a: p.src, b: p.dst, aPort: p.sport, bPort: p.dport, proto: p.proto}
	if !p.oneWay && !ordered(p.src, p.dst, p.sport, p.dport) {
		k = flowKey{a: p.dst, b: p.src, aPort: p.dport, bPort: p.sport, proto: p.proto}
	}
	f, ok := t.flows[k]
	if !ok {
		if len(t.flows) >= t.maxFlows {
			t.evictOldest()
		}
		f = t.free
		if f != nil {
			t.free = f.next
			*f = flow{}
		} else {
			f = new(flow)
		}
		f.key = k
		f.orig, f.resp, f.origPort, f.respPort = p.src, p.dst, p.sport, p.dport
		f.oneWay = p.oneWay
		f.start = p.ts
		f.list = listFor(p.proto)
		t.flows[k] = f
	} else {
		t.lists[f.list].remove(f)
	}
	if p.ts.After(f.last) {
		f.last = p.ts
	}
	dir := 0
	if p.src != f.orig || p.sport != f.origPort {
		dir = 1
	}
	if p.src == p.dst && p.sport == p.dport {
		dir = 0
	}
	if dir == 0 {
		f.origPkts++
		f.origBytes += uint64(p.length)
	} else {
		f.respPkts++
		f.respBytes += uint64(p.length)
	}
	if p.proto == protoTCP {
		f.tcp(dir, p.tcpFlags, len(p.payload) > 0)
	}
	t.lists[f.list].pushBack(f)
	return f
}

// tcp records flags and Zeek-style history letters (upper case for the
// originator), each letter once per direction.
func (f *flow) tcp(dir int, flags uint8, data bool) {
	f.flags[dir] |= flags
	var letters [4]byte
	n := 0
	switch {
	case flags&tcpSYN != 0 && flags&tcpACK != 0:
		letters[n] = 'h'
		n++
	case flags&tcpSYN != 0:
		letters[n] = 's'
		n++
	case flags&tcpACK != 0 && !data && flags&(tcpFIN|tcpRST) == 0:
		letters[n] = 'a'
		n++
	}
	if data {
		letters[n] = 'd'
		n++
	}
	if flags&tcpFIN != 0 {
		letters[n] = 'f'
		n++
	}
	if flags&tcpRST != 0 {
		letters[n] = 'r'
		n++
	}
	for _, c := range letters[:n] {
		if dir == 0 {
			c -= 'a' - 'A'
		}
		if f.hasLetter(c) || int(f.nhist) >= maxHistory {
			continue
		}
		f.history[f.nhist] = c
		f.nhist++
	}
	both := f.flags[0]&tcpFIN != 0 && f.flags[1]&tcpFIN != 0
	if !f.closed && (both || flags&tcpRST != 0) {
		f.closed = true
		f.list = listClosed
	}
}

func (f *flow) hasLetter(c byte) bool {
	for _, h := range f.history[:f.nhist] {
		if h == c {
			return true
		}
	}
	return false
}

// connState is Zeek's conn_state, derived from the TCP flags each side
// sent; for other protocols S0 (only the originator spoke) or SF.
func (f *flow) connState() string {
	if f.key.proto != protoTCP {
		if f.respPkts == 0 {
			return "S0"
		}
		return "SF"
	}
	o, r := f.flags[0], f.flags[1]
	origSyn := o&tcpSYN != 0
	respSynAck := r&tcpSYN != 0 && r&tcpACK != 0
	switch {
	case origSyn && !respSynAck:
		switch {
		case r&tcpRST != 0:
			return "REJ"
		case o&tcpRST != 0:
			return "RSTOS0"
		case o&tcpFIN != 0:
			return "SH"
		}
		return "S0"
	case !origSyn && respSynAck:
		switch {
		case r&tcpRST != 0:
			return "RSTRH"
		case r&tcpFIN != 0:
			return "SHR"
		}
		return "OTH"
	case !origSyn:
		return "OTH"
	}
	switch {
	case o&tcpRST != 0:
		return "RSTO"
	case r&tcpRST != 0:
		return "RSTR"
	case o&tcpFIN != 0 && r&tcpFIN != 0:
		return "SF"
	case o&tcpFIN != 0:
		return "S2"
	case r&tcpFIN != 0:
		return "S3"
	}
	return "S1"
}

// expire ends every flow idle for longer than its timeout at now.
func (t *flowTable) expire(now time.Time) {
	for i := range t.lists {
		l := &t.lists[i]
		for l.head != nil && now.Sub(l.head.last) > l.timeout {
			t.end(l.head, "timeout")
		}
	}
}

// evictOldest ends the flow with the oldest last packet to make room.
func (t *flowTable) evictOldest() {
	var oldest *flow
	for i := range t.lists {
		if h := t.lists[i].head; h != nil && (oldest == nil || h.last.Before(oldest.last)) {
			oldest = h
		}
	}
	if oldest != nil {
		t.evicted++
		t.end(oldest, "evicted")
	}
}

func (t *flowTable) end(f *flow, reason string) {
	t.lists[f.list].remove(f)
	delete(t.flows, f.key)
	t.done(f, reason)
	f.next = t.free
	t.free = f
}

// flush ends every flow, oldest first.
func (t *flowTable) flush() {
	for len(t.flows) > 0 {
		t.evictOldestNoCount()
	}
}

func (t *flowTable) evictOldestNoCount() {
	var oldest *flow
	for i := range t.lists {
		if h := t.lists[i].head; h != nil && (oldest == nil || h.last.Before(oldest.last)) {
			oldest = h
		}
	}
	t.end(oldest, "end")
}
