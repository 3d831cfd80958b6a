package sigma

import "testing"

func TestTimeModifiers(t *testing.T) {
	cases := []struct {
		item string
		ev   string
		want bool
	}{
		{"T|minute: 4", `{"T":"2026-01-02T03:04:05Z"}`, true},
		{"T|minute: 5", `{"T":"2026-01-02T03:04:05Z"}`, false},
		{"T|hour: 3", `{"T":"2026-01-02T03:04:05.123+07:00"}`, true}, // as written, no zone conversion
		{"T|hour: 20", `{"T":"2026-01-02T03:04:05.123+07:00"}`, false},
		{"T|hour: 23", `{"T":"2026-01-02 23:59:59.999"}`, true},
		{"T|day: 2", `{"T":"2026-01-02"}`, true},
		{"T|week: 53", `{"T":"2026-12-31T00:00:00Z"}`, true}, // ISO week 53 of 2026
		{"T|week: 1", `{"T":"2026-01-01T00:00:00Z"}`, true},
		{"T|month: 12", `{"T":"2026-12-31T00:00:00Z"}`, true},
		{"T|year: 2026", `{"T":"2026-12-31T23:59:59Z"}`, true},
		{"T|year: 2026", `{"T":1767225600}`, true}, // Unix seconds: 2026-01-01T00:00:00Z
		{"T|year: 2025", `{"T":1767225599}`, true},
		{"T|year: 2026", `{"T":"not a time at all"}`, false},
		{"T|year: 2026", `{}`, false},
		{"T|hour|neq: 3", `{"T":"2026-01-02T04:00:00Z"}`, true},
		{"T|hour: [1, 2, 3]", `{"T":"2026-01-02T03:00:00Z"}`, true},
	}
	for _, c := range cases {
		r, err := compileRule(t, detectionRule("s: {"+c.item+"}\ncondition: s"))
		if err != nil {
			t.Fatalf("%s: %v", c.item, err)
		}
		if got := r.Match(jsonEvent(t, c.ev)); got != c.want {
			t.Errorf("%s on %s: %v, want %v", c.item, c.ev, got, c.want)
		}
	}
}
