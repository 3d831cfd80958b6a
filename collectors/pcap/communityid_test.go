package pcap

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

type baselineEntry struct {
	Proto       uint8   `json:"proto"`
	Saddr       string  `json:"saddr"`
	Daddr       string  `json:"daddr"`
	Sport       *uint16 `json:"sport"`
	Dport       *uint16 `json:"dport"`
	CommunityID string  `json:"communityid"`
}

var communityIDVariants = []struct {
	file string
	cid  CommunityID
}{
	{"baseline_deflt.json", CommunityID{}},
	{"baseline_seed1.json", CommunityID{Seed: 1}},
	{"baseline_nob64.json", CommunityID{Hex: true}},
}

func loadBaseline(t *testing.T, dir, file string) []baselineEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "baseline", file))
	if err != nil {
		t.Fatal(err)
	}
	var entries []baselineEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("%s: no entries", file)
	}
	return entries
}

// TestCommunityIDBaseline hashes every tuple of the spec's baseline, for
// the default, seed 1 and no-base64 variants. The baseline lists ICMP
// tuples with the port equivalents already applied, so one-way-ness is
// recomputed from the type.
func TestCommunityIDBaseline(t *testing.T) {
	dir := datasettest.Path(t, "pcap", "community-id")
	for _, v := range communityIDVariants {
		t.Run(v.file, func(t *testing.T) {
			for _, e := range loadBaseline(t, dir, v.file) {
				var sp, dp uint16
				if e.Sport != nil {
					sp, dp = *e.Sport, *e.Dport
				}
				oneWay := false
				if e.Proto == protoICMP || e.Proto == protoICMPv6 {
					_, _, oneWay = icmpPorts(e.Proto, uint8(sp), 0)
				}
				got := v.cid.Hash(netip.MustParseAddr(e.Saddr), netip.MustParseAddr(e.Daddr), e.Proto, sp, dp, oneWay)
				if got != e.CommunityID {
					t.Errorf("%d %s:%d -> %s:%d: got %s, want %s", e.Proto, e.Saddr, sp, e.Daddr, dp, got, e.CommunityID)
				}
			}
		})
	}
}

// TestCommunityIDPcaps decodes the spec's capture and checks that the
// flows' Community IDs are exactly the baseline's set, per variant.
func TestCommunityIDPcaps(t *testing.T) {
	dir := datasettest.Path(t, "pcap", "community-id")
	for _, v := range communityIDVariants {
		t.Run(v.file, func(t *testing.T) {
			var want []string
			for _, e := range loadBaseline(t, dir, v.file) {
				want = append(want, e.CommunityID)
			}
			slices.Sort(want)
			want = slices.Compact(want)
			f, err := os.Open(filepath.Join(dir, "pcaps", "combined.pcap.gz"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var got []string
			st, err := ReadFile(context.Background(), f, Options{CommunityID: v.cid}, func(ev *event.Event) error {
				if ev.Dataset == "flow" {
					got = append(got, ev.GetString("network.community_id"))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("community IDs of flows:\n got %v\nwant %v", got, want)
			}
			if st.Malformed != 0 {
				t.Errorf("malformed packets: %d", st.Malformed)
			}
		})
	}
}
