package cmd

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestIncidentsWorkflow runs what an operator does with a live server: an
// agency reports an incident by hand, the center lists, assigns and moves it
// through the CLI, writes the Vietnamese report as PDF, then users and
// tokens close the anonymous loopback mode; finally `mangrove audit verify`
// proves the log, and catches a deleted tail.
func TestIncidentsWorkflow(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MANGROVE_CONFIG", "")
	t.Setenv("MANGROVE_DATA", dir)
	t.Setenv("MANGROVE_TOKEN", "")
	t.Setenv("MANGROVE_TOKEN_FILE", "")
	assets := filepath.Join(dir, "assets.yaml")
	if err := os.WriteFile(assets, []byte("systems:\n  - {id: portal, tenant: so-a, name: Cổng thông tin điện tử, level: 4, cidrs: [10.20.0.0/16]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, func(c *Config) { c.Incidents.Assets = assets; c.Incidents.CheckpointInterval = time.Second })
	base := "http://" + s.addr
	body := `{"tenant":"so-a","title":"Cổng thông tin bị thay đổi giao diện","category":"web_defacement","severity":"high","systems":["portal"],"serious":true}`
	resp, err := http.Post(base+"/api/v1/incidents", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var inc struct {
		ID       string `json:"id"`
		Priority int    `json:"priority"`
		Version  int    `json:"version"`
	}
	json.NewDecoder(resp.Body).Decode(&inc)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || inc.Priority != 16 {
		t.Fatalf("create: %d %+v", resp.StatusCode, inc)
	}

	srv := []string{"--server", base}
	out, _ := mustRun(t, append([]string{"incidents", "list", "--format", "json"}, srv...)...)
	if !strings.Contains(out, inc.ID) {
		t.Fatalf("list: %s", out)
	}
	mustRun(t, append([]string{"incidents", "assign", inc.ID, "lan", "--team", "ucsc"}, srv...)...)
	for _, st := range []string{"triaged", "investigating", "contained"} {
		mustRun(t, append([]string{"incidents", "transition", inc.ID, st, "--reason", "step " + st}, srv...)...)
	}
	if code, _, errs := runMain(t, append([]string{"incidents", "transition", inc.ID, "new"}, srv...)...); code == 0 || !strings.Contains(errs, "cannot move") {
		t.Fatalf("impossible move: %d %s", code, errs)
	}
	out, _ = mustRun(t, append([]string{"incidents", "show", inc.ID}, srv...)...)
	for _, want := range []string{"state contained", "assignee lan", "system portal", "d331-serious-initial-24h", "Nghị định 331"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	pdf := filepath.Join(dir, "bao-cao.pdf")
	mustRun(t, append([]string{"incidents", "report", inc.ID, "--kind", "initial", "--format", "pdf", "-o", pdf}, srv...)...)
	if b, err := os.ReadFile(pdf); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("report: %v %.20q", err, b)
	}
	out, _ = mustRun(t, append([]string{"incidents", "report", inc.ID, "--kind", "notice"}, srv...)...)
	if !strings.Contains(out, "THÔNG BÁO SỰ CỐ") && !strings.Contains(out, "Thông báo sự cố") {
		t.Errorf("notice HTML lacks its title: %.400s", out)
	}

	// Once a token exists, anonymous loopback access ends (within the
	// authenticator's cache time) and the token works.
	mustRun(t, "users", "create", "--name", "lan", "--role", "analyst")
	token, _ := mustRun(t, "tokens", "create", "--user", "lan")
	token = strings.TrimSpace(token)
	waitFor(t, "anonymous access to end", 10*time.Second, func() bool {
		r, err := http.Get(base + "/api/v1/incidents")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode == http.StatusUnauthorized
	})
	t.Setenv("MANGROVE_TOKEN", token)
	out, _ = mustRun(t, append([]string{"incidents", "list"}, srv...)...)
	if !strings.Contains(out, inc.ID) {
		t.Fatalf("list with a token: %s", out)
	}
	s.stop() // writes a last checkpoint

	out, _ = mustRun(t, "audit", "verify")
	if !strings.Contains(out, "audit log intact") || strings.Contains(out, " 0 signed checkpoints") {
		t.Fatalf("verify: %s", out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "mangrove.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errs := runMain(t, "audit", "verify")
	if code != 1 || !strings.Contains(errs, "missing") {
		t.Fatalf("verify after deleting the tail: exit %d: %s", code, errs)
	}
}
