package lab

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/ioc"
	"github.com/mangrove-soc/mangrove/detections/netrules"
	"github.com/mangrove-soc/mangrove/detections/rulepack"
	"github.com/mangrove-soc/mangrove/detections/sigma"
)

// Rule IDs of the built-in network detections.
const (
	horizontalScan = "9a3f5e21-7c4d-4e8b-8f02-1b6d3c9e0a04"
	verticalScan   = "9a3f5e21-7c4d-4e8b-8f02-1b6d3c9e0a05"
	bruteForce     = "4e2d8b17-5a6c-4f3e-b1d0-7c9a2e5f1b07"
	cleartext      = "6b1c2f0e-3f5a-4d8e-9a61-2c7e0b5d9a01"
	longLabel      = "0d6e7c44-8a2b-4b4e-9a3c-5f1d2e6b7c02"
	dnsTunnel      = "7f4b2a90-1c3d-4e5f-8a6b-9c0d1e2f3a08"
	beaconing      = "7f4b2a90-1c3d-4e5f-8a6b-9c0d1e2f3a09"
	// labIOC is the rule of lab/ioc-network/lab-indicators.csv, which the
	// lab adds to the built-in pack (the pack ships no indicators).
	labIOC = "ioc:lab-indicators:high"
)

// scenarios maps each lab directory to the rules its attack.pcap fires
// (exactly); its benign.pcap fires none.
var scenarios = map[string][]string{
	"portscan-horizontal":   {horizontalScan},
	"portscan-vertical":     {verticalScan},
	"bruteforce-ssh":        {bruteForce},
	"bruteforce-rdp":        {bruteForce},
	"dns-tunnel":            {dnsTunnel},
	"dns-long-label":        {longLabel},
	"beaconing":             {beaconing},
	"cleartext-credentials": {cleartext},
	"ioc-network":           {labIOC},
}

// labIndicators is the indicator set every scenario runs with.
var labIndicators = filepath.Join("ioc-network", "lab-indicators.csv")

// labIOCRules loads the lab's indicator set as the ioc rule kind does.
func labIOCRules(t *testing.T) []detections.Rule {
	t.Helper()
	data, err := os.ReadFile(labIndicators)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ioc.Load(labIndicators, data)
	if err != nil {
		t.Fatalf("%s: %v", labIndicators, err)
	}
	if len(rules) != 1 || rules[0].Meta().ID != labIOC {
		t.Fatalf("%s: rules %v, want one %s", labIndicators, rules, labIOC)
	}
	return rules
}

// builtinRules loads the built-in pack with the rule kinds of the binary
// that concern network events.
func builtinRules(t *testing.T) []detections.Rule {
	t.Helper()
	var reg detections.Registry
	reg.Register(sigma.Kind)
	reg.Register(netrules.Kind)
	rules, rep := rulepack.Load(&reg, rulepack.Config{})
	if err := rep.Err(); err != nil {
		t.Fatalf("built-in pack: %v", err)
	}
	for _, id := range []string{horizontalScan, verticalScan, bruteForce, cleartext, longLabel, dnsTunnel, beaconing} {
		if !slices.ContainsFunc(rules, func(r detections.Rule) bool { return r.Meta().ID == id }) {
			t.Fatalf("rule %s not in the built-in pack", id)
		}
	}
	return rules
}

// fired decodes a capture and runs every rule over its events in event
// time order, returning the IDs of the rules that emitted, sorted.
func fired(t *testing.T, rules []detections.Rule, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*event.Event
	if _, err := pcap.ReadFile(t.Context(), f, pcap.Options{Source: "lab"}, func(ev *event.Event) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatalf("%s: no events", file)
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	ids := map[string]bool{}
	ctx := context.Background()
	for _, ev := range evs {
		for _, r := range rules {
			if m, ok := r.(detections.MultiRule); ok {
				err = m.EvalAll(ctx, ev, func(i int, _ detections.Finding) { ids[m.Metas()[i].ID] = true })
			} else {
				err = r.Eval(ctx, ev, func(detections.Finding) { ids[r.Meta().ID] = true })
			}
			if err != nil {
				t.Fatalf("rule %s: %v", r.Meta().ID, err)
			}
		}
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func TestScenarios(t *testing.T) {
	dirs, err := filepath.Glob("*/attack.pcap")
	if err != nil || len(dirs) != len(scenarios) {
		t.Fatalf("scenario captures %v (%v), want %d: run go run ./lab/gen", dirs, err, len(scenarios))
	}
	for name, want := range scenarios {
		t.Run(name, func(t *testing.T) {
			// Each capture gets fresh rule state.
			if got := fired(t, append(builtinRules(t), labIOCRules(t)...), filepath.Join(name, "attack.pcap")); !slices.Equal(got, want) {
				t.Errorf("attack fired %v, want %v", got, want)
			}
			if got := fired(t, append(builtinRules(t), labIOCRules(t)...), filepath.Join(name, "benign.pcap")); len(got) != 0 {
				t.Errorf("benign fired %v", got)
			}
		})
	}
}

// TestIOCNetworkFields checks which network event fields the indicators of
// the ioc-network scenario match: addresses, a DNS name by its parent
// domain, the TLS server name, and an HTTP request's URL rebuilt from its
// host and origin-form target.
func TestIOCNetworkFields(t *testing.T) {
	want := []string{
		"dns dns.question.name domain evil-c2.example",
		"flow destination.ip ip 198.51.100.23",
		"network.http url.original url files.http-bad.example/payload/stage2.bin",
		"network.tls tls.client.server_name domain tls-bad.example",
	}
	rule := labIOCRules(t)[0]
	f, err := os.Open(filepath.Join("ioc-network", "attack.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	if _, err := pcap.ReadFile(t.Context(), f, pcap.Options{Source: "lab"}, func(ev *event.Event) error {
		return rule.Eval(t.Context(), ev, func(fd detections.Finding) {
			for i := 0; i+4 < len(fd.GroupBy); i += 5 {
				g := fd.GroupBy[i : i+5]
				got = append(got, ev.Dataset+" "+g[2].Value+" "+g[0].Value+" "+g[1].Value)
			}
		})
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("matches\n%q\nwant\n%q", got, want)
	}
}
