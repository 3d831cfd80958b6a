package esbulk

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
)

// TestPythonClient ships through the official Python Elasticsearch client.
// It needs python3 with the elasticsearch module (Debian:
// python3-elasticsearch); MANGROVE_ES_PYTHON names another interpreter.
func TestPythonClient(t *testing.T) {
	candidates := []string{"python3", "/usr/bin/python3"}
	if env := os.Getenv("MANGROVE_ES_PYTHON"); env != "" {
		candidates = []string{env}
	}
	py := ""
	for _, c := range candidates {
		if _, err := exec.LookPath(c); err == nil && exec.Command(c, "-c", "import elasticsearch").Run() == nil {
			py = c
			break
		}
	}
	if py == "" {
		t.Skipf("none of %v has the elasticsearch module (apt-get install python3-elasticsearch, or set MANGROVE_ES_PYTHON)", candidates)
	}
	c, err := testConfig().Build("es", collectors.Env{Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	col := c.(*Collector)
	bus := &fakeBus{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, bus) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); col.Addr() == "" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	const n = 1000
	cctx, ccancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer ccancel()
	out, err := exec.CommandContext(cctx, py, "testdata/client.py", "http://"+col.Addr(), keyID, keyVal, strconv.Itoa(n)).CombinedOutput()
	if err != nil {
		t.Fatalf("client: %v\n%s", err, out)
	}
	var res struct {
		Version string `json:"version"`
		OK      int    `json:"ok"`
		Errors  []int  `json:"errors"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Version != esVersion || res.OK != n || len(res.Errors) != 1 || res.Errors[0] != 400 {
		t.Errorf("client saw %+v", res)
	}
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if len(bus.events) != n {
		t.Errorf("bus got %d events, want %d", len(bus.events), n)
	}
}
