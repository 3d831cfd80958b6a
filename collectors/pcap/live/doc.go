// Package live is the live capture collector (`type: pcap`): it reads an
// interface through an AF_PACKET socket with a TPACKET_V3 ring shared with
// the kernel (pure Go, golang.org/x/sys/unix: no cgo, no libpcap), filters
// in the kernel with a BPF program compiled from a tcpdump expression,
// turns packets into flow, DNS, TLS, HTTP, SSH and login events with the
// collectors/pcap Processor, and publishes them in batches.
//
// A capture cannot slow the network down, so nothing here blocks the ring
// on the bus: batches wait in a bounded queue, and when it is full the
// newest batch is dropped and counted. Packets the kernel could not put in
// a full ring are counted from the socket's statistics. Flows still open
// are reported when the collector stops.
//
// Linux only; elsewhere Run fails with a clear error.
package live
