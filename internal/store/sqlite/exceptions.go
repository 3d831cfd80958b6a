package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/mangrove-soc/mangrove/detections/exception"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// CreateException implements store.Store.
func (s *Store) CreateException(ctx context.Context, e exception.Exception, actor string) error {
	doc, err := json.Marshal(&e)
	if err != nil {
		return fmt.Errorf("encoding exception: %w", err)
	}
	return s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO exceptions (id, tenant, rule_id, doc, expires) VALUES (?, ?, ?, ?, ?)`,
			e.ID, e.Tenant, e.RuleID, string(doc), e.Expires.UnixNano()); err != nil {
			return fmt.Errorf("storing exception %s: %w", e.ID, err)
		}
		return au.append(ctx, audit.Entry{Actor: actor, Tenant: e.Tenant, Action: "exception.create",
			ObjectType: "exception", ObjectID: e.ID, Detail: doc})
	})
}

// RevokeException implements store.Store.
func (s *Store) RevokeException(ctx context.Context, tenant, id, actor string) (exception.Exception, error) {
	var e exception.Exception
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		q := `SELECT doc FROM exceptions WHERE id = ? AND revoked = 0`
		args := []any{id}
		if tenant != "" {
			q += ` AND tenant = ?`
			args = append(args, tenant)
		}
		var doc string
		if err := tx.QueryRowContext(ctx, q, args...).Scan(&doc); err == sql.ErrNoRows {
			return store.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("reading exception %s: %w", id, err)
		}
		if err := json.Unmarshal([]byte(doc), &e); err != nil {
			return fmt.Errorf("decoding exception %s: %w", id, err)
		}
		e.Revoked = s.now().UTC()
		b, _ := json.Marshal(&e)
		if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET doc = ?, revoked = ? WHERE id = ?`, string(b), e.Revoked.UnixNano(), id); err != nil {
			return fmt.Errorf("revoking exception %s: %w", id, err)
		}
		return au.append(ctx, audit.Entry{Actor: actor, Tenant: e.Tenant, Action: "exception.revoke",
			ObjectType: "exception", ObjectID: e.ID, Detail: b})
	})
	return e, err
}

// Exceptions implements store.Store.
func (s *Store) Exceptions(ctx context.Context, tenant string, all bool) ([]exception.Exception, error) {
	var w where
	if tenant != "" {
		w.conds = append(w.conds, "(tenant = ? OR tenant = '')")
		w.args = append(w.args, tenant)
	}
	if !all {
		w.add("revoked = 0 AND expires > ?", s.now().UnixNano())
	}
	rows, err := s.r.QueryContext(ctx, `SELECT doc FROM exceptions`+w.String()+` ORDER BY revoked, expires DESC, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing exceptions: %w", err)
	}
	defer rows.Close()
	out := []exception.Exception{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("listing exceptions: %w", err)
		}
		var e exception.Exception
		if err := json.Unmarshal([]byte(doc), &e); err != nil {
			return nil, fmt.Errorf("decoding stored exception: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
