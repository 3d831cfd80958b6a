-- Incidents become a JSON document plus the columns that filters and sorts
-- use. States of 0001 map to the new lifecycle: acknowledged → triaged,
-- resolved → recovered.
CREATE TABLE incidents_v3 (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	state        TEXT NOT NULL,
	open         INTEGER NOT NULL,
	severity     INTEGER NOT NULL,
	priority     INTEGER NOT NULL,
	category     TEXT NOT NULL,
	assignee     TEXT NOT NULL,
	rule_id      TEXT NOT NULL,
	group_key    TEXT NOT NULL,
	title        TEXT NOT NULL,
	last_seen    INTEGER NOT NULL,
	detected_at  INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL,
	version      INTEGER NOT NULL,
	doc          TEXT NOT NULL
);
INSERT INTO incidents_v3
SELECT id, tenant,
	CASE state WHEN 'acknowledged' THEN 'triaged' WHEN 'resolved' THEN 'recovered' ELSE state END,
	CASE WHEN state IN ('closed') THEN 0 ELSE 1 END,
	severity, severity, '', assignee, rule_id, tenant || '|rule=' || rule_id || '|group_by=' || group_key, title,
	last_seen, created, created, updated, 1,
	json_object('id', id, 'tenant', tenant, 'title', title, 'source', 'detection', 'rule_id', rule_id,
		'group_key', tenant || '|rule=' || rule_id || '|group_by=' || group_key,
		'severity', CASE severity WHEN 1 THEN 'informational' WHEN 2 THEN 'low' WHEN 3 THEN 'medium' WHEN 4 THEN 'high' ELSE 'critical' END,
		'priority', severity,
		'state', CASE state WHEN 'acknowledged' THEN 'triaged' WHEN 'resolved' THEN 'recovered' ELSE state END,
		'assignee', assignee, 'alert_count', alert_count, 'reported_by', 'system:detections',
		'first_seen', strftime('%Y-%m-%dT%H:%M:%fZ', first_seen / 1e9, 'unixepoch'),
		'last_seen', strftime('%Y-%m-%dT%H:%M:%fZ', last_seen / 1e9, 'unixepoch'),
		'detected_at', strftime('%Y-%m-%dT%H:%M:%fZ', created / 1e9, 'unixepoch'),
		'created', strftime('%Y-%m-%dT%H:%M:%fZ', created / 1e9, 'unixepoch'),
		'updated', strftime('%Y-%m-%dT%H:%M:%fZ', updated / 1e9, 'unixepoch'),
		'version', 1)
FROM incidents;
DROP TABLE incidents;
ALTER TABLE incidents_v3 RENAME TO incidents;
-- One index per sort order, with and without the tenant, ending in id: the
-- listing orders by (column, id) and pages with a row-value cursor.
CREATE INDEX incidents_updated ON incidents (updated, id);
CREATE INDEX incidents_created ON incidents (created, id);
CREATE INDEX incidents_priority ON incidents (priority, id);
CREATE INDEX incidents_detected ON incidents (detected_at, id);
CREATE INDEX incidents_tenant_updated ON incidents (tenant, updated, id);
CREATE INDEX incidents_tenant_created ON incidents (tenant, created, id);
CREATE INDEX incidents_tenant_priority ON incidents (tenant, priority, id);
CREATE INDEX incidents_tenant_detected ON incidents (tenant, detected_at, id);
CREATE INDEX incidents_tenant_severity ON incidents (tenant, severity, id);
CREATE INDEX incidents_tenant_open ON incidents (tenant, open, updated, id);
CREATE INDEX incidents_state ON incidents (state, updated, id);
CREATE INDEX incidents_tenant_state ON incidents (tenant, state, updated, id);
CREATE INDEX incidents_tenant_rule ON incidents (tenant, rule_id, updated, id);
CREATE INDEX incidents_group ON incidents (group_key, last_seen) WHERE open = 1;

UPDATE alerts SET group_key = tenant || '|rule=' || rule_id || '|group_by=' || group_key;
ALTER TABLE alerts ADD COLUMN status TEXT NOT NULL DEFAULT 'new';
ALTER TABLE alerts ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_time ON alerts (time);

-- Tasks, comments, observables, evidence and filings of incidents.
CREATE TABLE incident_items (
	kind         TEXT NOT NULL,
	id           TEXT NOT NULL,
	incident_id  TEXT NOT NULL,
	tenant       TEXT NOT NULL,
	created      INTEGER NOT NULL,
	doc          TEXT NOT NULL,
	PRIMARY KEY (kind, id)
);
CREATE INDEX incident_items_incident ON incident_items (incident_id, kind, created);

-- The timeline of an incident is its audit entries.
CREATE INDEX audit_object ON audit_log (object_type, object_id, seq);

-- Notices the notifier has sent, so each goes out once.
CREATE TABLE notices_sent (
	key          TEXT PRIMARY KEY,
	sent         INTEGER NOT NULL
);
