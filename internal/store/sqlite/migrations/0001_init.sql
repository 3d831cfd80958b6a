CREATE TABLE alerts (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	rule_id      TEXT NOT NULL,
	severity     INTEGER NOT NULL,
	time         INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	group_key    TEXT NOT NULL,
	incident_id  TEXT NOT NULL DEFAULT '',
	doc          TEXT NOT NULL
);
CREATE INDEX alerts_tenant_time ON alerts (tenant, time);
CREATE INDEX alerts_incident ON alerts (incident_id);

CREATE TABLE incidents (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	title        TEXT NOT NULL,
	rule_id      TEXT NOT NULL,
	group_key    TEXT NOT NULL,
	severity     INTEGER NOT NULL,
	state        TEXT NOT NULL,
	assignee     TEXT NOT NULL DEFAULT '',
	alert_count  INTEGER NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL
);
CREATE INDEX incidents_tenant_updated ON incidents (tenant, updated);
-- At most one open incident per tenant, rule and group key.
CREATE UNIQUE INDEX incidents_open_key ON incidents (tenant, rule_id, group_key)
	WHERE state NOT IN ('resolved', 'closed');

CREATE TABLE audit_log (
	seq          INTEGER PRIMARY KEY,
	time         INTEGER NOT NULL,
	actor        TEXT NOT NULL,
	tenant       TEXT NOT NULL,
	action       TEXT NOT NULL,
	object_type  TEXT NOT NULL,
	object_id    TEXT NOT NULL,
	detail       TEXT NOT NULL,
	prev_hash    TEXT NOT NULL,
	hash         TEXT NOT NULL
);
