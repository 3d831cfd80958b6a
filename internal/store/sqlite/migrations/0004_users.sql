-- Users and the API tokens issued to them. Only the SHA-256 of a token is
-- stored; the secret is shown once at creation. Times are Unix nanoseconds.
CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	role          TEXT NOT NULL,
	tenant        TEXT NOT NULL DEFAULT '',
	disabled      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	oidc_subject  TEXT UNIQUE
);

CREATE TABLE api_tokens (
	id           TEXT PRIMARY KEY,
	user_name    TEXT NOT NULL REFERENCES users (name),
	sha256       BLOB NOT NULL UNIQUE,
	created      INTEGER NOT NULL,
	expires      INTEGER NOT NULL,
	revoked      INTEGER NOT NULL DEFAULT 0,
	last_used    INTEGER,
	description  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX api_tokens_user ON api_tokens (user_name);
CREATE INDEX api_tokens_active ON api_tokens (revoked, expires);
