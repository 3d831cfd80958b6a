// Package eventid keys the IDs collectors give the events they read: the
// contract of event.NewID (deterministic, 32 hex characters, the same input
// gives the same ID) at about half its cost, with a secret so that senders
// cannot craft collisions.
package eventid

import (
	"encoding/hex"
	"fmt"
	"unsafe"

	"github.com/minio/highwayhash"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// KeySize is the length of a Key's secret.
const KeySize = 32

// Key is a secret that keys event IDs: Key.ID is event.NewID's contract at about
// half the cost (HighwayHash-128, a keyed pseudo-random function, instead of
// SHA-256), for collectors whose IDs are on the hot path (syslog, Elasticsearch bulk).
//
// An unkeyed fast hash would let a sender craft a message whose ID
// collides with a message still to come, which the store would then drop
// as a duplicate; without the key nobody can. IDs stay deterministic for as
// long as the key does: `mangrove serve` keeps it in its data directory, and
// the nodes of a cluster that must recognize each other's re-sent messages
// share it.
//
// A nil *Key gives event.NewID's IDs.
type Key struct {
	k [KeySize]byte
}

// NewKey returns the Key of secret, which must be KeySize random
// bytes.
func NewKey(secret []byte) (*Key, error) {
	if len(secret) != KeySize {
		return nil, fmt.Errorf("event ID key: %d bytes, want %d", len(secret), KeySize)
	}
	k := &Key{}
	copy(k.k[:], secret)
	return k, nil
}

// ID returns the deterministic ID of an event: a keyed hash of the tenant
// and the source's own identity for the event (typically its raw bytes). It
// is 32 hex characters, like event.NewID's, and safe for concurrent use.
func (k *Key) ID(tenant string, raw []byte) string {
	if k == nil {
		return event.NewID(tenant, raw)
	}
	sum := k.sum(tenant, raw)
	var out [32]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// sum is the keyed hash of tenant, a NUL byte and raw.
func (k *Key) sum(tenant string, raw []byte) (sum [highwayhash.Size128]byte) {
	// Short inputs (nearly every log line) are hashed from a stack buffer.
	var buf [512]byte
	if n := len(tenant) + 1 + len(raw); n <= len(buf) {
		copy(buf[copy(buf[:], tenant)+1:], raw)
		return highwayhash.Sum128(buf[:n], k.k[:])
	}
	h, _ := highwayhash.New128(k.k[:]) // the key has the right size
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write(raw)
	h.Sum(sum[:0])
	return sum
}

// Minter mints IDs like Key.ID for one goroutine (a parser), without an
// allocation per ID: their strings are carved from shared 4 KiB blocks,
// written once and never changed. The zero Minter, or one with a nil key,
// mints event.NewID's IDs. A Minter is not safe for concurrent use.
type Minter struct {
	Key   *Key
	block []byte
}

// ID returns Key.ID(tenant, raw).
func (m *Minter) ID(tenant string, raw []byte) string {
	if m.Key == nil {
		return event.NewID(tenant, raw)
	}
	sum := m.Key.sum(tenant, raw)
	if len(m.block)+2*len(sum) > cap(m.block) {
		m.block = make([]byte, 0, 4096)
	}
	at := len(m.block)
	m.block = hex.AppendEncode(m.block, sum[:])
	return unsafe.String(&m.block[at], 2*len(sum))
}
