-- Signed checkpoints of the audit log head (internal/audit.Checkpoint).
CREATE TABLE audit_checkpoints (
	seq          INTEGER PRIMARY KEY,
	hash         TEXT NOT NULL,
	time         INTEGER NOT NULL,
	key_id       TEXT NOT NULL,
	signature    BLOB NOT NULL
);
