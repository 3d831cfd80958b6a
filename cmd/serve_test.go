package cmd

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/internal/api"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
)

// server is an in-process `mangrove serve` on a random port.
type server struct {
	addr string
	stop func()
}

func startServer(t *testing.T, dataDir string, mutate func(*Config)) *server {
	t.Helper()
	getenv := func(k string) string {
		switch k {
		case "MANGROVE_DATA":
			return dataDir
		case "MANGROVE_HTTP_ADDR":
			return "127.0.0.1:0"
		}
		return ""
	}
	cfg, err := loadConfig("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, zerolog.Nop(), func(a string) { addrc <- a }) }()
	select {
	case a := <-addrc:
		s := &server{addr: a}
		var stopped bool
		s.stop = func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
		t.Cleanup(s.stop)
		return s
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	return nil
}

func (s *server) get(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode
}

// otrfLines returns the NDJSON lines of one OTRF archive.
func otrfLines(t *testing.T, elem ...string) []byte {
	t.Helper()
	p := datasettest.Path(t, append([]string{"logs", "otrf-windows"}, elem...)...)
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out bytes.Buffer
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&out, rc)
		rc.Close()
	}
	return out.Bytes()
}

type incidentView struct {
	ID         string `json:"id"`
	RuleID     string `json:"rule_id"`
	State      string `json:"state"`
	AlertCount int    `json:"alert_count"`
	Severity   string `json:"severity"`
	Tenant     string `json:"tenant"`
}

// incidents lists the first page of incidents.
func (s *server) incidents(t *testing.T) []incidentView {
	t.Helper()
	var page struct {
		Items []incidentView `json:"items"`
	}
	s.get(t, "/api/v1/incidents", &page)
	return page.Items
}

// waitFor polls until cond holds.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const encodedPowerShellRule = "45b99e31-f9cf-4243-83d8-b4ec223ee547"

// TestEndToEnd runs the README's quick tour in-process: real Windows events
// from an Empire VBS launcher run go in over HTTP, the built-in rule for
// encoded PowerShell fires, the incident is read back, the events are
// searchable, and a restart keeps it all; sending the same file again
// duplicates nothing.
func TestEndToEnd(t *testing.T) {
	lines := otrfLines(t, "execution", "host", "empire_launcher_vbs.zip")
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	cl, _ := newClient("http://"+s.addr, "")
	res, err := cl.ingest(t.Context(), bytes.NewReader(lines), "windows", 500, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted < 2000 || res.Rejected != 0 {
		t.Fatalf("ingest: %+v", res)
	}

	var incs []incidentView
	waitFor(t, "the encoded PowerShell incident", 60*time.Second, func() bool {
		incs = s.incidents(t)
		for _, inc := range incs {
			if inc.RuleID == encodedPowerShellRule {
				return true
			}
		}
		return false
	})
	var inc incidentView
	for _, i := range incs {
		if i.RuleID == encodedPowerShellRule {
			inc = i
		}
	}
	var detail struct {
		incidentView
		Alerts []struct {
			ID         string          `json:"id"`
			Techniques []string        `json:"techniques"`
			Event      json.RawMessage `json:"event"`
			EventIDs   []string        `json:"event_ids"`
		} `json:"alerts"`
	}
	if code := s.get(t, "/api/v1/incidents/"+inc.ID, &detail); code != 200 {
		t.Fatalf("GET incident: %d", code)
	}
	if detail.Tenant != "default" || detail.Severity != "high" || len(detail.Alerts) == 0 || detail.AlertCount != len(detail.Alerts) {
		t.Fatalf("incident detail: %+v", detail)
	}
	a := detail.Alerts[0]
	if !strings.Contains(strings.Join(a.Techniques, ","), "T1059.001") || !strings.Contains(strings.ToLower(string(a.Event)), "powershell.exe") {
		t.Fatalf("alert: %+v", a)
	}
	if code := s.get(t, "/api/v1/incidents/INC-doesnotexist", nil); code != 404 {
		t.Fatalf("missing incident: %d", code)
	}

	// Every event reaches the event store and is searchable.
	var sr struct {
		Total  int               `json:"total"`
		Events []json.RawMessage `json:"events"`
	}
	waitFor(t, "events in the event store", 60*time.Second, func() bool {
		s.get(t, "/api/v1/events/search?limit=1", &sr)
		return sr.Total == res.Accepted
	})
	q := url.QueryEscape(`EventID:1 AND Image:*powershell.exe`)
	s.get(t, "/api/v1/events/search?limit=5&q="+q, &sr)
	if sr.Total == 0 || len(sr.Events) == 0 {
		t.Fatalf("search found nothing: %+v", sr)
	}

	var alertsBefore []json.RawMessage
	s.get(t, "/api/v1/alerts?limit=1000", &alertsBefore)
	s.stop()

	// Restart on the same data directory: everything is still there, and the
	// same events sent again create nothing new.
	s = startServer(t, dir, nil)
	incsAfter := s.incidents(t)
	if len(incsAfter) != len(incs) {
		t.Fatalf("incidents after restart: %d, before %d", len(incsAfter), len(incs))
	}
	cl, _ = newClient("http://"+s.addr, "")
	if _, err := cl.ingest(t.Context(), bytes.NewReader(lines), "windows", 1000, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the re-sent events to be processed", 60*time.Second, func() bool {
		var m string
		resp, err := http.Get("http://" + s.addr + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m = string(b)
		return strings.Contains(m, fmt.Sprintf("mangrove_engine_events_total %d", res.Accepted)) &&
			strings.Contains(m, `mangrove_bus_lag{consumer="detect"} 0`) && strings.Contains(m, `mangrove_bus_lag{consumer="store"} 0`)
	})
	var alertsAfter []json.RawMessage
	s.get(t, "/api/v1/alerts?limit=1000", &alertsAfter)
	if len(alertsAfter) != len(alertsBefore) {
		t.Fatalf("alerts after re-sending: %d, before %d", len(alertsAfter), len(alertsBefore))
	}
	s.get(t, "/api/v1/events/search?limit=1", &sr)
	if sr.Total != res.Accepted {
		t.Fatalf("events after re-sending: %d, want %d", sr.Total, res.Accepted)
	}
}

func TestIngestResultLineNumbers(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *Config) { c.Bus.Type = "memory" })
	cl, _ := newClient("http://"+s.addr, "")
	body := "{\"a\":1}\n{bad\n{\"a\":2}\n{\"a\":3}\n[1]\n"
	res, err := cl.ingest(t.Context(), strings.NewReader(body), "", 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.LineError{{Line: 2}, {Line: 5}}
	if res.Accepted != 3 || len(res.Errors) != 2 || res.Errors[0].Line != want[0].Line || res.Errors[1].Line != want[1].Line {
		t.Fatalf("result: %+v", res)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, fmt.Sprintf("c%d.yaml", time.Now().UnixNano()))
		if err := writeFile(p, s); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	cfg, err := loadConfig("", env(map[string]string{"MANGROVE_DATA": "/srv/m", "MANGROVE_HTTP_ADDR": "127.0.0.1:9999"}))
	if err != nil || cfg.DataDir != "/srv/m" || cfg.HTTP.Addr != "127.0.0.1:9999" || cfg.Detections.Rules.Dirs[0] != "/srv/m/rules" {
		t.Fatalf("env overrides: %+v %v", cfg, err)
	}
	_, err = loadConfig(write("http:\n  adr: x\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "field adr not found") {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = loadConfig(write("collectors:\n  - {type: nope}\n  - {type: syslog, listen: tcp://127.0.0.1:5514, tenant: a, bogus: 1}\n  - {type: syslog, listen: ftp://x}\n"), env(nil))
	for _, want := range []string{"collectors[0].type: \"nope\" is not one of", "collectors[1]:", "field bogus not found", "collectors[2]."} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("collector validation lacks %q: %v", want, err)
		}
	}
	_, err = loadConfig(write("log:\n  level: loud\nbus:\n  type: kafka\n  workers: 0\nevents:\n  retention: 1m\n"+
		"incidents:\n  grouping: {keys: [colour]}\n  clock: {incident_regime: bogus}\n  notify: {webhooks: [{url: 'ftp://x'}]}\n"), env(nil))
	for _, want := range []string{"log.level", "bus.type", "bus.workers", "events.retention", "incidents.grouping.keys[0]", "incidents.clock.", "incidents.notify."} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation lacks %q: %v", want, err)
		}
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// TestExceptionsAndReload: an exception suppresses one host's alerts and not
// another's; a rule dropped into the rules directory is live after a reload.
func TestExceptionsAndReload(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, func(c *Config) { c.Bus.Type = "memory" })
	post := func(path, body string) (int, string) {
		resp, err := http.Post("http://"+s.addr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const sshRule = "0cc44873-502d-4434-8c20-b50a2bea8ee1"
	code, body := post("/api/v1/exceptions", `{"rule_id":"`+sshRule+`","match":{"host.name":["bastion-1"]},"owner":"lan","reason":"red team exercise","ttl":"2h"}`)
	if code != 201 {
		t.Fatalf("create exception: %d %s", code, body)
	}
	code, body = post("/api/v1/events", `{"host":{"name":"bastion-1"},"process":{"name":"sshd"},"message":"Failed password for root from 10.0.0.9 port 2222 ssh2"}
{"host":{"name":"web-2"},"process":{"name":"sshd"},"message":"Failed password for root from 10.0.0.9 port 2223 ssh2"}
`)
	if code != 202 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	var alerts []struct {
		GroupBy []struct{ Value string } `json:"group_by"`
	}
	waitFor(t, "the web-2 alert", 30*time.Second, func() bool {
		s.get(t, "/api/v1/alerts?rule_id="+sshRule, &alerts)
		return len(alerts) > 0
	})
	time.Sleep(300 * time.Millisecond)
	s.get(t, "/api/v1/alerts?rule_id="+sshRule, &alerts)
	if len(alerts) != 1 || alerts[0].GroupBy[0].Value != "web-2" {
		t.Fatalf("alerts = %+v, want only web-2's", alerts)
	}

	var rules []struct{ ID string }
	s.get(t, "/api/v1/rules", &rules)
	before := len(rules)
	if err := writeFile(filepath.Join(dir, "rules", "crash.yml"), crashRule); err != nil {
		t.Fatal(err)
	}
	if code, body := post("/api/v1/rules/reload", ""); code != 200 || !strings.Contains(body, fmt.Sprintf(`"rules": %d`, before+1)) {
		t.Fatalf("reload: %d %s", code, body)
	}
	s.get(t, "/api/v1/rules", &rules)
	if len(rules) != before+1 {
		t.Fatalf("rules after reload: %d, want %d", len(rules), before+1)
	}
}

// bruteForceRules: an SSH failure rule and a correlation over it.
const bruteForceRules = `title: SSH failure (base)
id: 3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
name: ssh_failure_base
status: test
logsource: {product: linux, service: sshd}
detection:
  keywords: ['Failed password for']
  condition: keywords
level: low
---
title: SSH brute force from one source
id: 4a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
status: test
correlation:
  type: event_count
  rules: [ssh_failure_base]
  group-by: [source.ip]
  timespan: 1h
  condition: {gte: 3}
level: high
`

// TestCorrelationSurvivesRestart: two failures before a restart and one
// after make the three that fire the correlation.
func TestCorrelationSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, "rules", "brute.yml"), bruteForceRules); err != nil {
		t.Fatal(err)
	}
	send := func(s *server, n int) {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `{"@timestamp":"2026-11-25T10:00:%02dZ","host":{"name":"srv-1"},"process":{"name":"sshd"},"source":{"ip":"203.0.113.7"},"message":"Failed password for root from 203.0.113.7 port %d ssh2"}`+"\n", n*10+i, 40000+n*10+i)
		}
		resp, err := http.Post("http://"+s.addr+"/api/v1/events", "application/x-ndjson", strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	const corrID = "4a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	var alerts []json.RawMessage
	s := startServer(t, dir, nil)
	send(s, 2)
	waitFor(t, "the two events to be detected", 30*time.Second, func() bool {
		var m string
		resp, err := http.Get("http://" + s.addr + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m = string(b)
		return strings.Contains(m, "mangrove_engine_events_total 2") && strings.Contains(m, `mangrove_bus_lag{consumer="detect"} 0`)
	})
	s.get(t, "/api/v1/alerts?rule_id="+corrID, &alerts)
	if len(alerts) != 0 {
		t.Fatalf("correlation fired after 2 events: %d", len(alerts))
	}
	s.stop()
	s = startServer(t, dir, nil)
	send(s, 1)
	waitFor(t, "the correlation alert after the restart", 30*time.Second, func() bool {
		s.get(t, "/api/v1/alerts?rule_id="+corrID, &alerts)
		return len(alerts) == 1
	})
}
