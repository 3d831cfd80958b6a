CREATE TABLE exceptions (
	id          TEXT PRIMARY KEY,
	tenant      TEXT NOT NULL,
	rule_id     TEXT NOT NULL,
	doc         TEXT NOT NULL,
	expires     INTEGER NOT NULL,
	revoked     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX exceptions_tenant ON exceptions (tenant, expires);
