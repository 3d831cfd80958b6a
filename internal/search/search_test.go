package search

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestQueryValidate(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		q     Query
		want  []string // substrings of the error; nil for valid
		limit int
	}{
		{Query{}, nil, DefaultLimit},
		{Query{Limit: 1}, nil, 1},
		{Query{Limit: MaxLimit, From: t0, To: t0.Add(time.Nanosecond)}, nil, MaxLimit},
		{Query{From: t0}, nil, DefaultLimit},
		{Query{To: t0}, nil, DefaultLimit},
		{Query{Limit: -1}, []string{"limit:"}, -1},
		{Query{Limit: MaxLimit + 1}, []string{"limit:"}, MaxLimit + 1},
		{Query{From: t0, To: t0}, []string{"to: bad query: must be after from"}, DefaultLimit},
		{Query{Limit: -5, From: t0.Add(time.Hour), To: t0}, []string{"limit:", "to:"}, -5},
	}
	for _, tt := range tests {
		err := tt.q.Validate()
		if tt.want == nil && err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", tt.q, err)
		}
		if tt.want != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Errorf("Validate(%+v) = %v, want an ErrBadQuery", tt.q, err)
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate(%+v) = %v, want %q", tt.q, err, w)
				}
			}
		}
		if got := tt.q.EffectiveLimit(); got != tt.limit {
			t.Errorf("EffectiveLimit(%+v) = %d, want %d", tt.q, got, tt.limit)
		}
	}
}
