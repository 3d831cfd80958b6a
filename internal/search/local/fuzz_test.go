package local

import (
	"errors"
	"testing"

	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/search/searchtest"
)

// FuzzSearch checks that every query that parses runs on the store and
// selects what kql's Match selects.
func FuzzSearch(f *testing.F) {
	for _, q := range searchtest.Queries {
		f.Add(q)
	}
	st := open(f, Config{})
	defer st.Close()
	evs := searchtest.Corpus(150)
	searchtest.Index(f, st, evs, 1000)
	f.Fuzz(func(t *testing.T, text string) {
		q := search.Query{Text: text, Limit: 10}
		res, err := st.Search(t.Context(), q)
		if errors.Is(err, search.ErrBadQuery) {
			return
		}
		if err != nil {
			t.Fatalf("Search(%q): %v", text, err)
		}
		searchtest.Expect(t, evs, q, res)
	})
}
