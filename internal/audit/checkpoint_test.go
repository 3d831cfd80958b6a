package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// edKey is a stdlib ed25519 Signer and CheckpointVerifier for tests (the
// production one is auditkey.Key).
type edKey struct {
	id   string
	priv ed25519.PrivateKey
}

func newEdKey(t *testing.T, id string) *edKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &edKey{id: id, priv: priv}
}

func (k *edKey) KeyID() string                       { return k.id }
func (k *edKey) Sign(payload []byte) ([]byte, error) { return ed25519.Sign(k.priv, payload), nil }
func (k *edKey) Verify(keyID string, payload, sig []byte) error {
	if keyID != k.id {
		return fmt.Errorf("unknown key %q", keyID)
	}
	if !ed25519.Verify(k.priv.Public().(ed25519.PublicKey), payload, sig) {
		return errors.New("bad signature")
	}
	return nil
}

func TestCheckpointPayload(t *testing.T) {
	c := Checkpoint{Seq: 42, Hash: "ab12", Time: time.Date(2026, 11, 25, 17, 4, 5, 120000000, time.FixedZone("ICT", 7*3600))}
	want := "mangrove-audit-checkpoint\nseq=42\nhash=ab12\ntime=2026-11-25T10:04:05.12Z\n"
	if got := string(c.Payload()); got != want {
		t.Fatalf("payload = %q, want %q", got, want)
	}
}

// sealedLog returns n sealed entries.
func sealedLog(n int) []Entry {
	out := make([]Entry, n)
	prev := Genesis
	for i := range out {
		out[i] = Entry{Seq: int64(i + 1), Time: time.Date(2026, 11, 25, 10, 0, i, 0, time.UTC), Actor: "user:lan", Tenant: "so-a",
			Action: "incident.open", ObjectType: "incident", ObjectID: fmt.Sprintf("INC-%d", i+1), Detail: []byte(`{}`)}
		out[i].Seal(prev)
		prev = out[i].Hash
	}
	return out
}

func walk(entries []Entry) Entries {
	return func(yield func(*Entry) error) error {
		for i := range entries {
			if err := yield(&entries[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

func sign(t *testing.T, k Signer, e Entry) Checkpoint {
	t.Helper()
	c, err := NewCheckpoint(k, e.Seq, e.Hash, e.Time.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifyLog(t *testing.T) {
	key := newEdKey(t, "k1")
	other := newEdKey(t, "k2")
	tests := []struct {
		name   string
		mutate func(log []Entry, cps []Checkpoint) ([]Entry, []Checkpoint)
		want   Problem
		seq    int64
		good   int64
		msg    string
	}{
		{"clean", nil, OK, 0, 6, ""},
		{"no checkpoints", func(l []Entry, _ []Checkpoint) ([]Entry, []Checkpoint) { return l, nil }, OK, 0, 6, ""},
		{"empty log, no checkpoints", func([]Entry, []Checkpoint) ([]Entry, []Checkpoint) { return nil, nil }, OK, 0, 0, ""},
		{"modified", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			l[1].Action = "incident.close"
			return l, c
		}, EntryModified, 2, 1, "audit entry 2: content does not match its hash"},
		{"missing in the middle", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			return append(l[:2:2], l[3:]...), c
		}, EntryMissing, 3, 2, "audit entry 3 is missing"},
		{"repeated", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			return append(l[:3:3], l[2:]...), c
		}, EntryMissing, 4, 3, "found entry 3 again"},
		{"reordered", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			l[1], l[2] = l[2], l[1]
			return l, c
		}, EntryMissing, 2, 1, "audit entry 2 is missing: entry 3 follows entry 1"},
		{"rewritten and resealed", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			l[1].Detail = []byte(`{"x":1}`)
			l[1].Seal(l[1].PrevHash)
			return l, c
		}, BrokenLink, 3, 2, "entry 2 rewritten"},
		{"whole chain rewritten", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			l[0].Detail = []byte(`{"x":1}`)
			prev := Genesis
			for i := range l {
				l[i].Seal(prev)
				prev = l[i].Hash
			}
			return l, c
		}, CheckpointMismatch, 3, 2, "audit entry 3: hash"},
		{"tail deleted", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) { return l[:4], c }, TailDeleted, 5, 4,
			"audit entries 5 to 6 are missing: the log ends at entry 4"},
		{"whole log deleted", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) { return nil, c }, TailDeleted, 1, 0,
			"audit entries 1 to 6 are missing"},
		{"forged signature", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			c[1].Signature[0] ^= 1
			return l, c
		}, CheckpointSignatureInvalid, 3, 2, "audit checkpoint at entry 3 (key k1): signature invalid"},
		{"checkpoint by an unknown key", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			return l, append(c, sign(t, other, l[3]))
		}, CheckpointSignatureInvalid, 4, 3, "unknown key"},
		{"forged checkpoint beyond the end", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			return l, append(c, Checkpoint{Seq: 9, Hash: "x", KeyID: "k1", Signature: []byte("junk")})
		}, CheckpointSignatureInvalid, 9, 6, "audit checkpoint at entry 9"},
		{"checkpoint at seq 0", func(l []Entry, c []Checkpoint) ([]Entry, []Checkpoint) {
			x := Checkpoint{Seq: 0, Hash: Genesis, KeyID: "k1"}
			x.Signature, _ = key.Sign(x.Payload())
			return l, append(c, x)
		}, CheckpointMismatch, 0, 0, "cannot exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := sealedLog(6)
			cps := []Checkpoint{sign(t, key, log[5]), sign(t, key, log[2])} // out of order on purpose
			if tt.mutate != nil {
				log, cps = tt.mutate(log, cps)
			}
			r := VerifyLog(walk(log), cps, key)
			if r.Problem != tt.want || r.Seq != tt.seq || r.LastGoodSeq != tt.good || r.Entries != tt.good || !strings.Contains(r.Message, tt.msg) {
				t.Fatalf("report = %+v\nwant %q at %d, last good %d, message containing %q", r, tt.want, tt.seq, tt.good, tt.msg)
			}
			if (r.Err() == nil) != (tt.want == OK) {
				t.Fatalf("Err() = %v", r.Err())
			}
		})
	}
}

func TestVerifyLogReportsAttestation(t *testing.T) {
	key := newEdKey(t, "k1")
	log := sealedLog(5)
	r := VerifyLog(walk(log), []Checkpoint{sign(t, key, log[1]), sign(t, key, log[3])}, key)
	if r.Problem != OK || r.Checkpoints != 2 || r.Attested != 4 || r.LastGoodHash != log[4].Hash {
		t.Fatalf("report = %+v", r)
	}
}

func TestVerifyLogReadError(t *testing.T) {
	log := sealedLog(3)
	boom := errors.New("disk on fire")
	entries := func(yield func(*Entry) error) error {
		if err := yield(&log[0]); err != nil {
			return err
		}
		return boom
	}
	r := VerifyLog(entries, nil, newEdKey(t, "k1"))
	if r.Problem != ReadFailed || r.Seq != 2 || !strings.Contains(r.Message, "disk on fire") {
		t.Fatalf("report = %+v", r)
	}
}

func TestNewCheckpointEmptyLog(t *testing.T) {
	if _, err := NewCheckpoint(newEdKey(t, "k1"), 0, Genesis, time.Now()); err == nil {
		t.Fatal("signed an empty log")
	}
}
