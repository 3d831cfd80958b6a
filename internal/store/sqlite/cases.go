package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/grouping"
	"github.com/mangrove-soc/mangrove/incidents/incident"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// Configure sets how alerts are grouped into incidents and how affected
// systems are found. Call it before the first IngestAlerts; nil keeps the
// defaults (grouping.Defaults, no asset inventory).
func (s *Store) Configure(g store.Grouper, a store.AssetMatcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g == nil {
		g = grouping.New(grouping.Defaults())
	}
	s.grouper, s.assets = g, a
}

func (s *Store) grouping() (store.Grouper, store.AssetMatcher) {
	if s.grouper == nil {
		s.grouper = grouping.New(grouping.Defaults())
	}
	return s.grouper, s.assets
}

// pending is an incident touched by one IngestAlerts batch.
type pending struct {
	inc     incident.Incident
	window  time.Duration
	opened  bool
	joined  int
	firstID string
}

// IngestAlerts implements store.Store. Within a batch, alerts of one key
// update their incident in memory and it is written once, so a flood of
// alerts costs one incident write per batch, not one per alert.
func (s *Store) IngestAlerts(ctx context.Context, alerts []alert.Alert) (int, error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	added := 0
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		added = 0
		grouper, assets := s.grouping()
		now := s.now().UTC()
		insAlert, err := tx.PrepareContext(ctx, `INSERT INTO alerts (id, tenant, rule_id, severity, time, created, group_key, incident_id, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer insAlert.Close()
		findOpen, err := tx.PrepareContext(ctx, `SELECT doc FROM incidents WHERE group_key = ? AND open = 1 AND last_seen >= ?
			ORDER BY last_seen DESC LIMIT 1`)
		if err != nil {
			return err
		}
		defer findOpen.Close()
		touched := map[string]*pending{} // by group key
		var order []*pending
		for i := range alerts {
			a := alerts[i]
			key, window := grouper.Group(&a)
			p := touched[key]
			if p != nil && a.Time.Sub(p.inc.LastSeen) > window {
				p = nil // the batch itself spans more than the window
			}
			var fresh *incident.Incident
			if p == nil {
				var doc string
				err := findOpen.QueryRowContext(ctx, key, a.Time.Add(-window).UnixNano()).Scan(&doc)
				switch {
				case errors.Is(err, sql.ErrNoRows):
					inc := incident.Open(&a, key, now)
					fresh = &inc
				case err != nil:
					return fmt.Errorf("finding the open incident: %w", err)
				default:
					p = &pending{window: window}
					if err := json.Unmarshal([]byte(doc), &p.inc); err != nil {
						return fmt.Errorf("decoding incident: %w", err)
					}
				}
			}
			incID := ""
			if fresh != nil {
				incID = fresh.ID
			} else {
				incID = p.inc.ID
			}
			a.IncidentID = incID
			if a.Status == "" {
				a.Status = "new"
			}
			doc, err := json.Marshal(&a)
			if err != nil {
				return fmt.Errorf("encoding alert %s: %w", a.ID, err)
			}
			res, err := insAlert.ExecContext(ctx, a.ID, a.Tenant, a.RuleID, int(a.Severity), a.Time.UnixNano(), a.Created.UnixNano(), key, incID, string(doc))
			if err != nil {
				return fmt.Errorf("storing alert %s: %w", a.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // already stored: a redelivery
			}
			added++
			var systems []incident.System
			if assets != nil {
				systems = assets.Systems(&a)
			}
			if fresh != nil {
				p = &pending{inc: *fresh, window: window, opened: true, firstID: a.ID}
				addSystems(&p.inc, systems)
				touched[key] = p
				order = append(order, p)
				continue
			}
			if touched[key] != p {
				touched[key] = p
				order = append(order, p)
			}
			p.inc.Join(&a, now)
			addSystems(&p.inc, systems)
			p.joined++
		}
		for _, p := range order {
			if p.opened {
				if err := writeIncident(ctx, au, &p.inc, 0); err != nil {
					return err
				}
				detail, _ := json.Marshal(map[string]any{"rule_id": p.inc.RuleID, "group_key": p.inc.GroupKey, "alert_id": p.firstID,
					"severity": p.inc.Severity, "alerts": p.inc.AlertCount})
				if err := au.append(ctx, audit.Entry{Actor: "system:incidents", Tenant: p.inc.Tenant, Action: "incident.open",
					ObjectType: "incident", ObjectID: p.inc.ID, Detail: detail}); err != nil {
					return err
				}
				continue
			}
			if err := writeIncident(ctx, au, &p.inc, p.inc.Version-p.joined); err != nil {
				return err
			}
			detail, _ := json.Marshal(map[string]any{"alerts": p.joined, "alert_count": p.inc.AlertCount, "severity": p.inc.Severity})
			if err := au.append(ctx, audit.Entry{Actor: "system:incidents", Tenant: p.inc.Tenant, Action: "incident.alerts_joined",
				ObjectType: "incident", ObjectID: p.inc.ID, Detail: detail}); err != nil {
				return err
			}
		}
		return nil
	})
	return added, err
}

// addSystems adds affected systems not yet listed and recomputes priority.
func addSystems(inc *incident.Incident, systems []incident.System) {
	for _, sys := range systems {
		if !slices.ContainsFunc(inc.Systems, func(o incident.System) bool { return o.ID == sys.ID }) {
			inc.Systems = append(inc.Systems, sys)
		}
	}
	inc.Priority = incident.Priority(inc.Severity, inc.Systems)
}

// writeIncident inserts inc (prevVersion 0) or updates it if its stored
// version is still prevVersion; otherwise store.ErrStale.
// execer runs a write; the auditor prepares each statement once per
// transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func writeIncident(ctx context.Context, tx execer, inc *incident.Incident, prevVersion int) error {
	doc, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("encoding incident %s: %w", inc.ID, err)
	}
	open := 0
	if inc.State.Open() {
		open = 1
	}
	args := []any{inc.Tenant, string(inc.State), open, int(inc.Severity), inc.Priority, string(inc.Category), inc.Assignee, inc.RuleID,
		inc.GroupKey, inc.Title, inc.LastSeen.UnixNano(), inc.DetectedAt.UnixNano(), inc.Created.UnixNano(), inc.Updated.UnixNano(),
		inc.Version, string(doc), inc.ID}
	if prevVersion == 0 {
		_, err := tx.ExecContext(ctx, `INSERT INTO incidents (tenant, state, open, severity, priority, category, assignee, rule_id, group_key,
			title, last_seen, detected_at, created, updated, version, doc, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		if err != nil {
			return fmt.Errorf("storing incident %s: %w", inc.ID, err)
		}
		return nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE incidents SET tenant = ?, state = ?, open = ?, severity = ?, priority = ?, category = ?, assignee = ?,
		rule_id = ?, group_key = ?, title = ?, last_seen = ?, detected_at = ?, created = ?, updated = ?, version = ?, doc = ?
		WHERE id = ? AND version = ?`, append(args, prevVersion)...)
	if err != nil {
		return fmt.Errorf("updating incident %s: %w", inc.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrStale
	}
	return nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readIncident reads one incident of the tenant ("" = any).
func readIncident(ctx context.Context, q queryer, tenant, id string) (incident.Incident, error) {
	return readDoc[incident.Incident](ctx, q, "incidents", tenant, id)
}

// readDoc reads the JSON document of one row of table (incidents or
// alerts) of the tenant ("" = any), or store.ErrNotFound.
func readDoc[T any](ctx context.Context, q queryer, table, tenant, id string) (T, error) {
	var v T
	query, args := `SELECT doc FROM `+table+` WHERE id = ?`, []any{id}
	if tenant != "" {
		query += ` AND tenant = ?`
		args = append(args, tenant)
	}
	var doc string
	err := q.QueryRowContext(ctx, query, args...).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return v, store.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("reading from %s: %w", table, err)
	}
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return v, fmt.Errorf("decoding %s %s: %w", table, id, err)
	}
	return v, nil
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

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
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
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	if f.MinSeverity > 0 {
		w.add("severity >= ?", int(f.MinSeverity))
	}
	if !f.Since.IsZero() {
		w.add("time >= ?", f.Since.UnixNano())
	}
	if c := f.After; c != nil {
		t := c.Time.UnixNano()
		w.add("(time < ? OR (time = ? AND id > ?))", t, t, c.ID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT doc FROM alerts`+w.String()+` ORDER BY time DESC, id LIMIT ? OFFSET ?`, append(w.args, f.PageSize(), max(f.Offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("listing alerts: %w", err)
	}
	return scanDocs[alert.Alert](rows)
}

// scanDocs decodes the single JSON column of every row.
func scanDocs[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("reading: %w", err)
		}
		var v T
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			return nil, fmt.Errorf("decoding stored document: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Alert implements store.Store.
func (s *Store) Alert(ctx context.Context, tenant, id string) (alert.Alert, error) {
	return readAlert(ctx, s.r, tenant, id)
}

func readAlert(ctx context.Context, q queryer, tenant, id string) (alert.Alert, error) {
	return readDoc[alert.Alert](ctx, q, "alerts", tenant, id)
}

func writeAlert(ctx context.Context, tx execer, a *alert.Alert) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding alert %s: %w", a.ID, err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE alerts SET status = ?, assignee = ?, incident_id = ?, doc = ? WHERE id = ?`,
		a.Status, a.Assignee, a.IncidentID, string(doc), a.ID)
	if err != nil {
		return fmt.Errorf("updating alert %s: %w", a.ID, err)
	}
	return nil
}

// UpdateAlert implements store.Store.
func (s *Store) UpdateAlert(ctx context.Context, tenant, id string, acknowledge bool, assignee *string, actor string) (alert.Alert, error) {
	var a alert.Alert
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		var err error
		if a, err = readAlert(ctx, tx, tenant, id); err != nil {
			return err
		}
		changes := map[string]any{}
		if acknowledge && a.Status != "acknowledged" {
			a.Status = "acknowledged"
			changes["status"] = a.Status
		}
		if assignee != nil && *assignee != a.Assignee {
			a.Assignee = *assignee
			changes["assignee"] = a.Assignee
		}
		if len(changes) == 0 {
			return nil
		}
		if err := writeAlert(ctx, au, &a); err != nil {
			return err
		}
		changes["incident_id"] = a.IncidentID
		detail, _ := json.Marshal(changes)
		return au.append(ctx, audit.Entry{Actor: actor, Tenant: a.Tenant, Action: "alert.update", ObjectType: "alert", ObjectID: a.ID, Detail: detail})
	})
	return a, err
}

// AttachAlert implements store.Store.
func (s *Store) AttachAlert(ctx context.Context, tenant, alertID, incidentID, actor string) (alert.Alert, error) {
	var a alert.Alert
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		var err error
		if a, err = readAlert(ctx, tx, tenant, alertID); err != nil {
			return err
		}
		if a.IncidentID == incidentID {
			return nil
		}
		to, err := readIncident(ctx, tx, a.Tenant, incidentID)
		if err != nil {
			return err
		}
		if !to.State.Open() {
			return fmt.Errorf("%w: incident %s is %s", store.ErrConflict, to.ID, to.State)
		}
		now := s.now().UTC()
		if a.IncidentID != "" {
			from, err := readIncident(ctx, tx, a.Tenant, a.IncidentID)
			if err == nil {
				v := from.Version
				from.AlertCount = max(from.AlertCount-1, 0)
				from.Updated, from.Version = now, v+1
				if err := writeIncident(ctx, au, &from, v); err != nil {
					return err
				}
				if err := auditIncident(ctx, au, actor, &from, "incident.alert_detached", map[string]any{"alert_id": a.ID, "to": to.ID}); err != nil {
					return err
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		v := to.Version
		to.Join(&a, now)
		if err := writeIncident(ctx, au, &to, v); err != nil {
			return err
		}
		a.IncidentID = to.ID
		if err := writeAlert(ctx, au, &a); err != nil {
			return err
		}
		return auditIncident(ctx, au, actor, &to, "incident.alert_attached", map[string]any{"alert_id": a.ID})
	})
	return a, err
}

func auditIncident(ctx context.Context, au *auditor, actor string, inc *incident.Incident, action string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encoding audit detail: %w", err)
	}
	return au.append(ctx, audit.Entry{Actor: actor, Tenant: inc.Tenant, Action: action, ObjectType: "incident", ObjectID: inc.ID, Detail: b})
}

// sortColumns maps IncidentFilter.Sort names to columns.
var sortColumns = map[string]string{"updated": "updated", "created": "created", "detected": "detected_at", "priority": "priority", "severity": "severity"}

// cursor is the position after the last row of a page.
type cursor struct {
	Sort  string `json:"s"`
	Value int64  `json:"v"`
	ID    string `json:"i"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && len(b) <= 512 {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || len(b) > 512 {
		return c, fmt.Errorf("%w: malformed cursor", store.ErrInvalid)
	}
	return c, nil
}

// Incidents implements store.Store.
func (s *Store) Incidents(ctx context.Context, f store.IncidentFilter) (store.Page[incident.Incident], error) {
	page := store.Page[incident.Incident]{Items: []incident.Incident{}}
	sortName, asc := strings.CutPrefix(f.Sort, "+")
	if !asc {
		sortName = strings.TrimPrefix(sortName, "-")
	}
	if sortName == "" {
		sortName = "updated"
	}
	col, ok := sortColumns[sortName]
	if !ok {
		return page, fmt.Errorf("%w: sort %q is not one of updated, created, detected, priority, severity", store.ErrInvalid, f.Sort)
	}
	var w where
	if f.Tenant != "" {
		w.add("tenant = ?", f.Tenant)
	}
	if len(f.States) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(f.States)), ", ")
		args := make([]any, len(f.States))
		for i, st := range f.States {
			args[i] = string(st)
		}
		w.add("state IN ("+ph+")", args...)
	}
	if f.Open {
		w.add("open = 1")
	}
	if f.Category != "" {
		w.add("category = ?", string(f.Category))
	}
	if f.Assignee != "" {
		w.add("assignee = ?", f.Assignee)
	}
	if f.MinSeverity > 0 {
		w.add("severity >= ?", int(f.MinSeverity))
	}
	if f.MinPriority > 0 {
		w.add("priority >= ?", f.MinPriority)
	}
	if f.RuleID != "" {
		w.add("rule_id = ?", f.RuleID)
	}
	if !f.Since.IsZero() {
		w.add("detected_at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		w.add("detected_at < ?", f.Until.UnixNano())
	}
	if f.Text != "" {
		// The trigram index answers substrings of 3 characters or more
		// (case-insensitively, like LIKE) but not LIKE with ESCAPE: text
		// with wildcard characters, and short text, scan the titles.
		if utf8.RuneCountInString(f.Text) >= 3 && !strings.ContainsAny(f.Text, `%_\`) {
			w.add(`rowid IN (SELECT rowid FROM incidents_title WHERE title LIKE ?)`, "%"+f.Text+"%")
		} else {
			w.add(`title LIKE ? ESCAPE '\'`, "%"+likeEscape(f.Text)+"%")
		}
	}
	// Ties are broken by id in the same direction, so that (column, id) is
	// one index order and the cursor a row-value comparison.
	dir, cmp := "DESC", "<"
	if asc {
		dir, cmp = "ASC", ">"
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return page, err
		}
		if c.Sort != f.Sort {
			return page, fmt.Errorf("%w: the cursor belongs to another sort order", store.ErrInvalid)
		}
		w.add("("+col+", id) "+cmp+" (?, ?)", c.Value, c.ID)
	}
	n := limit(f.Limit)
	rows, err := s.r.QueryContext(ctx, `SELECT `+col+`, doc FROM incidents`+w.String()+` ORDER BY `+col+` `+dir+`, id `+dir+` LIMIT ?`, append(w.args, n+1)...)
	if err != nil {
		return page, fmt.Errorf("listing incidents: %w", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		var v int64
		var doc string
		if err := rows.Scan(&v, &doc); err != nil {
			return page, fmt.Errorf("listing incidents: %w", err)
		}
		if len(page.Items) == n {
			prev := page.Items[n-1]
			page.Next = encodeCursor(cursor{Sort: f.Sort, Value: last, ID: prev.ID})
			break
		}
		var inc incident.Incident
		if err := json.Unmarshal([]byte(doc), &inc); err != nil {
			return page, fmt.Errorf("decoding incident: %w", err)
		}
		page.Items = append(page.Items, inc)
		last = v
	}
	return page, rows.Err()
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Incident implements store.Store.
func (s *Store) Incident(ctx context.Context, tenant, id string) (incident.Incident, error) {
	return readIncident(ctx, s.r, tenant, id)
}

// IncidentsBetween implements store.Store.
func (s *Store) IncidentsBetween(ctx context.Context, tenant string, from, to time.Time) ([]incident.Incident, error) {
	var w where
	if tenant != "" {
		w.add("tenant = ?", tenant)
	}
	w.add("detected_at >= ?", from.UnixNano())
	w.add("detected_at < ?", to.UnixNano())
	rows, err := s.r.QueryContext(ctx, `SELECT doc FROM incidents`+w.String()+` ORDER BY detected_at`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	return scanDocs[incident.Incident](rows)
}

// newID returns prefix and 16 random hex digits.
func newID(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// CreateIncident implements store.Store.
func (s *Store) CreateIncident(ctx context.Context, inc incident.Incident, actor string) (incident.Incident, error) {
	now := s.now().UTC()
	if inc.ID == "" {
		inc.ID = newID("INC-")
	}
	if inc.DetectedAt.IsZero() {
		inc.DetectedAt = now
	}
	if inc.FirstSeen.IsZero() {
		inc.FirstSeen = inc.DetectedAt
	}
	if inc.LastSeen.IsZero() {
		inc.LastSeen = inc.FirstSeen
	}
	if inc.Source == "" {
		inc.Source = "manual"
	}
	if inc.ReportedBy == "" {
		inc.ReportedBy = actor
	}
	inc.State, inc.Created, inc.Updated, inc.Version = incident.New, now, now, 1
	inc.GroupKey = "" // reported by hand: alerts do not join it by themselves
	inc.Priority = incident.Priority(inc.Severity, inc.Systems)
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		if err := writeIncident(ctx, au, &inc, 0); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("%w: incident %s exists", store.ErrConflict, inc.ID)
			}
			return err
		}
		return auditIncident(ctx, au, actor, &inc, "incident.create", map[string]any{"title": inc.Title, "severity": inc.Severity,
			"category": inc.Category, "source": inc.Source})
	})
	return inc, err
}

// UpdateIncident implements store.Store.
func (s *Store) UpdateIncident(ctx context.Context, tenant, id string, p store.IncidentPatch, actor string) (incident.Incident, error) {
	var inc incident.Incident
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		var err error
		if inc, err = readIncident(ctx, tx, tenant, id); err != nil {
			return err
		}
		if p.Version != inc.Version {
			return fmt.Errorf("%w: you sent version %d, it is at %d", store.ErrStale, p.Version, inc.Version)
		}
		changed := map[string]any{}
		set := func(name string, dst any, src any) {
			changed[name] = src
			switch d := dst.(type) {
			case *string:
				*d = *src.(*string)
			case *bool:
				*d = *src.(*bool)
			}
		}
		if p.Title != nil {
			set("title", &inc.Title, p.Title)
		}
		if p.Description != nil {
			set("description", &inc.Description, p.Description)
		}
		if p.Assignee != nil {
			set("assignee", &inc.Assignee, p.Assignee)
		}
		if p.Team != nil {
			set("team", &inc.Team, p.Team)
		}
		if p.Serious != nil {
			set("serious", &inc.Serious, p.Serious)
		}
		if p.NationalSecurity != nil {
			set("national_security", &inc.NationalSecurity, p.NationalSecurity)
		}
		if p.SeriousDisruption != nil {
			set("serious_disruption", &inc.SeriousDisruption, p.SeriousDisruption)
		}
		if p.Category != nil {
			inc.Category, changed["category"] = *p.Category, *p.Category
		}
		if p.Severity != nil {
			inc.Severity, changed["severity"] = *p.Severity, *p.Severity
		}
		if p.Systems != nil {
			inc.Systems, changed["systems"] = *p.Systems, *p.Systems
		}
		if p.PersonalData != nil {
			inc.PersonalData, changed["personal_data"] = *p.PersonalData, *p.PersonalData
		}
		if len(changed) == 0 {
			return nil
		}
		inc.Priority = incident.Priority(inc.Severity, inc.Systems)
		inc.Updated, inc.Version = s.now().UTC(), inc.Version+1
		if err := writeIncident(ctx, au, &inc, p.Version); err != nil {
			return err
		}
		return auditIncident(ctx, au, actor, &inc, "incident.update", changed)
	})
	return inc, err
}

// TransitionIncident implements store.Store.
func (s *Store) TransitionIncident(ctx context.Context, tenant, id string, to incident.State, role string, version int, duplicateOf, reason, actor string) (incident.Incident, error) {
	var inc incident.Incident
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		var err error
		if inc, err = readIncident(ctx, tx, tenant, id); err != nil {
			return err
		}
		if version != 0 && version != inc.Version {
			return fmt.Errorf("%w: you sent version %d, it is at %d", store.ErrStale, version, inc.Version)
		}
		if err := incident.Transition(inc.State, to, role); errors.Is(err, incident.ErrNotAllowed) {
			return fmt.Errorf("%w: %w", store.ErrForbidden, err)
		} else if err != nil {
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		if to == incident.Duplicate {
			if duplicateOf == "" || duplicateOf == inc.ID {
				return fmt.Errorf("%w: duplicate_of must name another incident", store.ErrInvalid)
			}
			if _, err := readIncident(ctx, tx, inc.Tenant, duplicateOf); err != nil {
				return fmt.Errorf("duplicate_of %s: %w", duplicateOf, err)
			}
			inc.DuplicateOf = duplicateOf
		} else if !to.Terminal() {
			inc.DuplicateOf = ""
		}
		from, prev := inc.State, inc.Version
		inc.Apply(to, s.now().UTC())
		if err := writeIncident(ctx, au, &inc, prev); err != nil {
			return err
		}
		detail := map[string]any{"from": from, "to": to}
		if reason != "" {
			detail["reason"] = reason
		}
		if inc.DuplicateOf != "" {
			detail["duplicate_of"] = inc.DuplicateOf
		}
		return auditIncident(ctx, au, actor, &inc, "incident.transition", detail)
	})
	return inc, err
}

// MergeIncidents implements store.Store.
func (s *Store) MergeIncidents(ctx context.Context, tenant, target string, sources []string, actor string) (incident.Incident, error) {
	var inc incident.Incident
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		var err error
		if inc, err = readIncident(ctx, tx, tenant, target); err != nil {
			return err
		}
		if inc.State.Terminal() {
			return fmt.Errorf("%w: incident %s is %s", store.ErrConflict, inc.ID, inc.State)
		}
		if len(sources) == 0 {
			return fmt.Errorf("%w: no incidents to merge", store.ErrInvalid)
		}
		now := s.now().UTC()
		prev := inc.Version
		for _, id := range sources {
			if id == target {
				return fmt.Errorf("%w: cannot merge an incident into itself", store.ErrInvalid)
			}
			src, err := readIncident(ctx, tx, inc.Tenant, id)
			if err != nil {
				return fmt.Errorf("incident %s: %w", id, err)
			}
			if src.State.Terminal() {
				return fmt.Errorf("%w: incident %s is %s", store.ErrConflict, src.ID, src.State)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET incident_id = ?, doc = json_set(doc, '$.incident_id', ?) WHERE incident_id = ?`,
				inc.ID, inc.ID, src.ID); err != nil {
				return fmt.Errorf("moving alerts: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE incident_items SET incident_id = ?, doc = json_set(doc, '$.incident_id', ?)
				WHERE incident_id = ? AND kind IN ('observable', 'evidence')`, inc.ID, inc.ID, src.ID); err != nil {
				return fmt.Errorf("moving observables: %w", err)
			}
			inc.AlertCount += src.AlertCount
			if src.FirstSeen.Before(inc.FirstSeen) {
				inc.FirstSeen = src.FirstSeen
			}
			if src.LastSeen.After(inc.LastSeen) {
				inc.LastSeen = src.LastSeen
			}
			if src.DetectedAt.Before(inc.DetectedAt) {
				inc.DetectedAt = src.DetectedAt // the legal clocks run from the first discovery
			}
			inc.Severity = max(inc.Severity, src.Severity)
			for _, t := range src.Techniques {
				if !slices.Contains(inc.Techniques, t) {
					inc.Techniques = append(inc.Techniques, t)
				}
			}
			addSystems(&inc, src.Systems)
			sv := src.Version
			src.AlertCount = 0
			src.DuplicateOf = inc.ID
			src.Apply(incident.Duplicate, now)
			if err := writeIncident(ctx, au, &src, sv); err != nil {
				return err
			}
			if err := auditIncident(ctx, au, actor, &src, "incident.merged_into", map[string]any{"target": inc.ID}); err != nil {
				return err
			}
		}
		inc.Priority = incident.Priority(inc.Severity, inc.Systems)
		inc.Updated, inc.Version = now, prev+1
		if err := writeIncident(ctx, au, &inc, prev); err != nil {
			return err
		}
		return auditIncident(ctx, au, actor, &inc, "incident.merge", map[string]any{"sources": sources})
	})
	return inc, err
}

// SplitIncident implements store.Store.
func (s *Store) SplitIncident(ctx context.Context, tenant, id string, alertIDs []string, title, actor string) (incident.Incident, error) {
	var out incident.Incident
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		parent, err := readIncident(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		if len(alertIDs) == 0 {
			return fmt.Errorf("%w: no alerts to split off", store.ErrInvalid)
		}
		ids := slices.Clone(alertIDs)
		sort.Strings(ids)
		ids = slices.Compact(ids)
		if len(ids) >= parent.AlertCount {
			return fmt.Errorf("%w: splitting off every alert leaves an empty incident; rename it instead", store.ErrConflict)
		}
		h := sha256.New()
		h.Write([]byte(parent.ID))
		var moved []alert.Alert
		for _, aid := range ids {
			a, err := readAlert(ctx, tx, parent.Tenant, aid)
			if err != nil {
				return fmt.Errorf("alert %s: %w", aid, err)
			}
			if a.IncidentID != parent.ID {
				return fmt.Errorf("%w: alert %s is not in incident %s", store.ErrInvalid, aid, parent.ID)
			}
			h.Write([]byte{0})
			h.Write([]byte(aid))
			moved = append(moved, a)
		}
		now := s.now().UTC()
		out = incident.Incident{
			ID: "INC-" + hex.EncodeToString(h.Sum(nil)[:8]), Tenant: parent.Tenant, Title: title, Description: "Split from " + parent.ID,
			Source: parent.Source, RuleID: parent.RuleID, Category: parent.Category, State: incident.New, Team: parent.Team,
			Systems: parent.Systems, ReportedBy: actor, DetectedAt: parent.DetectedAt, FirstSeen: moved[0].Time, LastSeen: moved[0].Time,
			Created: now, Updated: now, Version: 1,
		}
		out.GroupKey = parent.GroupKey + "|split=" + out.ID // never matched by new alerts
		if out.Title == "" {
			out.Title = parent.Title + " (split)"
		}
		for i := range moved {
			a := &moved[i]
			if i > 0 {
				out.Join(a, now)
			} else {
				out.AlertCount, out.Severity, out.Techniques = 1, a.Severity, slices.Clone(a.Techniques)
			}
			a.IncidentID = out.ID
			if err := writeAlert(ctx, au, a); err != nil {
				return err
			}
		}
		out.Version = 1
		out.Priority = incident.Priority(out.Severity, out.Systems)
		if err := writeIncident(ctx, au, &out, 0); err != nil {
			return err
		}
		pv := parent.Version
		parent.AlertCount -= len(moved)
		parent.Updated, parent.Version = now, pv+1
		if err := writeIncident(ctx, au, &parent, pv); err != nil {
			return err
		}
		if err := auditIncident(ctx, au, actor, &parent, "incident.split", map[string]any{"new_incident": out.ID, "alerts": ids}); err != nil {
			return err
		}
		return auditIncident(ctx, au, actor, &out, "incident.split_from", map[string]any{"parent": parent.ID, "alerts": ids})
	})
	return out, err
}

// Timeline implements store.Store.
func (s *Store) Timeline(ctx context.Context, tenant, incidentID string) ([]incident.Event, error) {
	if _, err := readIncident(ctx, s.r, tenant, incidentID); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT time, actor, action, detail FROM audit_log WHERE object_type = 'incident' AND object_id = ? ORDER BY seq`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("reading the timeline: %w", err)
	}
	defer rows.Close()
	out := []incident.Event{}
	for rows.Next() {
		var ts int64
		var ev incident.Event
		var detail string
		if err := rows.Scan(&ts, &ev.Actor, &ev.Action, &detail); err != nil {
			return nil, fmt.Errorf("reading the timeline: %w", err)
		}
		ev.Time = time.Unix(0, ts).UTC()
		if err := json.Unmarshal([]byte(detail), &ev.Detail); err != nil {
			ev.Detail = map[string]any{"raw": detail}
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

var _ store.Store = (*Store)(nil)

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }
