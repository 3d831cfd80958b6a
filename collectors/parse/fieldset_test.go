package parse

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// TestFieldSetMatchesSet checks fieldSet against Event.Set on random names
// with duplicates, existing fields and more fields than its capacity.
func TestFieldSetMatchesSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		var base []event.Field
		for i := range rng.IntN(10) {
			base = append(base, event.Field{Name: fmt.Sprintf("f%02d", rng.IntN(40)), Value: event.StringValue(fmt.Sprint("old", i))})
		}
		slices.SortStableFunc(base, func(a, b event.Field) int { return cmpName(a.Name, b.Name) })
		base = slices.CompactFunc(base, func(a, b event.Field) bool { return a.Name == b.Name })
		want := event.Event{Fields: slices.Clone(base)}
		got := event.Event{Fields: slices.Clone(base)}
		var fs fieldSet
		for i := range rng.IntN(40) {
			name, v := fmt.Sprintf("f%02d", rng.IntN(40)), event.StringValue(fmt.Sprint("new", i))
			want.Set(name, v)
			fs.set(&got, name, v)
		}
		fs.apply(&got)
		if len(got.Fields) != len(want.Fields) {
			t.Fatalf("round %d: %d fields, want %d", round, len(got.Fields), len(want.Fields))
		}
		for i := range want.Fields {
			if got.Fields[i].Name != want.Fields[i].Name || got.Fields[i].Value.Str != want.Fields[i].Value.Str {
				t.Fatalf("round %d field %d: %v, want %v", round, i, got.Fields[i], want.Fields[i])
			}
		}
	}
}
