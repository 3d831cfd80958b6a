package cmd

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCrashKill9FileTail has a child `mangrove serve` tail a file that is
// being written and rotated, kills it with SIGKILL at a random moment, goes
// on writing, restarts it on the same data directory and checks that every
// line was processed (each fires the crash-test rule) exactly once: lines
// read again after the crash get the same event IDs, so no alert is
// duplicated.
func TestCrashKill9FileTail(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MANGROVE_CRASH_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (set MANGROVE_CRASH_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	bin := buildBinary(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	os.MkdirAll(logs, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "rules", "crash.yml"), []byte(crashRule), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`collectors:
  - name: tail
    type: file
    paths: [%q]
    tenant: default
    dataset: crashtest
    poll_interval: 20ms
    commit_interval: 50ms
    batch_size: 100
`, filepath.Join(logs, "app.log*"))
	cfgPath := filepath.Join(dir, "mangrove.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MANGROVE_CONFIG", cfgPath)
	addr := freeAddr(t)
	c := startChild(t, bin, dir, addr)

	// The writer appends JSON lines and rotates (rename + create) every
	// 3000 lines, before, during and after the crash.
	app := filepath.Join(logs, "app.log")
	var mu sync.Mutex
	written := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(app, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { f.Close() }()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			for i := range 50 {
				fmt.Fprintf(f, `{"test":{"kind":"crashtest","seq":%d},"message":"file crash test line %d"}`+"\n", n*50+i, n*50+i)
			}
			mu.Lock()
			written = (n + 1) * 50
			mu.Unlock()
			if (n+1)%60 == 0 {
				f.Close()
				os.Rename(app, fmt.Sprintf("%s.%d", app, (n+1)/60))
				if f, err = os.Create(app); err != nil {
					t.Error(err)
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	time.Sleep(time.Duration(800+rng.IntN(2000)) * time.Millisecond)
	c.kill9()
	time.Sleep(300 * time.Millisecond) // lines written while the server is down
	close(stop)
	wg.Wait()
	t.Logf("%d lines written", written)

	c = startChild(t, bin, dir, addr)
	defer c.kill9()
	var seen map[string]int
	deadline := time.Now().Add(120 * time.Second)
	for {
		seen = alertsPerEvent(t, addr, crashRuleID)
		if len(seen) >= written || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if len(seen) != written {
		t.Fatalf("%d distinct events alerted, %d lines written\n%s", len(seen), written, c.log)
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("event %s has %d alerts", id, n)
		}
	}
}
