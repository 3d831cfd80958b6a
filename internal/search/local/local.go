// Package local is the embedded event store: a search.Store on one SQLite
// database file (modernc.org/sqlite, no cgo) for installations without
// Elasticsearch.
//
// Layout: <Dir>/events.db in WAL mode. Events are partitioned by the UTC day
// of their time, one table per day (events_20261125: id primary key, ts in
// unix nanoseconds, tenant, dataset, doc = the event's JSON from
// event.AppendJSON) with indexes on (tenant, ts) and (ts), and an FTS5 table
// per day (events_20261125_fts) over the message field for free text. A
// trigger fills the FTS table only when an event row is really inserted, so
// re-indexing never duplicates it. Retention drops whole day tables.
//
// Writes go through one connection (one writer at a time, in Index and
// Prune) with synchronous=FULL, so a batch survives a power loss once Index
// returns; searches use a separate pool of read-only connections and see a
// consistent snapshot. Search compiles the kql AST to SQL over the day
// tables that overlap the query's time window (the window given in the
// query, narrowed by top-level @timestamp ranges). Field conditions read the
// JSON with json_extract / json_each; they use no index, so their cost grows
// with the number of events in the window and tenant. Free-text wildcards
// other than a trailing * (*strator, p?wer) cannot be expressed exactly in
// SQL: they are pre-filtered in SQL and finished with kql's Match, which
// keeps Total exact.
//
// Retention counts from the later of an event's day and the last time its day
// table was written, so that old logs imported today (a forensic import, a
// replay of a lab dataset) are kept for the retention period like new ones
// instead of being dropped at the next prune. The day_writes table records
// when each day table was last written.
//
// Deduplication is per day table: an event re-indexed with the same ID and
// Time is skipped. An event without a Time is stored with the time of
// indexing, so re-sending it on a later day stores it again.
package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/search"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DefaultRetention is how long events are kept when Config.Retention is 0.
const DefaultRetention = 30 * 24 * time.Hour

// MaxDocBytes is the largest JSON encoding of one event that Index accepts.
const MaxDocBytes = 1 << 20

// schemaVersion is stored in PRAGMA user_version.
const schemaVersion = 1

// Config configures a Store.
type Config struct {
	// Dir holds events.db; it is created if missing.
	Dir string `yaml:"dir"`
	// Retention is how long events are kept, at least: Prune drops a day
	// once all of it is older than Retention. 0 means DefaultRetention.
	Retention time.Duration `yaml:"retention"`
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir: must not be empty"))
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("retention: must not be negative, got %s", c.Retention))
	}
	return errors.Join(errs...)
}

// Store is the embedded search.Store. Its methods are safe for concurrent
// use.
type Store struct {
	retention time.Duration
	write     *sql.DB // one connection
	read      *sql.DB // query_only connections

	mu   sync.Mutex       // serializes writes; guards days
	days map[int]struct{} // day tables known to exist (yyyymmdd)

	now func() time.Time // the clock of Index (write times); tests set it
}

var _ search.Store = (*Store)(nil)

// Open opens or creates the store in cfg.Dir.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid event store config: %w", err)
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating event store directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(cfg.Dir, "events.db"))
	if err != nil {
		return nil, fmt.Errorf("locating event store: %w", err)
	}
	s := &Store{retention: cfg.Retention, days: map[int]struct{}{}, now: time.Now}
	s.write, err = sql.Open("sqlite", dsn(path, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"},
		"_busy_timeout": {"10000"},
		"_txlock":       {"immediate"},
		// Statement journals of multi-row inserts stay in memory; the WAL
		// is checkpointed every 10,000 pages (about 40 MB).
		"_pragma": {"temp_store(MEMORY)", "wal_autocheckpoint(10000)"},
	}))
	if err != nil {
		return nil, fmt.Errorf("opening event store: %w", err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	if err := s.init(); err != nil {
		s.write.Close()
		return nil, err
	}
	s.read, err = sql.Open("sqlite", dsn(path, url.Values{
		"_query_only":   {"1"},
		"_busy_timeout": {"10000"},
		"_pragma":       {"cache_size(-16384)"},
	}))
	if err != nil {
		s.write.Close()
		return nil, fmt.Errorf("opening event store for reading: %w", err)
	}
	n := min(max(runtime.GOMAXPROCS(0), 2), 8)
	s.read.SetMaxOpenConns(n)
	s.read.SetMaxIdleConns(n)
	if err := s.read.Ping(); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening event store for reading: %w", err)
	}
	return s, nil
}

// dsn returns a file: URI for path with the driver's parameters.
func dsn(path string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: params.Encode()}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // Windows: file:///C:/...
	}
	return u.String()
}

// init checks the schema version and loads the list of day tables.
func (s *Store) init() error {
	ctx := context.Background()
	var v int
	if err := s.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("opening event store: %w", err)
	}
	switch v {
	case 0:
		if _, err := s.write.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(schemaVersion)); err != nil {
			return fmt.Errorf("initializing event store: %w", err)
		}
	case schemaVersion:
	default:
		return fmt.Errorf("event store has schema version %d, this build reads version %d", v, schemaVersion)
	}
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS day_writes (day INTEGER PRIMARY KEY, last_write INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("initializing event store: %w", err)
	}
	days, err := listDays(ctx, s.write)
	if err != nil {
		return err
	}
	for _, d := range days {
		s.days[d] = struct{}{}
	}
	return nil
}

// Close closes the database. Calls after Close fail.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// listDays returns the days (yyyymmdd) that have a table, newest first.
func listDays(ctx context.Context, q queryer) ([]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name GLOB 'events_[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'`)
	if err != nil {
		return nil, fmt.Errorf("listing day tables: %w", err)
	}
	defer rows.Close()
	var days []int
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing day tables: %w", err)
		}
		d, err := strconv.Atoi(strings.TrimPrefix(name, "events_"))
		if err != nil {
			return nil, fmt.Errorf("listing day tables: bad name %q", name)
		}
		days = append(days, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing day tables: %w", err)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(days)))
	return days, nil
}

// dayOf returns the UTC day of t as yyyymmdd.
func dayOf(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// dayStart returns the start of day d (yyyymmdd), UTC.
func dayStart(d int) time.Time {
	return time.Date(d/10000, time.Month(d/100%100), d%100, 0, 0, 0, 0, time.UTC)
}

func tableName(d int) string { return "events_" + strconv.Itoa(d) }

// createDay creates the tables of day d in tx.
func createDay(ctx context.Context, tx *sql.Tx, d int) error {
	t := tableName(d)
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
			id TEXT PRIMARY KEY,
			ts INTEGER NOT NULL,
			tenant TEXT NOT NULL,
			dataset TEXT NOT NULL,
			doc TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_tenant_ts ON ` + t + ` (tenant, ts)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_ts ON ` + t + ` (ts)`,
		`CREATE VIRTUAL TABLE IF NOT EXISTS ` + t + `_fts USING fts5(message, content='', tokenize='ascii')`,
		// The trigger runs only for rows INSERT OR IGNORE really inserts.
		`CREATE TRIGGER IF NOT EXISTS ` + t + `_fts_insert AFTER INSERT ON ` + t + ` BEGIN
			INSERT INTO ` + t + `_fts (rowid, message)
			SELECT new.rowid, group_concat(value, ' ' ORDER BY key) FROM json_each(new.doc, '$.message')
			WHERE type = 'text' HAVING count(*) > 0;
		END`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("creating table %s: %w", t, err)
		}
	}
	return nil
}

// row is one event ready to insert.
type row struct {
	day     int
	id      string
	ts      int64
	tenant  string
	dataset string
	doc     string
}

// rowsPerInsert is how many rows one INSERT statement carries.
const rowsPerInsert = 500

// Index stores events durably (see search.Store). The batch is written in
// one transaction with INSERT OR IGNORE; events already stored are skipped.
func (s *Store) Index(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	now := s.now()
	rows, err := encode(events, now)
	if err != nil {
		return err
	}
	// Group by day, keeping the batch order within a day.
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].day < rows[j].day })

	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("indexing events: %w", err)
	}
	defer tx.Rollback()
	var created []int
	for len(rows) > 0 {
		d := rows[0].day
		n := 1
		for n < len(rows) && rows[n].day == d {
			n++
		}
		if _, ok := s.days[d]; !ok {
			if err := createDay(ctx, tx, d); err != nil {
				return fmt.Errorf("indexing events: %w", err)
			}
			created = append(created, d)
		}
		if err := insert(ctx, tx, tableName(d), rows[:n]); err != nil {
			return fmt.Errorf("indexing events: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO day_writes (day, last_write) VALUES (?, ?)
			ON CONFLICT (day) DO UPDATE SET last_write = excluded.last_write`, d, now.UnixNano()); err != nil {
			return fmt.Errorf("indexing events: recording the write: %w", err)
		}
		rows = rows[n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("indexing events: committing: %w", err)
	}
	for _, d := range created {
		s.days[d] = struct{}{}
	}
	return nil
}

// encode validates and encodes events. It reports every bad event (up to
// ten) at once.
func encode(events []event.Event, now time.Time) ([]row, error) {
	rows := make([]row, 0, len(events))
	var errs []error
	bad := 0
	fail := func(err error) {
		if bad++; bad <= 10 {
			errs = append(errs, err)
		}
	}
	var buf []byte
	for i := range events {
		ev := &events[i]
		if ev.ID == "" {
			fail(fmt.Errorf("events[%d].id: %w: must not be empty", i, search.ErrBadEvent))
			continue
		}
		if ev.Time.IsZero() {
			cp := *ev
			cp.Time = now
			ev = &cp
		}
		if ev.Time.Before(minTime) || !ev.Time.Before(maxTime) {
			fail(fmt.Errorf("events[%d].time: %w: %s is outside %d-%d", i, search.ErrBadEvent,
				ev.Time.Format(time.RFC3339), minTime.Year(), maxTime.Year()-1))
			continue
		}
		buf = event.AppendJSON(buf[:0], ev)
		if len(buf) > MaxDocBytes {
			fail(fmt.Errorf("events[%d]: %w: encoding is %d bytes, limit %d", i, search.ErrBadEvent, len(buf), MaxDocBytes))
			continue
		}
		rows = append(rows, row{
			day:     dayOf(ev.Time),
			id:      ev.ID,
			ts:      ev.Time.UnixNano(),
			tenant:  ev.Tenant,
			dataset: ev.Dataset,
			doc:     string(buf), // TEXT: a []byte would bind as a BLOB, which JSON functions read as JSONB
		})
	}
	if bad > len(errs) {
		errs = append(errs, fmt.Errorf("and %d more bad events", bad-len(errs)))
	}
	return rows, errors.Join(errs...)
}

// insert writes rows into table with multi-row INSERT OR IGNORE statements.
func insert(ctx context.Context, tx *sql.Tx, table string, rows []row) error {
	args := make([]any, 0, 5*min(len(rows), rowsPerInsert))
	var q strings.Builder
	for len(rows) > 0 {
		n := min(len(rows), rowsPerInsert)
		q.Reset()
		q.WriteString("INSERT OR IGNORE INTO " + table + " (id, ts, tenant, dataset, doc) VALUES ")
		args = args[:0]
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?)")
			args = append(args, r.id, r.ts, r.tenant, r.dataset, r.doc)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("inserting into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// Prune drops the day tables that lie entirely before now minus the
// retention and were last written before it too, and returns how many days
// it dropped.
func (s *Store) Prune(ctx context.Context, now time.Time) (dropped int, err error) {
	cutoff := now.Add(-s.retention)
	s.mu.Lock()
	defer s.mu.Unlock()
	days, err := listDays(ctx, s.write)
	if err != nil {
		return 0, fmt.Errorf("pruning events: %w", err)
	}
	written := map[int]int64{}
	rows, err := s.write.QueryContext(ctx, `SELECT day, last_write FROM day_writes`)
	if err != nil {
		return 0, fmt.Errorf("pruning events: %w", err)
	}
	for rows.Next() {
		var d int
		var w int64
		if err := rows.Scan(&d, &w); err != nil {
			rows.Close()
			return 0, fmt.Errorf("pruning events: %w", err)
		}
		written[d] = w
	}
	rows.Close()
	for _, d := range days {
		if dayStart(d).AddDate(0, 0, 1).After(cutoff) || written[d] > cutoff.UnixNano() {
			continue
		}
		if err := dropDay(ctx, s.write, d); err != nil {
			return dropped, fmt.Errorf("pruning events: %w", err)
		}
		delete(s.days, d)
		dropped++
	}
	return dropped, nil
}

func dropDay(ctx context.Context, db *sql.DB, d int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	t := tableName(d)
	for _, stmt := range []string{
		`DROP TABLE IF EXISTS ` + t + `_fts`,
		`DROP TABLE IF EXISTS ` + t,
		`DELETE FROM day_writes WHERE day = ` + strconv.Itoa(d),
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("dropping %s: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("dropping %s: %w", t, err)
	}
	return nil
}

// Run prunes now and then every hour until ctx is done. It returns nil when
// ctx is done and the error of a failed prune otherwise. The owner cancels
// ctx and waits for Run to return before calling Close.
func (s *Store) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if _, err := s.Prune(ctx, time.Now()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Ping checks that the database answers (for readiness probes).
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }
