package local

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/search/kql"
)

// Search returns the events matching q (see search.Store), reading one
// snapshot of the database.
func (s *Store) Search(ctx context.Context, q search.Query) (search.Result, error) {
	res := search.Result{Events: []event.Event{}}
	if err := q.Validate(); err != nil {
		return res, err
	}
	root, err := kql.Parse(q.Text)
	if err != nil {
		return res, err
	}
	from, to := timeBounds(root)
	if from.IsZero() || q.From.After(from) {
		from = q.From
	}
	if to.IsZero() || (!q.To.IsZero() && q.To.Before(to)) {
		to = q.To
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return res, nil
	}

	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return res, fmt.Errorf("searching events: %w", err)
	}
	defer tx.Rollback()
	days, err := listDays(ctx, tx)
	if err != nil {
		return res, fmt.Errorf("searching events: %w", err)
	}
	x := executor{tx: tx, q: q, root: root, limit: q.EffectiveLimit(), res: &res}
	x.dec.Trusted = true
	x.dec.Limits = event.Limits{MaxBytes: MaxDocBytes, MaxFields: MaxDocBytes}
	for _, d := range days {
		start := dayStart(d)
		if (!to.IsZero() && !start.Before(to)) || (!from.IsZero() && !start.AddDate(0, 0, 1).After(from)) {
			continue
		}
		if err := x.day(ctx, d, from, to); err != nil {
			return search.Result{Events: []event.Event{}}, fmt.Errorf("searching events: %w", err)
		}
	}
	return res, nil
}

// executor runs one search over the day tables, newest day first.
type executor struct {
	tx    *sql.Tx
	q     search.Query
	root  kql.Node
	limit int
	res   *search.Result
	dec   event.Decoder
}

// day adds the matches in day d's table to the result.
func (x *executor) day(ctx context.Context, d int, from, to time.Time) error {
	table := tableName(d)
	c := compiler{fts: table + "_fts"}
	where := "1"
	if x.q.Tenant != "" {
		where += " AND e.tenant = " + c.bind(x.q.Tenant)
	}
	if !from.IsZero() {
		where += " AND e.ts >= " + c.bind(nanos(from))
	}
	if !to.IsZero() {
		where += " AND e.ts < " + c.bind(nanos(to))
	}
	cond, exact := c.expr(x.root)
	where += " AND " + cond
	sel := "SELECT e.doc FROM " + table + " AS e WHERE " + where + " ORDER BY e.ts DESC, e.rowid DESC"

	if !exact {
		// Finish in Go: every candidate is decoded, so Total stays exact.
		_, err := x.scan(ctx, sel, c.args, true)
		return err
	}
	// Fetch the newest matches first: when they do not fill the page they
	// are all of this day's matches, and no count is needed.
	if room := x.limit - len(x.res.Events); room > 0 {
		args := append(c.args[:len(c.args):len(c.args)], room)
		got, err := x.scan(ctx, sel+" LIMIT ?"+strconv.Itoa(len(args)), args, false)
		if err != nil {
			return err
		}
		if got < room {
			x.res.Total += got
			return nil
		}
	}
	var n int
	if err := x.tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" AS e WHERE "+where, c.args...).Scan(&n); err != nil {
		return fmt.Errorf("counting in %s: %w", table, err)
	}
	x.res.Total += n
	return nil
}

// scan decodes the documents sel returns into the result and returns how
// many it added. With match, it checks each event against the query and
// counts the matches in Total.
func (x *executor) scan(ctx context.Context, sel string, args []any, match bool) (added int, err error) {
	rows, err := x.tx.QueryContext(ctx, sel, args...)
	if err != nil {
		return 0, fmt.Errorf("querying: %w", err)
	}
	defer rows.Close()
	var doc sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&doc); err != nil {
			return added, fmt.Errorf("reading: %w", err)
		}
		var ev event.Event
		if err := x.dec.Decode(doc, &ev); err != nil {
			return added, fmt.Errorf("decoding stored event: %w", err)
		}
		if x.q.Tenant != "" && ev.Tenant != x.q.Tenant {
			return added, fmt.Errorf("stored event %s of tenant %q matched a search of tenant %q", ev.ID, ev.Tenant, x.q.Tenant)
		}
		if match {
			if !x.root.Match(&ev) {
				continue
			}
			x.res.Total++
		}
		if len(x.res.Events) < x.limit {
			x.res.Events = append(x.res.Events, ev)
			added++
		}
	}
	if err := rows.Err(); err != nil {
		return added, fmt.Errorf("reading: %w", err)
	}
	return added, nil
}
