package cmd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

func TestPcapDecode(t *testing.T) {
	file := datasettest.Path(t, "pcap", "community-id", "pcaps", "combined.pcap.gz")
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"pcap", "decode", file, "--format", "ndjson", "--community-id-seed", "1", "--stats"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var dec event.Decoder
	flows, dns := 0, 0
	sawSeed1 := false
	for line := range strings.Lines(out.String()) {
		var ev event.Event
		if err := dec.Decode([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		switch ev.Dataset {
		case "flow":
			flows++
		case "dns":
			dns++
		default:
			t.Errorf("dataset %q", ev.Dataset)
		}
		// The first hash of the spec's seed-1 baseline.
		if ev.GetString("network.community_id") == "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" {
			sawSeed1 = true
		}
	}
	if flows != 14 || dns != 2 || !sawSeed1 {
		t.Errorf("flows %d, dns %d, seed-1 id seen %v", flows, dns, sawSeed1)
	}
	if !strings.Contains(errb.String(), `"packets":68`) {
		t.Errorf("stats: %s", errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := Main(context.Background(), []string{"pcap", "decode", file, "--format", "csv"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "unknown --format") {
		t.Errorf("bad format: exit %d, %s", code, errb.String())
	}
	if code := Main(context.Background(), []string{"pcap", "decode", file + ".missing"}, &out, &errb); code == 0 {
		t.Error("missing file: exit 0")
	}
}
