// Package audit defines the append-only, hash-chained audit log entry: every
// state change of an incident, dossier or drill is recorded as an Entry whose
// Hash covers its content and the previous entry's Hash, so that an edited,
// removed or reordered entry breaks the chain and Verify finds it.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Entry is one audited state change.
type Entry struct {
	Seq        int64           `json:"seq"`
	Time       time.Time       `json:"time"`
	Actor      string          `json:"actor"` // "user:<name>" or "system:<component>"
	Tenant     string          `json:"tenant"`
	Action     string          `json:"action"` // e.g. "incident.open", "incident.transition"
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Detail     json.RawMessage `json:"detail,omitempty"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// Genesis is the PrevHash of the first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Seal sets e.PrevHash to prev and computes e.Hash.
func (e *Entry) Seal(prev string) {
	e.PrevHash = prev
	e.Hash = e.sum()
}

func (e *Entry) sum() string {
	h := sha256.New()
	// A fixed field order; Detail is hashed as stored.
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00", e.Seq, e.Time.UTC().Format(time.RFC3339Nano),
		e.Actor, e.Tenant, e.Action, e.ObjectType, e.ObjectID)
	h.Write(e.Detail)
	h.Write([]byte{0})
	h.Write([]byte(e.PrevHash))
	return hex.EncodeToString(h.Sum(nil))
}

// Verifier checks entries one by one, in sequence order.
type Verifier struct {
	prev    string
	nextSeq int64
	n       int64
}

// NewVerifier starts a check at the first entry.
func NewVerifier() *Verifier { return &Verifier{prev: Genesis, nextSeq: 1} }

// Check verifies the next entry: its sequence number follows the previous
// one, it links to the previous hash, and its own hash matches its content.
func (v *Verifier) Check(e *Entry) error {
	switch {
	case e.Seq != v.nextSeq:
		return fmt.Errorf("audit entry %d: expected sequence %d (entry missing or reordered)", e.Seq, v.nextSeq)
	case e.PrevHash != v.prev:
		return fmt.Errorf("audit entry %d: previous hash does not match entry %d", e.Seq, e.Seq-1)
	case e.Hash != e.sum():
		return fmt.Errorf("audit entry %d: content does not match its hash (entry modified)", e.Seq)
	}
	v.prev, v.nextSeq = e.Hash, e.Seq+1
	v.n++
	return nil
}

// Count returns how many entries verified.
func (v *Verifier) Count() int64 { return v.n }

// Head returns the hash of the last verified entry.
func (v *Verifier) Head() string { return v.prev }
