package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mangrove-soc/mangrove/internal/audit"
)

// WriteCheckpoint signs the current head of the audit log with signer and
// stores the checkpoint. If the head has not moved since the last
// checkpoint it writes nothing and returns that checkpoint; on an empty log
// it writes nothing and returns the zero Checkpoint. It refuses to sign a
// head that contradicts the last checkpoint (a shorter log, or another hash
// at the same entry): that log was tampered with and must be verified, not
// attested. Safe to call concurrently with writers; meant to run
// periodically (e.g. every minute) and at shutdown.
func (s *Store) WriteCheckpoint(ctx context.Context, signer audit.Signer) (audit.Checkpoint, error) {
	var cp audit.Checkpoint
	err := s.writeTx(ctx, func(tx *sql.Tx, _ *auditor) error {
		var seq int64
		var hash string
		switch err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash); {
		case errors.Is(err, sql.ErrNoRows):
			seq, hash = 0, audit.Genesis
		case err != nil:
			return fmt.Errorf("reading audit head: %w", err)
		}
		last, err := scanCheckpoint(tx.QueryRowContext(ctx, `SELECT seq, hash, time, key_id, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if seq == 0 {
				return nil
			}
		case err != nil:
			return fmt.Errorf("reading last audit checkpoint: %w", err)
		case seq < last.Seq:
			return fmt.Errorf("not signing audit checkpoint: the log ends at entry %d but the last checkpoint attests entry %d (tail deleted?); run audit verification", seq, last.Seq)
		case seq == last.Seq && hash != last.Hash:
			return fmt.Errorf("not signing audit checkpoint: entry %d does not have the hash the last checkpoint attests; run audit verification", seq)
		case seq == last.Seq:
			cp = last
			return nil
		}
		c, err := audit.NewCheckpoint(signer, seq, hash, s.now())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
			c.Seq, c.Hash, c.Time.UnixNano(), c.KeyID, c.Signature); err != nil {
			return fmt.Errorf("storing audit checkpoint at entry %d: %w", c.Seq, err)
		}
		cp = c
		return nil
	})
	return cp, err
}

// Checkpoints returns every stored audit checkpoint in sequence order.
func (s *Store) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, hash, time, key_id, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("reading audit checkpoints: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	return out, nil
}

// VerifyAudit checks the whole audit log against the stored checkpoints
// with v (see audit.VerifyLog). A problem in the log is in the report; the
// error is for failing to read the checkpoints.
func (s *Store) VerifyAudit(ctx context.Context, v audit.CheckpointVerifier) (audit.Report, error) {
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	return audit.VerifyLog(func(yield func(*audit.Entry) error) error { return s.AuditLog(ctx, yield) }, cps, v), nil
}

func scanCheckpoint(row interface{ Scan(...any) error }) (audit.Checkpoint, error) {
	var c audit.Checkpoint
	var ts int64
	if err := row.Scan(&c.Seq, &c.Hash, &ts, &c.KeyID, &c.Signature); err != nil {
		return audit.Checkpoint{}, err
	}
	c.Time = time.Unix(0, ts).UTC()
	return c, nil
}
