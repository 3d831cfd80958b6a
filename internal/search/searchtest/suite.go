package searchtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/search/kql"
)

// Run is the conformance suite of search.Store. open returns a new, empty
// store for each subtest; Run closes it.
func Run(t *testing.T, open func(t *testing.T) search.Store) {
	sub := func(name string, f func(t *testing.T, st search.Store)) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			defer func() {
				if err := st.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			f(t, st)
		})
	}
	sub("IndexSearch", testIndexSearch)
	sub("Dedup", testDedup)
	sub("Tenants", testTenants)
	sub("TimeRange", testTimeRange)
	sub("Limit", testLimit)
	sub("BadQuery", testBadQuery)
	sub("BadEvent", testBadEvent)
	sub("ZeroTime", testZeroTime)
	sub("Queries", testQueries)
	sub("RandomQueries", testRandomQueries)
	sub("Concurrent", testConcurrent)
}

// Index indexes events in batches of batch, failing t on error.
func Index(t testing.TB, st search.Store, events []event.Event, batch int) {
	t.Helper()
	for len(events) > 0 {
		n := min(batch, len(events))
		if err := st.Index(t.Context(), events[:n]); err != nil {
			t.Fatalf("Index: %v", err)
		}
		events = events[n:]
	}
}

// Search runs q, failing t on error.
func Search(t testing.TB, st search.Store, q search.Query) search.Result {
	t.Helper()
	res, err := st.Search(t.Context(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return res
}

// Expect checks res against what Memory's semantics select from events
// (whose IDs must be unique): the Total, and the newest events in order.
// Events with equal times may come in any order among themselves.
func Expect(t testing.TB, events []event.Event, q search.Query, res search.Result) {
	t.Helper()
	root, err := kql.Parse(q.Text)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q.Text, err)
	}
	var want []*event.Event
	for i := range events {
		if Selects(q, root, &events[i]) {
			want = append(want, &events[i])
		}
	}
	slices.SortStableFunc(want, func(a, b *event.Event) int { return b.Time.Compare(a.Time) })
	total := len(want)
	byID := make(map[string]*event.Event, total)
	for _, ev := range want {
		byID[ev.ID] = ev
	}
	want = want[:min(len(want), q.EffectiveLimit())]
	ok := res.Total == total && len(res.Events) == len(want)
	seen := map[string]bool{}
	for i := 0; ok && i < len(want); i++ {
		got := &res.Events[i]
		ok = byID[got.ID] != nil && !seen[got.ID] && got.Time.Equal(want[i].Time)
		seen[got.ID] = true
	}
	if !ok {
		var got, exp []string
		for i := range res.Events {
			got = append(got, res.Events[i].ID)
		}
		for _, ev := range want {
			exp = append(exp, ev.ID)
		}
		t.Fatalf("query %q (tenant %q, %v..%v, limit %d):\ngot  total %d, ids %s\nwant total %d, ids %s",
			q.Text, q.Tenant, q.From, q.To, q.Limit, res.Total, short(got), total, short(exp))
	}
	for i := range res.Events {
		a, b := event.AppendJSON(nil, byID[res.Events[i].ID]), event.AppendJSON(nil, &res.Events[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("query %q: event %d differs:\ngot  %s\nwant %s", q.Text, i, b, a)
		}
	}
}

func short(ids []string) string {
	for i := range ids {
		ids[i] = ids[i][:min(6, len(ids[i]))]
	}
	if len(ids) > 12 {
		return fmt.Sprintf("%s ... (%d)", strings.Join(ids[:12], ","), len(ids))
	}
	return strings.Join(ids, ",")
}

func testIndexSearch(t *testing.T, st search.Store) {
	evs := Corpus(300)
	Index(t, st, evs, 64)
	for _, q := range []search.Query{{}, {Limit: search.MaxLimit}, {Text: "source.ip:10.0.0.5"}} {
		Expect(t, evs, q, Search(t, st, q))
	}
}

func testDedup(t *testing.T, st search.Store) {
	evs := Corpus(200)
	Index(t, st, evs[:150], 1000)
	Index(t, st, evs[50:], 1000) // overlaps the first batch
	Index(t, st, evs, 7)
	dup := slices.Concat(evs[:10], evs[:10])
	Index(t, st, dup, 1000) // duplicates within a batch
	for _, text := range []string{"", "failed", `"logon failed"`, "power*", "source.ip:10.0.0.5"} {
		q := search.Query{Text: text, Limit: search.MaxLimit}
		Expect(t, evs, q, Search(t, st, q))
	}
}

func testTenants(t *testing.T, st search.Store) {
	evs := Corpus(300)
	Index(t, st, evs, 100)
	for _, tenant := range append([]string{"", "nobody"}, Tenants...) {
		for _, text := range []string{"", "failed", "mangrove.tenant:acme", "NOT mangrove.tenant:acme", "event.code:4625"} {
			q := search.Query{Tenant: tenant, Text: text, Limit: search.MaxLimit}
			res := Search(t, st, q)
			for _, ev := range res.Events {
				if tenant != "" && ev.Tenant != tenant {
					t.Fatalf("tenant %q saw an event of tenant %q", tenant, ev.Tenant)
				}
			}
			Expect(t, evs, q, res)
		}
	}
}

func testTimeRange(t *testing.T, st search.Store) {
	evs := Corpus(400)
	Index(t, st, evs, 100)
	at := func(i int) time.Time { return evs[i].Time }
	for _, q := range []search.Query{
		{From: at(10), To: at(5)}, // From inclusive, To exclusive
		{From: at(10)},
		{To: at(390)},
		{From: at(399), To: at(0).Add(time.Nanosecond)},
		{From: at(200).Add(time.Nanosecond), To: at(199)},
		{From: Base.Add(-48 * time.Hour), To: Base.Add(-24 * time.Hour), Text: "failed OR event.code:4625"},
		{From: Base.Add(-30 * time.Hour), Text: "@timestamp < 2026-11-24T12:00:00Z"},
		{From: Base.Add(time.Hour)},
		{To: Base.Add(-10 * 24 * time.Hour)},
	} {
		q.Limit = search.MaxLimit
		Expect(t, evs, q, Search(t, st, q))
	}
}

func testLimit(t *testing.T, st search.Store) {
	evs := Corpus(250)
	Index(t, st, evs, 1000)
	for _, q := range []search.Query{{}, {Limit: 1}, {Limit: 2, Text: "failed"}, {Limit: 249}, {Limit: 250}, {Limit: 251}} {
		res := Search(t, st, q)
		if len(res.Events) != min(q.EffectiveLimit(), res.Total) {
			t.Errorf("limit %d: %d events of %d", q.Limit, len(res.Events), res.Total)
		}
		Expect(t, evs, q, res)
	}
	for _, limit := range []int{-1, search.MaxLimit + 1} {
		if _, err := st.Search(t.Context(), search.Query{Limit: limit}); !errors.Is(err, search.ErrBadQuery) {
			t.Errorf("limit %d: error %v, want ErrBadQuery", limit, err)
		}
	}
}

func testBadQuery(t *testing.T, st search.Store) {
	Index(t, st, Corpus(10), 100)
	for _, q := range []search.Query{
		{Text: "a AND"}, {Text: `f:"open`}, {Text: "(a"}, {Text: "*.exe"}, {Text: strings.Repeat("a ", 300)},
		{From: Base, To: Base}, {From: Base, To: Base.Add(-time.Hour)},
	} {
		_, err := st.Search(t.Context(), q)
		if !errors.Is(err, search.ErrBadQuery) {
			t.Errorf("Search(%+v): error %v, want ErrBadQuery", q, err)
		}
	}
}

func testBadEvent(t *testing.T, st search.Store) {
	evs := Corpus(3)
	bad := slices.Clone(evs)
	bad[1].ID = ""
	if err := st.Index(t.Context(), bad); !errors.Is(err, search.ErrBadEvent) {
		t.Fatalf("Index with an empty ID: error %v, want ErrBadEvent", err)
	}
	if res := Search(t, st, search.Query{}); res.Total != 0 {
		t.Fatalf("a failed Index stored %d events", res.Total)
	}
	Index(t, st, evs, 10)
	Expect(t, evs, search.Query{}, Search(t, st, search.Query{}))
}

func testZeroTime(t *testing.T, st search.Store) {
	before := time.Now()
	ev := event.Event{ID: "zero-time", Tenant: "acme"}
	ev.Set("message", event.StringValue("no time given"))
	Index(t, st, []event.Event{ev}, 1)
	res := Search(t, st, search.Query{Text: `"time given"`})
	if res.Total != 1 || len(res.Events) != 1 {
		t.Fatalf("got %d events, want 1", res.Total)
	}
	if got := res.Events[0].Time; got.Before(before.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) {
		t.Errorf("event without time stored at %v, want the time of indexing", got)
	}
}

func testQueries(t *testing.T, st search.Store) {
	evs := Corpus(600)
	Index(t, st, evs, 250)
	for _, text := range Queries {
		for _, tenant := range []string{"", "acme"} {
			q := search.Query{Tenant: tenant, Text: text, Limit: 50}
			Expect(t, evs, q, Search(t, st, q))
		}
	}
}

func testRandomQueries(t *testing.T, st search.Store) {
	evs := Corpus(500)
	Index(t, st, evs, 500)
	r := rand.New(rand.NewPCG(7, 11))
	for range 400 {
		text := RandomQuery(r).String()
		if _, err := kql.Parse(text); err != nil {
			continue // the canonical form can exceed a limit
		}
		q := search.Query{Text: text, Limit: 20}
		if r.IntN(3) == 0 {
			q.Tenant = Tenants[r.IntN(len(Tenants))]
		}
		if r.IntN(3) == 0 {
			q.From = Base.Add(-time.Duration(r.IntN(72)) * time.Hour)
		}
		Expect(t, evs, q, Search(t, st, q))
	}
}

func testConcurrent(t *testing.T, st search.Store) {
	evs := Corpus(800)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 4 {
		wg.Go(func() {
			part := evs[w*200 : (w+1)*200]
			for i := 0; i < len(part); i += 20 {
				if err := st.Index(t.Context(), part[i:i+20]); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				if _, err := st.Search(t.Context(), search.Query{Text: "failed OR source.ip:10.0.0.5", Tenant: Tenants[w%3]}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	q := search.Query{Limit: search.MaxLimit}
	Expect(t, evs, q, Search(t, st, q))
}
