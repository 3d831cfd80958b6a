package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// Item kinds in the incident_items table.
const (
	kindTask       = "task"
	kindComment    = "comment"
	kindObservable = "observable"
	kindEvidence   = "evidence"
	kindFiling     = "filing"
)

// addItem stores one item of an incident of the tenant and audits it with the
// incident as object. replace overwrites an item with the same id; otherwise
// an existing one is kept and returned as is (idempotent adds).
func addItem[T any](ctx context.Context, s *Store, tenant, incidentID, kind, id, actor, action string, created time.Time, v *T, replace bool) error {
	return s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		inc, err := readIncident(ctx, tx, tenant, incidentID)
		if err != nil {
			return err
		}
		doc, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", kind, err)
		}
		verb := `INSERT INTO incident_items (kind, id, incident_id, tenant, created, doc) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, id) DO NOTHING`
		if replace {
			verb = `INSERT INTO incident_items (kind, id, incident_id, tenant, created, doc) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc`
		}
		res, err := tx.ExecContext(ctx, verb, kind, id, inc.ID, inc.Tenant, created.UnixNano(), string(doc))
		if err != nil {
			return fmt.Errorf("storing %s: %w", kind, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var old string
			if err := tx.QueryRowContext(ctx, `SELECT doc FROM incident_items WHERE kind = ? AND id = ?`, kind, id).Scan(&old); err != nil {
				return fmt.Errorf("reading %s: %w", kind, err)
			}
			return json.Unmarshal([]byte(old), v)
		}
		var detail map[string]any
		json.Unmarshal(doc, &detail)
		return auditIncident(ctx, au, actor, &inc, action, detail)
	})
}

// items lists the items of one kind of the tenant's incidents, oldest
// first.
func items[T any](ctx context.Context, s *Store, tenant, kind string, incidentIDs ...string) ([]T, error) {
	if len(incidentIDs) == 0 {
		return []T{}, nil
	}
	if len(incidentIDs) == 1 {
		if _, err := readIncident(ctx, s.r, tenant, incidentIDs[0]); err != nil {
			return nil, err
		}
	}
	var w where
	w.add("kind = ?", kind)
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(incidentIDs)), ", ")
	args := make([]any, len(incidentIDs))
	for i, id := range incidentIDs {
		args[i] = id
	}
	w.add("incident_id IN ("+ph+")", args...)
	if tenant != "" {
		w.add("tenant = ?", tenant)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT doc FROM incident_items`+w.String()+` ORDER BY created, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing %ss: %w", kind, err)
	}
	return scanDocs[T](rows)
}

// AddTask implements store.Store.
func (s *Store) AddTask(ctx context.Context, tenant string, t incident.Task, actor string) (incident.Task, error) {
	if strings.TrimSpace(t.Title) == "" {
		return t, fmt.Errorf("%w: a task needs a title", store.ErrInvalid)
	}
	now := s.now().UTC()
	t.ID, t.Created, t.Updated = newID("TASK-"), now, now
	return t, addItem(ctx, s, tenant, t.IncidentID, kindTask, t.ID, actor, "task.create", now, &t, false)
}

// UpdateTask implements store.Store: title, owner, due and done of an
// existing task.
func (s *Store) UpdateTask(ctx context.Context, tenant string, t incident.Task, actor string) (incident.Task, error) {
	var cur incident.Task
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		inc, err := readIncident(ctx, tx, tenant, t.IncidentID)
		if err != nil {
			return err
		}
		var doc string
		err = tx.QueryRowContext(ctx, `SELECT doc FROM incident_items WHERE kind = ? AND id = ? AND incident_id = ?`, kindTask, t.ID, inc.ID).Scan(&doc)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("reading task: %w", err)
		}
		if err := json.Unmarshal([]byte(doc), &cur); err != nil {
			return fmt.Errorf("decoding task: %w", err)
		}
		if strings.TrimSpace(t.Title) != "" {
			cur.Title = t.Title
		}
		cur.Owner, cur.Due, cur.Done, cur.Updated = t.Owner, t.Due, t.Done, s.now().UTC()
		b, _ := json.Marshal(&cur)
		if _, err := tx.ExecContext(ctx, `UPDATE incident_items SET doc = ? WHERE kind = ? AND id = ?`, string(b), kindTask, cur.ID); err != nil {
			return fmt.Errorf("updating task: %w", err)
		}
		var detail map[string]any
		json.Unmarshal(b, &detail)
		return auditIncident(ctx, au, actor, &inc, "task.update", detail)
	})
	return cur, err
}

// Tasks implements store.Store.
func (s *Store) Tasks(ctx context.Context, tenant, incidentID string) ([]incident.Task, error) {
	return items[incident.Task](ctx, s, tenant, kindTask, incidentID)
}

// AddComment implements store.Store.
func (s *Store) AddComment(ctx context.Context, tenant string, c incident.Comment, actor string) (incident.Comment, error) {
	if strings.TrimSpace(c.Body) == "" {
		return c, fmt.Errorf("%w: empty comment", store.ErrInvalid)
	}
	c.ID, c.Created = newID("CMT-"), s.now().UTC()
	return c, addItem(ctx, s, tenant, c.IncidentID, kindComment, c.ID, actor, "comment.create", c.Created, &c, false)
}

// Comments implements store.Store.
func (s *Store) Comments(ctx context.Context, tenant, incidentID string) ([]incident.Comment, error) {
	return items[incident.Comment](ctx, s, tenant, kindComment, incidentID)
}

// AddObservable implements store.Store. The same kind and value on the same
// incident is stored once (the ID is derived from them).
func (s *Store) AddObservable(ctx context.Context, tenant string, o incident.Observable, actor string) (incident.Observable, error) {
	o.Value = strings.TrimSpace(o.Value)
	if o.Value == "" {
		return o, fmt.Errorf("%w: empty observable value", store.ErrInvalid)
	}
	if !validKind(o.Kind) {
		return o, fmt.Errorf("%w: observable kind %q is not one of %v", store.ErrInvalid, o.Kind, incident.ObservableKinds)
	}
	sum := sha256.Sum256([]byte(o.IncidentID + "\x00" + string(o.Kind) + "\x00" + strings.ToLower(o.Value)))
	o.ID, o.Created = "OBS-"+hex.EncodeToString(sum[:8]), s.now().UTC()
	return o, addItem(ctx, s, tenant, o.IncidentID, kindObservable, o.ID, actor, "observable.create", o.Created, &o, false)
}

func validKind(k incident.ObservableKind) bool {
	for _, v := range incident.ObservableKinds {
		if v == k {
			return true
		}
	}
	return false
}

// Observables implements store.Store.
func (s *Store) Observables(ctx context.Context, tenant, incidentID string) ([]incident.Observable, error) {
	return items[incident.Observable](ctx, s, tenant, kindObservable, incidentID)
}

// AddEvidence implements store.Store; the file itself is already stored
// under its SHA-256 by the caller.
func (s *Store) AddEvidence(ctx context.Context, tenant string, e incident.Evidence, actor string) (incident.Evidence, error) {
	if len(e.SHA256) != 64 {
		return e, fmt.Errorf("%w: evidence needs its SHA-256", store.ErrInvalid)
	}
	e.ID, e.Created, e.AddedBy = newID("EVD-"), s.now().UTC(), actor
	return e, addItem(ctx, s, tenant, e.IncidentID, kindEvidence, e.ID, actor, "evidence.add", e.Created, &e, false)
}

// Evidence implements store.Store.
func (s *Store) Evidence(ctx context.Context, tenant, incidentID string) ([]incident.Evidence, error) {
	return items[incident.Evidence](ctx, s, tenant, kindEvidence, incidentID)
}

// AddFiling implements store.Store; filing the same obligation again
// replaces the record (and is audited again).
func (s *Store) AddFiling(ctx context.Context, tenant string, f store.Filing) (store.Filing, error) {
	if f.Obligation == "" {
		return f, fmt.Errorf("%w: obligation required", store.ErrInvalid)
	}
	if f.At.IsZero() {
		f.At = s.now().UTC()
	}
	return f, addItem(ctx, s, tenant, f.IncidentID, kindFiling, f.IncidentID+"/"+f.Obligation, f.Actor, "report.filed", f.At, &f, true)
}

// Filings implements store.Store.
func (s *Store) Filings(ctx context.Context, tenant string, incidentIDs ...string) ([]store.Filing, error) {
	return items[store.Filing](ctx, s, tenant, kindFiling, incidentIDs...)
}

// Sent reports whether the notice with this key went out (the notifier's
// ledger).
func (s *Store) Sent(ctx context.Context, key string) (bool, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM notices_sent WHERE key = ?`, key).Scan(&n); err != nil {
		return false, fmt.Errorf("reading sent notices: %w", err)
	}
	return n > 0, nil
}

// MarkSent records that the notice with this key went out.
func (s *Store) MarkSent(ctx context.Context, key string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.ExecContext(ctx, `INSERT INTO notices_sent (key, sent) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, at.UnixNano()); err != nil {
		return fmt.Errorf("recording a sent notice: %w", err)
	}
	return nil
}
