// Package sqlite is the embedded implementation of store.Store on SQLite
// (modernc.org/sqlite, pure Go): WAL journal, a busy timeout, one writer
// connection and a pool of readers, versioned migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a SQLite-backed store.Store.
type Store struct {
	w, r *sql.DB
	now  func() time.Time

	mu      sync.Mutex // serializes this process's write transactions
	grouper store.Grouper
	assets  store.AssetMatcher
}

// Open opens (creating if needed) the database file at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := func(extra string) string {
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "temp_store(MEMORY)"} {
			q.Add("_pragma", p)
		}
		if extra != "" {
			q.Add("_pragma", extra)
		}
		return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("")+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{w: w, r: r, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction, in file-name order.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		var n int
		if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return fmt.Errorf("checking migration %s: %w", version, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("applying migration %s: %w", version, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`, version, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return fmt.Errorf("recording migration %s: %w", version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("committing migration %s: %w", version, err)
		}
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.r.PingContext(ctx) }

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.w.Close(), s.r.Close())
}

// writeTx runs fn in one write transaction; audit entries fn appends are
// chained and committed with it.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx, au *auditor) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	// The head is read inside the transaction, not cached: other processes
	// (mangrove users, tokens) append to the same log while serve runs, and
	// the immediate transaction lock makes this read-then-append atomic.
	au := &auditor{tx: tx, now: s.now, stmts: map[string]*sql.Stmt{}}
	defer au.close()
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0), COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), ?) FROM audit_log`,
		audit.Genesis).Scan(&au.seq, &au.tip); err != nil {
		tx.Rollback()
		return fmt.Errorf("reading audit head: %w", err)
	}
	if err := fn(tx, au); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// auditor appends chained entries inside one transaction. It also runs the
// transaction's other writes through ExecContext, which prepares each
// statement once per transaction (a batch of alerts repeats the same few
// statements thousands of times).
type auditor struct {
	tx    *sql.Tx
	seq   int64
	tip   string
	now   func() time.Time
	stmts map[string]*sql.Stmt
}

// ExecContext runs query in the transaction with a statement prepared once.
func (a *auditor) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st := a.stmts[query]
	if st == nil {
		var err error
		if st, err = a.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		a.stmts[query] = st
	}
	return st.ExecContext(ctx, args...)
}

func (a *auditor) close() {
	for _, st := range a.stmts {
		st.Close()
	}
}

func (a *auditor) append(ctx context.Context, e audit.Entry) error {
	e.Seq = a.seq + 1
	if e.Time.IsZero() {
		e.Time = a.now().UTC()
	}
	if e.Detail == nil {
		e.Detail = []byte("{}")
	}
	e.Seal(a.tip)
	if _, err := a.ExecContext(ctx, `INSERT INTO audit_log (seq, time, actor, tenant, action, object_type, object_id, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.Time.UnixNano(), e.Actor, e.Tenant, e.Action, e.ObjectType, e.ObjectID,
		string(e.Detail), e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("appending audit entry: %w", err)
	}
	a.seq, a.tip = e.Seq, e.Hash
	return nil
}

// AuditLog calls fn for every entry in sequence order.
func (s *Store) AuditLog(ctx context.Context, fn func(*audit.Entry) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, time, actor, tenant, action, object_type, object_id, detail, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("reading audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e audit.Entry
		var ts int64
		var detail string
		if err := rows.Scan(&e.Seq, &ts, &e.Actor, &e.Tenant, &e.Action, &e.ObjectType, &e.ObjectID, &detail, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("reading audit log: %w", err)
		}
		e.Time = time.Unix(0, ts).UTC()
		e.Detail = []byte(detail)
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
}
