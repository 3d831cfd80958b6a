package eventid

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/minio/highwayhash"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// TestKey checks keyed IDs: deterministic for one key, different across
// keys, tenants and inputs, the long-input path equal to the short one's
// definition, and a nil key giving NewID's IDs.
func TestKey(t *testing.T) {
	k1, err := NewKey(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := NewKey(bytes.Repeat([]byte{2}, KeySize))
	if _, err := NewKey(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted")
	}
	raw := []byte("<134>1 - h sshd - - - Failed password")
	a := k1.ID("t", raw)
	if len(a) != 32 || a != k1.ID("t", raw) {
		t.Fatalf("ID %q is not 32 hex characters or not deterministic", a)
	}
	for _, other := range []string{k2.ID("t", raw), k1.ID("t2", raw), k1.ID("t", raw[1:]), k1.ID("", append([]byte("t\x00"), raw...))} {
		if other == a {
			t.Errorf("different key, tenant or input gave the same ID %s", a)
		}
	}
	// Inputs longer than the stack buffer take the streaming path: it must
	// hash the same bytes (tenant, NUL, raw).
	long := bytes.Repeat([]byte("x"), 2000)
	h, _ := highwayhash.New128(bytes.Repeat([]byte{1}, KeySize))
	h.Write(append([]byte("t\x00"), long...))
	if got, want := k1.ID("t", long), hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("long input: %s, want %s", got, want)
	}
	var none *Key
	if got, want := none.ID("t", raw), event.NewID("t", raw); got != want {
		t.Errorf("nil key: %s, want NewID's %s", got, want)
	}
}

// sample is a typical log line.
var sample = []byte("<134>1 2026-11-25T10:00:00.000000+07:00 web01.camau.gov.vn sshd 4242 - - Failed password for invalid user admin from 203.0.113.9 port 22022 ssh2")

func BenchmarkID(b *testing.B) {
	k, _ := NewKey(make([]byte, KeySize))
	b.ReportAllocs()
	for b.Loop() {
		k.ID("so-tttt", sample)
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		event.NewID("so-tttt", sample)
	}
}

// TestMinter checks that minted IDs equal Key.ID's (and NewID's without a
// key) and stay intact as later IDs fill and replace the block.
func TestMinter(t *testing.T) {
	k, _ := NewKey(bytes.Repeat([]byte{7}, KeySize))
	for _, m := range []*Minter{{Key: k}, {}} {
		var ids []string
		for i := range 1000 {
			raw := []byte(fmt.Sprint("line ", i))
			if i == 500 {
				raw = bytes.Repeat([]byte("long "), 200) // beyond the stack buffer
			}
			ids = append(ids, m.ID("t", raw))
		}
		for i, id := range ids {
			raw := []byte(fmt.Sprint("line ", i))
			if i == 500 {
				raw = bytes.Repeat([]byte("long "), 200)
			}
			if want := m.Key.ID("t", raw); id != want {
				t.Fatalf("ID %d: %s, want %s", i, id, want)
			}
		}
	}
}
