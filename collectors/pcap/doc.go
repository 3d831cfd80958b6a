// Package pcap turns captured packets into network events: bidirectional
// flows with the Community ID v1 hash and DNS messages, as ECS events
// (event.dataset "flow" and "dns"), and, from the first bytes of each TCP
// direction put in order, one event per application exchange joined to its
// flow by network.community_id: "network.tls" (SNI, JA3, JA3S, JA4,
// version, cipher, ALPN), "network.http" (one per request/response pair,
// pipelined ones included), "network.ssh" (both banners), and
// "network.ftp" / "network.telnet" (one per cleartext login attempt, with
// the user name and never the password). DNS over TCP is read from the
// reassembled stream. Reassembly memory is bounded per direction and in
// total (Options.MaxStreamBuffer, MaxReassemblyBytes), and every limit hit
// is counted in Stats. See README.md for the fields.
//
// It is the only package of Mangrove that imports gopacket. Files in the
// pcap and pcapng formats are read with gopacket's pure-Go pcapgo readers,
// so importing a capture needs neither cgo nor libpcap. Packets are decoded
// with a DecodingLayerParser over preallocated layers (Ethernet, 802.1Q,
// Linux cooked capture v1 and v2, raw IPv4/IPv6, IPv4, IPv6, TCP, UDP,
// ICMPv4, ICMPv6; SCTP ports are read directly). Every decoding step is
// bounded and recovers from panics: a malformed packet is counted in Stats,
// never fatal.
package pcap
