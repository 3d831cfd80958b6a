package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// crashRuleID is the id of crashRule.
const crashRuleID = "7d0c3c39-0b43-4d4e-9f0e-3a4cf1f0c0de"

// alertsPerEvent pages through every alert of a rule and counts the alerts
// of each event ID.
func alertsPerEvent(t *testing.T, addr, ruleID string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	cursor := ""
	for {
		resp, err := http.Get(fmt.Sprintf("http://%s/api/v1/alerts?limit=1000&rule_id=%s&cursor=%s", addr, ruleID, url.QueryEscape(cursor)))
		if err != nil {
			t.Fatal(err)
		}
		var alerts []struct {
			EventIDs []string `json:"event_ids"`
		}
		json.NewDecoder(resp.Body).Decode(&alerts)
		resp.Body.Close()
		for _, a := range alerts {
			for _, id := range a.EventIDs {
				seen[id]++
			}
		}
		if cursor = resp.Header.Get("X-Next-Cursor"); cursor == "" {
			return seen
		}
	}
}

// crashRule fires on every crash-test event, so alerts count processed events.
const crashRule = `title: Crash test marker
id: 7d0c3c39-0b43-4d4e-9f0e-3a4cf1f0c0de
status: test
logsource:
  product: mangrove
  service: crashtest
detection:
  selection:
    test.kind: crashtest
  condition: selection
level: low
`

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mangrove")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/mangrove-soc/mangrove/cmd/mangrove").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is a `mangrove serve` process.
type child struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
}

func startChild(t *testing.T, bin, dataDir, addr string) *child {
	t.Helper()
	c := &child{addr: addr, log: &bytes.Buffer{}}
	c.cmd = exec.Command(bin, "serve")
	c.cmd.Env = append(os.Environ(), "MANGROVE_DATA="+dataDir, "MANGROVE_HTTP_ADDR="+addr, "MANGROVE_LOG_FORMAT=json")
	c.cmd.Stderr = c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			c.cmd.Process.Kill()
			c.cmd.Wait()
			t.Fatalf("child did not become ready:\n%s", c.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *child) kill9() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// TestCrashKill9 streams events to a child `mangrove serve`, kills it with
// SIGKILL at a random moment, restarts it on the same data directory and
// checks that every acknowledged event was processed (each one fires the
// crash-test rule once) and that no alert is duplicated.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MANGROVE_CRASH_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (set MANGROVE_CRASH_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	bin := buildBinary(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "rules", "crash.yml"), []byte(crashRule), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	c := startChild(t, bin, dir, addr)

	// The client sends requests of 50 events, one at a time per worker, and
	// records which were acknowledged (202).
	const perReq = 50
	var mu sync.Mutex
	acked := map[string]bool{} // event IDs
	sent := map[string]bool{}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				var body bytes.Buffer
				var ids []string
				for i := range perReq {
					line := fmt.Sprintf(`{"test":{"kind":"crashtest","worker":%d,"seq":%d,"i":%d},"message":"crash test event %d/%d/%d"}`, w, seq, i, w, seq, i)
					body.WriteString(line + "\n")
					ids = append(ids, event.NewID("default", []byte(line)))
				}
				mu.Lock()
				for _, id := range ids {
					sent[id] = true
				}
				mu.Unlock()
				resp, err := http.Post("http://"+addr+"/api/v1/events", "application/x-ndjson", &body)
				if err != nil {
					return // the server is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					for _, id := range ids {
						acked[id] = true
					}
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
	c.kill9()
	cancel()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("nothing was acknowledged before the kill; server log:\n%s", c.log)
	}
	t.Logf("sent %d events, %d acknowledged before SIGKILL", len(sent), len(acked))

	c = startChild(t, bin, dir, addr)
	defer c.kill9()
	type incident struct {
		ID         string `json:"id"`
		RuleID     string `json:"rule_id"`
		AlertCount int    `json:"alert_count"`
	}
	var processed int
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/v1/incidents?limit=1000")
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Items []incident }
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		processed = 0
		for _, inc := range page.Items {
			if inc.RuleID == "7d0c3c39-0b43-4d4e-9f0e-3a4cf1f0c0de" {
				processed += inc.AlertCount
			}
		}
		if processed >= len(acked) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if processed < len(acked) {
		t.Fatalf("only %d events processed after restart, %d were acknowledged\n%s", processed, len(acked), c.log)
	}
	if processed > len(sent) {
		t.Fatalf("%d alerts for %d distinct events sent: duplicates", processed, len(sent))
	}

	// Each acknowledged event has exactly one alert: page through them all,
	// again while some are still being processed.
	var seen map[string]int
	for {
		seen = alertsPerEvent(t, addr, crashRuleID)
		missing := 0
		for id := range acked {
			if seen[id] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("event %s has %d alerts", id, n)
		}
		if !sent[id] {
			t.Errorf("alert for an event never sent: %s", id)
		}
	}
	missing := 0
	for id := range acked {
		if seen[id] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d acknowledged events have no alert after restart", missing)
	}
	if strings.Contains(c.log.String(), `"level":"error"`) {
		t.Logf("server logged errors after restart:\n%s", c.log)
	}
}
