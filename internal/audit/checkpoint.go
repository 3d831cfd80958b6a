package audit

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Checkpoint is a signed statement of the head of the audit log: "entry Seq
// has hash Hash, as of Time". The hash chain alone finds an edited,
// removed or reordered entry, but not a removed tail (the shortened log is
// still a valid chain); a checkpoint kept beside the log finds that too and
// attests the head to anyone holding the public key.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// Payload returns the canonical bytes that are signed:
//
//	mangrove-audit-checkpoint\nseq=<n>\nhash=<h>\ntime=<RFC3339Nano, UTC>\n
func (c *Checkpoint) Payload() []byte {
	b := make([]byte, 0, 128)
	b = append(b, "mangrove-audit-checkpoint\nseq="...)
	b = strconv.AppendInt(b, c.Seq, 10)
	b = append(b, "\nhash="...)
	b = append(b, c.Hash...)
	b = append(b, "\ntime="...)
	b = c.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '\n')
}

// Signer signs checkpoint payloads. Implementations must be safe for
// concurrent use; auditkey.Key is the one backed by the signing key file.
type Signer interface {
	// KeyID names the key; it is stored in Checkpoint.KeyID.
	KeyID() string
	// Sign returns the signature of payload.
	Sign(payload []byte) ([]byte, error)
}

// CheckpointVerifier checks checkpoint signatures. Verify returns nil only if
// sig is a valid signature of payload by the key named keyID; an unknown key
// is an error.
type CheckpointVerifier interface {
	Verify(keyID string, payload, sig []byte) error
}

// NewCheckpoint returns the checkpoint of the head (seq, hash) at time at,
// signed by s.
func NewCheckpoint(s Signer, seq int64, hash string, at time.Time) (Checkpoint, error) {
	if seq < 1 {
		return Checkpoint{}, errors.New("signing an audit checkpoint: the log is empty")
	}
	c := Checkpoint{Seq: seq, Hash: hash, Time: at.UTC(), KeyID: s.KeyID()}
	sig, err := s.Sign(c.Payload())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("signing audit checkpoint at entry %d: %w", seq, err)
	}
	c.Signature = sig
	return c, nil
}

// Verify checks the checkpoint's signature with v.
func (c *Checkpoint) Verify(v CheckpointVerifier) error {
	if err := v.Verify(c.KeyID, c.Payload(), c.Signature); err != nil {
		return fmt.Errorf("audit checkpoint at entry %d (key %s): signature invalid: %w", c.Seq, c.KeyID, err)
	}
	return nil
}
