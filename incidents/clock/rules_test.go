package clock

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestEmbeddedRules checks the built-in rule set and keeps a reviewed
// golden copy of it as the API lists it: a change to rules.yaml shows up
// in the diff of testdata/rules.golden (refresh with -update).
func TestEmbeddedRules(t *testing.T) {
	rs, err := EmbeddedRules()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs.Rules {
		ids = append(ids, r.ID)
		if r.EffectiveFrom.IsZero() || r.Basis == "" || r.Confidence == "" || r.NameVI == "" {
			t.Errorf("%s: incomplete %+v", r.ID, r)
		}
	}
	want := []string{
		"d331-immediate-notice", "d331-serious-initial-24h", "d331-cause-scope-remediation-72h",
		"tt20-notice-5d", "tt20-initial-report-immediate", "tt20-closing-5d",
		"law91-pdp-agency-72h", "d356-pdp-subjects-72h", "d13-pdp-agency-72h",
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	got, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "rules.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantJSON, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("rules differ from %s (run with -update and review the diff):\n%s", golden, got)
	}
}

func TestRuleDurations(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		imm     bool
		wantErr bool
	}{
		{in: "24h", want: "24h0m0s"},
		{in: "90m", want: "1h30m0s"},
		{in: "5d", want: "120h0m0s"},
		{in: "366d", want: "8784h0m0s"},
		{in: "immediately", want: "0s", imm: true},
		{in: "367d", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "-1h", wantErr: true},
		{in: "d", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "now", wantErr: true},
		{in: "", wantErr: true},
		{in: "99999999999999999999d", wantErr: true},
	}
	for _, tt := range tests {
		d, imm, err := parseRuleDuration(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && (d.String() != tt.want || imm != tt.imm)) {
			t.Errorf("parseRuleDuration(%q) = %s, %v, %v; want %s, %v, error %v", tt.in, d, imm, err, tt.want, tt.imm, tt.wantErr)
		}
	}
}

// FuzzParseRules: any input is refused with an error or yields rules that
// hold the parser's invariants; nothing panics.
func FuzzParseRules(f *testing.F) {
	f.Add(embeddedRules)
	f.Add([]byte("version: x\nrules:\n  - id: a\n    when: [serious, personal_data:location]\n    duration: 5d\n"))
	f.Add([]byte("version: x\nrules: [{id: a, met_by: [a]}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxRulesBytes+1 {
			return
		}
		rs, err := ParseRules(data)
		if err != nil {
			if rs != nil {
				t.Fatal("rules and an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range rs.Rules {
			if !validID(r.ID) || seen[r.ID] {
				t.Fatalf("bad or duplicate id %q", r.ID)
			}
			seen[r.ID] = true
			if r.Immediate == (r.Duration > 0) || r.Duration > maxRuleDuration || r.mask == 0 {
				t.Fatalf("%s: duration %s immediate %v mask %b", r.ID, r.Duration, r.Immediate, r.mask)
			}
			if r.EffectiveTo != nil && !r.EffectiveTo.After(r.EffectiveFrom) {
				t.Fatalf("%s: empty effective window", r.ID)
			}
		}
	})
}
