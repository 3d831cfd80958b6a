package audit

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Entries walks an audit log: it calls yield for every entry in sequence
// order and stops at the first error yield returns, returning it. The
// store's AuditLog method, bound to a context, is one:
//
//	func(yield func(*audit.Entry) error) error { return s.AuditLog(ctx, yield) }
type Entries func(yield func(*Entry) error) error

// Problem is the kind of the first problem VerifyLog found.
type Problem string

// Problems VerifyLog reports.
const (
	// OK: no problem.
	OK Problem = ""
	// EntryModified: an entry's content does not match its own hash.
	EntryModified Problem = "entry_modified"
	// EntryMissing: a sequence number is skipped or repeated (entries
	// deleted from the middle, or reordered).
	EntryMissing Problem = "entry_missing_or_reordered"
	// BrokenLink: an entry does not link to the hash of the one before it
	// (the one before was rewritten with a fresh hash, or entries were
	// reordered or replaced).
	BrokenLink Problem = "broken_link"
	// CheckpointSignatureInvalid: a checkpoint's signature does not verify.
	CheckpointSignatureInvalid Problem = "checkpoint_signature_invalid"
	// TailDeleted: a valid checkpoint attests an entry beyond the end of the
	// log.
	TailDeleted Problem = "tail_deleted"
	// CheckpointMismatch: a valid checkpoint attests a hash other than the
	// entry's at that sequence number.
	CheckpointMismatch Problem = "checkpoint_mismatch"
	// ReadFailed: the log could not be read to the end.
	ReadFailed Problem = "read_failed"
)

// Report is the result of VerifyLog.
type Report struct {
	// Entries is how many entries were checked and found good.
	Entries int64 `json:"entries"`
	// LastGoodSeq is the sequence number of the last good entry (0: none)
	// and LastGoodHash its hash.
	LastGoodSeq  int64  `json:"last_good_seq"`
	LastGoodHash string `json:"last_good_hash"`
	// Checkpoints is how many checkpoints were verified (signature and
	// hash); Attested is the highest sequence number one of them attests.
	Checkpoints int   `json:"checkpoints"`
	Attested    int64 `json:"attested"`
	// Problem is the kind of the first problem (OK if none), Seq the first
	// broken or missing entry it concerns, Message a sentence naming it.
	Problem Problem `json:"problem,omitempty"`
	Seq     int64   `json:"seq,omitempty"`
	Message string  `json:"message,omitempty"`
}

// Err returns nil for a clean log, else an error with the report's message.
func (r *Report) Err() error {
	if r.Problem == OK {
		return nil
	}
	return errors.New(r.Message)
}

// errStop ends the walk at the first problem.
var errStop = errors.New("stop")

// VerifyLog checks a whole audit log against its checkpoints: the chain
// (sequence, links, hashes) entry by entry; at every checkpointed entry, the
// checkpoint's signature (with v) and that it attests the entry's hash; and
// finally that no valid checkpoint attests an entry beyond the end of the
// log. It stops at the first problem. Checkpoints may be in any order.
func VerifyLog(entries Entries, checkpoints []Checkpoint, v CheckpointVerifier) Report {
	cps := slices.Clone(checkpoints)
	slices.SortFunc(cps, func(a, b Checkpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	var (
		r    = Report{LastGoodHash: Genesis}
		next int // index into cps of the next checkpoint to meet
		fail = func(p Problem, seq int64, format string, args ...any) error {
			r.Problem, r.Seq, r.Message = p, seq, fmt.Sprintf(format, args...)
			return errStop
		}
		// checkAt verifies the checkpoints before and at seq; e is the entry
		// at seq.
		checkAt = func(e *Entry) error {
			for next < len(cps) && cps[next].Seq <= e.Seq {
				c := &cps[next]
				next++
				if err := c.Verify(v); err != nil {
					return fail(CheckpointSignatureInvalid, c.Seq, "%v", err)
				}
				if c.Seq < e.Seq {
					// Only possible for seq < 1: entries start at 1.
					return fail(CheckpointMismatch, c.Seq, "audit checkpoint attests entry %d, which cannot exist", c.Seq)
				}
				if c.Hash != e.Hash {
					return fail(CheckpointMismatch, e.Seq, "audit entry %d: hash %s differs from %s attested by the checkpoint of %s (entry or log rewritten)",
						e.Seq, short(e.Hash), short(c.Hash), c.Time.Format("2006-01-02T15:04:05Z07:00"))
				}
				r.Checkpoints++
				r.Attested = c.Seq
			}
			return nil
		}
	)
	err := entries(func(e *Entry) error {
		want := r.LastGoodSeq + 1
		switch {
		case e.Seq > want:
			return fail(EntryMissing, want, "audit entry %d is missing: entry %d follows entry %d (entries deleted or reordered)", want, e.Seq, r.LastGoodSeq)
		case e.Seq < want:
			return fail(EntryMissing, want, "audit entry %d: found entry %d again after entry %d (entries duplicated or reordered)", want, e.Seq, r.LastGoodSeq)
		case e.PrevHash != r.LastGoodHash:
			return fail(BrokenLink, e.Seq, "audit entry %d does not link to entry %d (entry %d rewritten, or entries reordered or replaced)", e.Seq, r.LastGoodSeq, r.LastGoodSeq)
		case e.Hash != e.sum():
			return fail(EntryModified, e.Seq, "audit entry %d: content does not match its hash (entry modified)", e.Seq)
		}
		if err := checkAt(e); err != nil {
			return err
		}
		r.Entries++
		r.LastGoodSeq, r.LastGoodHash = e.Seq, e.Hash
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return r
	case err != nil:
		r.Problem, r.Seq, r.Message = ReadFailed, r.LastGoodSeq+1, fmt.Sprintf("reading audit entry %d: %v", r.LastGoodSeq+1, err)
		return r
	}
	// Checkpoints beyond the end: a forged one is reported as such, a valid
	// one proves the tail was deleted.
	for _, c := range cps[next:] {
		if err := c.Verify(v); err != nil {
			r.Problem, r.Seq, r.Message = CheckpointSignatureInvalid, c.Seq, err.Error()
			return r
		}
	}
	if next < len(cps) {
		last := cps[len(cps)-1]
		r.Problem, r.Seq = TailDeleted, r.LastGoodSeq+1
		r.Message = fmt.Sprintf("audit entries %d to %d are missing: the log ends at entry %d but the checkpoint of %s attests entry %d (tail deleted)",
			r.LastGoodSeq+1, last.Seq, r.LastGoodSeq, last.Time.Format("2006-01-02T15:04:05Z07:00"), last.Seq)
	}
	return r
}

// short abbreviates a hash for messages.
func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}
