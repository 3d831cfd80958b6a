package main

import "encoding/binary"

// clientHello is a TLS 1.2 record holding a ClientHello that offers two
// cipher suites and names sni in the server_name extension.
func clientHello(sni string) string {
	body := []byte{3, 3}
	body = append(body, random(1)...)
	body = append(body, 0)                         // session id
	body = append(body, 0, 4, 0x13, 1, 0xc0, 0x2f) // cipher suites
	body = append(body, 1, 0)                      // compression: null
	name := append([]byte{0}, u16(len(sni))...)
	name = append(name, sni...)
	list := append(u16(len(name)), name...)
	ext := append(append([]byte{0, 0}, u16(len(list))...), list...)
	body = append(append(body, u16(len(ext))...), ext...)
	return record(1, body)
}

// serverHello is a TLS 1.2 record holding a ServerHello that chooses
// TLS_AES_128_GCM_SHA256.
func serverHello() string {
	body := []byte{3, 3}
	body = append(body, random(2)...)
	body = append(body, 0, 0x13, 1, 0, 0, 0)
	return record(2, body)
}

// record wraps a handshake message of type typ in a TLS record.
func record(typ byte, body []byte) string {
	hs := append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return string(append(append([]byte{22, 3, 1}, u16(len(hs))...), hs...))
}

func u16(n int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(n)) }

// random is a deterministic 32-byte hello random.
func random(seed byte) []byte {
	r := make([]byte, 32)
	for i := range r {
		r[i] = seed*31 + byte(i)*7
	}
	return r
}
