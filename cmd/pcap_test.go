package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/api"
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

func TestPcapImport(t *testing.T) {
	file := datasettest.Path(t, "pcap", "community-id", "pcaps", "combined.pcap.gz")
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/events" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "bad request "+r.URL.Path, http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		n := 0
		mu.Lock()
		for line := range strings.Lines(string(b)) {
			got = append(got, line)
			n++
		}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(api.IngestResult{Accepted: n})
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main(t.Context(), []string{"pcap", "import", file, "--server", srv.URL, "--token-file", tok, "--chunk", "5", "-q"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	if len(got) != 16 || !strings.Contains(out.String(), "imported 16 events (68 packets, 14 flows)") {
		t.Errorf("%d events sent; output %q", len(got), out.String())
	}
	var dec event.Decoder
	for _, line := range got {
		var ev event.Event
		if err := dec.Decode([]byte(line), &ev); err != nil || ev.GetString("network.community_id") == "" {
			t.Errorf("line %q: %v", line, err)
		}
	}

	// A file that is no capture: the command fails, saying so.
	bad := filepath.Join(t.TempDir(), "bad.pcap")
	if err := os.WriteFile(bad, []byte("not a capture at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := Main(t.Context(), []string{"pcap", "import", bad, "--server", srv.URL, "--token-file", tok, "-q"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "decoding") {
		t.Errorf("bad capture: exit %d, %s", code, errb.String())
	}

	// A server that refuses: the command fails.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	out.Reset()
	if code := Main(t.Context(), []string{"pcap", "import", file, "--server", srv.URL, "-q"}, &out, &errb); code == 0 {
		t.Error("refused upload: exit 0")
	}
}
