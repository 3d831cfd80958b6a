package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/store"
)

const incidentCols = `id, tenant, title, rule_id, group_key, severity, state, assignee, alert_count, first_seen, last_seen, created, updated`

// IngestAlerts implements store.Store.
func (s *Store) IngestAlerts(ctx context.Context, alerts []alert.Alert) (int, error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	added := 0
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		added = 0
		now := s.now().UTC()
		insAlert, err := tx.PrepareContext(ctx, `INSERT INTO alerts (id, tenant, rule_id, severity, time, created, group_key, incident_id, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer insAlert.Close()
		for i := range alerts {
			a := alerts[i]
			key := a.GroupKey()
			inc, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents
				WHERE tenant = ? AND rule_id = ? AND group_key = ? AND state NOT IN ('resolved', 'closed')`, a.Tenant, a.RuleID, key))
			opened := errors.Is(err, store.ErrNotFound)
			switch {
			case opened:
				inc = incident.Open(&a, now)
			case err != nil:
				return err
			}
			a.IncidentID = inc.ID
			doc, err := json.Marshal(&a)
			if err != nil {
				return fmt.Errorf("encoding alert %s: %w", a.ID, err)
			}
			res, err := insAlert.ExecContext(ctx, a.ID, a.Tenant, a.RuleID, int(a.Severity), a.Time.UnixNano(), a.Created.UnixNano(), key, inc.ID, string(doc))
			if err != nil {
				return fmt.Errorf("storing alert %s: %w", a.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // already stored: a redelivery
			}
			added++
			if opened {
				if err := insertIncident(ctx, tx, &inc); err != nil {
					return err
				}
				detail, _ := json.Marshal(map[string]any{"rule_id": a.RuleID, "group_key": key, "alert_id": a.ID, "severity": a.Severity})
				if err := au.append(ctx, audit.Entry{Actor: "system:incidents", Tenant: a.Tenant, Action: "incident.open",
					ObjectType: "incident", ObjectID: inc.ID, Detail: detail}); err != nil {
					return err
				}
				continue
			}
			inc.Join(&a, now)
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET alert_count = ?, first_seen = ?, last_seen = ?, severity = ?, updated = ? WHERE id = ?`,
				inc.AlertCount, inc.FirstSeen.UnixNano(), inc.LastSeen.UnixNano(), int(inc.Severity), inc.Updated.UnixNano(), inc.ID); err != nil {
				return fmt.Errorf("updating incident %s: %w", inc.ID, err)
			}
		}
		return nil
	})
	return added, err
}

func insertIncident(ctx context.Context, tx *sql.Tx, inc *incident.Incident) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incidents (`+incidentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inc.ID, inc.Tenant, inc.Title, inc.RuleID, inc.GroupKey, int(inc.Severity), string(inc.State), inc.Assignee, inc.AlertCount,
		inc.FirstSeen.UnixNano(), inc.LastSeen.UnixNano(), inc.Created.UnixNano(), inc.Updated.UnixNano())
	if err != nil {
		return fmt.Errorf("opening incident %s: %w", inc.ID, err)
	}
	return nil
}

type rowScanner interface{ Scan(...any) error }

func scanIncident(row rowScanner) (incident.Incident, error) {
	var inc incident.Incident
	var sev int
	var state string
	var first, last, created, updated int64
	err := row.Scan(&inc.ID, &inc.Tenant, &inc.Title, &inc.RuleID, &inc.GroupKey, &sev, &state, &inc.Assignee, &inc.AlertCount,
		&first, &last, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return inc, store.ErrNotFound
	}
	if err != nil {
		return inc, fmt.Errorf("reading incident: %w", err)
	}
	inc.Severity, inc.State = alert.Severity(sev), incident.State(state)
	inc.FirstSeen, inc.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	inc.Created, inc.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return inc, nil
}

func limit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// where builds a WHERE clause from optional conditions.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, arg)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Alerts implements store.Store; newest first.
func (s *Store) Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error) {
	var w where
	if f.Tenant != "" {
		w.add("tenant = ?", f.Tenant)
	}
	if f.RuleID != "" {
		w.add("rule_id = ?", f.RuleID)
	}
	if f.IncidentID != "" {
		w.add("incident_id = ?", f.IncidentID)
	}
	if f.MinSeverity > 0 {
		w.add("severity >= ?", int(f.MinSeverity))
	}
	if !f.Since.IsZero() {
		w.add("time >= ?", f.Since.UnixNano())
	}
	rows, err := s.r.QueryContext(ctx, `SELECT doc FROM alerts`+w.String()+` ORDER BY time DESC, id LIMIT ? OFFSET ?`, append(w.args, limit(f.Limit), max(f.Offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("listing alerts: %w", err)
	}
	defer rows.Close()
	out := []alert.Alert{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("listing alerts: %w", err)
		}
		var a alert.Alert
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return nil, fmt.Errorf("decoding stored alert: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Incidents implements store.Store; most recently updated first.
func (s *Store) Incidents(ctx context.Context, f store.IncidentFilter) ([]incident.Incident, error) {
	var w where
	if f.Tenant != "" {
		w.add("tenant = ?", f.Tenant)
	}
	if f.State != "" {
		w.add("state = ?", string(f.State))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents`+w.String()+` ORDER BY updated DESC, id LIMIT ?`, append(w.args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	defer rows.Close()
	out := []incident.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// Incident implements store.Store.
func (s *Store) Incident(ctx context.Context, tenant, id string) (incident.Incident, error) {
	q := `SELECT ` + incidentCols + ` FROM incidents WHERE id = ?`
	args := []any{id}
	if tenant != "" {
		q += ` AND tenant = ?`
		args = append(args, tenant)
	}
	return scanIncident(s.r.QueryRowContext(ctx, q, args...))
}

// TransitionIncident implements store.Store.
func (s *Store) TransitionIncident(ctx context.Context, tenant, id string, to incident.State, assignee, actor string) (incident.Incident, error) {
	var inc incident.Incident
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		q := `SELECT ` + incidentCols + ` FROM incidents WHERE id = ?`
		args := []any{id}
		if tenant != "" {
			q += ` AND tenant = ?`
			args = append(args, tenant)
		}
		var err error
		if inc, err = scanIncident(tx.QueryRowContext(ctx, q, args...)); err != nil {
			return err
		}
		if err := incident.Transition(inc.State, to); err != nil {
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		from := inc.State
		inc.State, inc.Updated = to, s.now().UTC()
		if assignee != "" {
			inc.Assignee = assignee
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, assignee = ?, updated = ? WHERE id = ?`,
			string(inc.State), inc.Assignee, inc.Updated.UnixNano(), inc.ID); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("%w: another open incident exists for this rule and group key", store.ErrConflict)
			}
			return fmt.Errorf("updating incident %s: %w", inc.ID, err)
		}
		detail, _ := json.Marshal(map[string]string{"from": string(from), "to": string(to), "assignee": inc.Assignee})
		return au.append(ctx, audit.Entry{Actor: actor, Tenant: inc.Tenant, Action: "incident.transition",
			ObjectType: "incident", ObjectID: inc.ID, Detail: detail})
	})
	return inc, err
}

var _ store.Store = (*Store)(nil)
