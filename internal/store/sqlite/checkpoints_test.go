package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/detections/exception"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/audit/auditkey"
)

// auditFixture opens a store, appends n audit entries through the store API
// and returns it with the signing key and its directory.
func auditFixture(t *testing.T, n int) (*Store, *auditkey.Key, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(t.Context(), filepath.Join(dir, "mangrove.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key, err := auditkey.LoadOrCreateKey(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	addEntries(t, s, n)
	return s, key, dir
}

func addEntries(t *testing.T, s *Store, n int) {
	t.Helper()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for range n {
		e := exception.Exception{ID: exception.NewID(), Tenant: "so-a", RuleID: "r1", Match: map[string][]string{"host.name": {"ws-1"}},
			Owner: "lan", Reason: "scanner", Expires: t0.Add(24 * time.Hour), Created: t0, CreatedBy: "user:lan"}
		if err := s.CreateException(t.Context(), e, "user:lan"); err != nil {
			t.Fatal(err)
		}
	}
}

func mustCheckpoint(t *testing.T, s *Store, key audit.Signer, wantSeq int64) {
	t.Helper()
	cp, err := s.WriteCheckpoint(t.Context(), key)
	if err != nil || cp.Seq != wantSeq {
		t.Fatalf("WriteCheckpoint = %+v, %v; want seq %d", cp, err, wantSeq)
	}
}

func tamper(t *testing.T, s *Store, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := s.w.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// rehashFrom rewrites entries from seq on with a changed detail at seq and a
// consistent chain after it: what an attacker with write access to the
// database, but not the signing key, can do.
func rehashFrom(t *testing.T, s *Store, seq int64) {
	t.Helper()
	var entries []audit.Entry
	if err := s.AuditLog(t.Context(), func(e *audit.Entry) error { entries = append(entries, *e); return nil }); err != nil {
		t.Fatal(err)
	}
	prev := audit.Genesis
	for _, e := range entries {
		if e.Seq == seq {
			e.Detail = []byte(`{"forged":true}`)
		}
		if e.Seq >= seq {
			e.Seal(prev)
			if _, err := s.w.ExecContext(t.Context(), `UPDATE audit_log SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?`,
				string(e.Detail), e.PrevHash, e.Hash, e.Seq); err != nil {
				t.Fatal(err)
			}
		}
		prev = e.Hash
	}
}

func TestVerifyAuditFindsTampering(t *testing.T) {
	tests := []struct {
		name string
		// setup builds the log (5 entries exist, checkpointed at 5) and
		// tampers with it.
		setup       func(t *testing.T, s *Store, key *auditkey.Key)
		wantProblem audit.Problem
		wantSeq     int64
		wantMsg     string
		wantEntries int64
	}{
		{
			name: "clean log with unattested entries after the checkpoint",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				addEntries(t, s, 2)
			},
			wantEntries: 7,
		},
		{
			name: "detail modified",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				tamper(t, s, `UPDATE audit_log SET detail = '{"reason":"nothing to see"}' WHERE seq = 3`)
			},
			wantProblem: audit.EntryModified, wantSeq: 3, wantMsg: "audit entry 3: content does not match", wantEntries: 2,
		},
		{
			name: "entry rewritten with a fresh hash",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				tamper(t, s, `UPDATE audit_log SET actor = 'user:nobody' WHERE seq = 3`)
				var e audit.Entry
				if err := s.AuditLog(t.Context(), func(x *audit.Entry) error {
					if x.Seq == 3 {
						e = *x
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				e.Seal(e.PrevHash)
				tamper(t, s, fmt.Sprintf(`UPDATE audit_log SET hash = '%s' WHERE seq = 3`, e.Hash))
			},
			wantProblem: audit.BrokenLink, wantSeq: 4, wantMsg: "entry 3 rewritten", wantEntries: 3,
		},
		{
			name: "whole chain rewritten after entry 3",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				rehashFrom(t, s, 3)
			},
			wantProblem: audit.CheckpointMismatch, wantSeq: 5, wantMsg: "audit entry 5: hash", wantEntries: 4,
		},
		{
			name: "tail deleted after the checkpoint",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				addEntries(t, s, 3)
				mustCheckpoint(t, s, key, 8)
				tamper(t, s, `DELETE FROM audit_log WHERE seq > 5`)
			},
			wantProblem: audit.TailDeleted, wantSeq: 6, wantMsg: "audit entries 6 to 8 are missing: the log ends at entry 5", wantEntries: 5,
		},
		{
			name: "tail deleted into the checkpointed part",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				tamper(t, s, `DELETE FROM audit_log WHERE seq >= 4`)
			},
			wantProblem: audit.TailDeleted, wantSeq: 4, wantMsg: "audit entries 4 to 5 are missing", wantEntries: 3,
		},
		{
			name: "entry deleted from the middle",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				tamper(t, s, `DELETE FROM audit_log WHERE seq = 2`)
			},
			wantProblem: audit.EntryMissing, wantSeq: 2, wantMsg: "audit entry 2 is missing", wantEntries: 1,
		},
		{
			name: "two entries swapped",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				tamper(t, s, `UPDATE audit_log SET seq = -3 WHERE seq = 3`, `UPDATE audit_log SET seq = 3 WHERE seq = 2`,
					`UPDATE audit_log SET seq = 2 WHERE seq = -3`)
			},
			wantProblem: audit.BrokenLink, wantSeq: 2, wantMsg: "audit entry 2 does not link to entry 1", wantEntries: 1,
		},
		{
			name: "checkpoint signature forged",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				tamper(t, s, `UPDATE audit_checkpoints SET signature = zeroblob(64) WHERE seq = 5`)
			},
			wantProblem: audit.CheckpointSignatureInvalid, wantSeq: 5, wantMsg: "audit checkpoint at entry 5", wantEntries: 4,
		},
		{
			name: "checkpoint moved to a shorter log",
			setup: func(t *testing.T, s *Store, key *auditkey.Key) {
				tamper(t, s, `UPDATE audit_checkpoints SET seq = 4 WHERE seq = 5`)
			},
			wantProblem: audit.CheckpointSignatureInvalid, wantSeq: 4, wantEntries: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, key, dir := auditFixture(t, 5)
			mustCheckpoint(t, s, key, 5)
			tt.setup(t, s, key)
			// The auditor holds only the public key.
			pub, err := auditkey.LoadPublicKey(filepath.Join(dir, "keys", auditkey.PublicFile))
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.VerifyAudit(t.Context(), pub)
			if err != nil {
				t.Fatal(err)
			}
			if r.Problem != tt.wantProblem || r.Seq != tt.wantSeq || r.Entries != tt.wantEntries || !strings.Contains(r.Message, tt.wantMsg) {
				t.Fatalf("report = %+v\nwant problem %q at %d after %d entries, message containing %q", r, tt.wantProblem, tt.wantSeq, tt.wantEntries, tt.wantMsg)
			}
			if (r.Err() == nil) != (tt.wantProblem == audit.OK) {
				t.Fatalf("Err() = %v for problem %q", r.Err(), r.Problem)
			}
		})
	}
}

func TestWriteCheckpoint(t *testing.T) {
	s, key, _ := auditFixture(t, 0)
	// Empty log: nothing to sign.
	if cp, err := s.WriteCheckpoint(t.Context(), key); err != nil || cp.Seq != 0 {
		t.Fatalf("empty log: %+v, %v", cp, err)
	}
	addEntries(t, s, 2)
	mustCheckpoint(t, s, key, 2)
	// The head did not move: no second checkpoint.
	mustCheckpoint(t, s, key, 2)
	addEntries(t, s, 1)
	mustCheckpoint(t, s, key, 3)
	cps, err := s.Checkpoints(t.Context())
	if err != nil || len(cps) != 2 || cps[0].Seq != 2 || cps[1].Seq != 3 || cps[1].KeyID != key.KeyID() {
		t.Fatalf("checkpoints = %+v, %v", cps, err)
	}
	for _, c := range cps {
		if err := c.Verify(key); err != nil {
			t.Fatalf("stored checkpoint does not verify: %v", err)
		}
	}
	// A rewritten head is not attested.
	rehashFrom(t, s, 3)
	if _, err := s.WriteCheckpoint(t.Context(), key); err == nil || !strings.Contains(err.Error(), "does not have the hash") {
		t.Fatalf("checkpoint over a rewritten head: %v", err)
	}
	// Nor a truncated log.
	tamper(t, s, `DELETE FROM audit_log WHERE seq = 3`)
	if _, err := s.WriteCheckpoint(t.Context(), key); err == nil || !strings.Contains(err.Error(), "tail deleted") {
		t.Fatalf("checkpoint over a truncated log: %v", err)
	}
}
