package local

import (
	"archive/zip"
	"bufio"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/datasettest"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/search/searchtest"
)

// loadOTRF decodes up to max events from the smaller archives of the OTRF
// Security-Datasets (Mordor) Windows logs (zip files of JSON lines as
// Logstash shipped them), renaming a few fields to their ECS names as a
// collector would. It skips the test when the datasets are absent.
func loadOTRF(t testing.TB, max int) []event.Event {
	t.Helper()
	otrfDir := datasettest.Path(t, "logs", "otrf-windows")
	var files []string
	err := filepath.WalkDir(otrfDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".zip" {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	tenants := []string{"acme", "globex"}
	var evs []event.Event
	seen := map[string]struct{}{}
	dec := event.Decoder{}
	for _, f := range files {
		zr, err := zip.OpenReader(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, zf := range zr.File {
			if filepath.Ext(zf.Name) != ".json" || zf.UncompressedSize64 > 6<<20 || len(evs) >= max {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(rc)
			sc.Buffer(nil, 4<<20)
			for sc.Scan() && len(evs) < max {
				line := sc.Bytes()
				tenant := tenants[len(evs)%len(tenants)]
				ev := event.Event{ID: event.NewID(tenant, line), Tenant: tenant, Source: "otrf", Dataset: "windows.eventlog"}
				if err := dec.Decode(line, &ev); err != nil {
					t.Fatalf("%s: %v", zf.Name, err)
				}
				for from, to := range map[string]string{"Message": "message", "EventID": "event.code", "Hostname": "host.name", "Image": "process.executable"} {
					if v, ok := ev.Get(from); ok {
						ev.Delete(from)
						ev.Set(to, v)
					}
				}
				if _, dup := seen[ev.ID]; !dup { // the dataset repeats some lines
					seen[ev.ID] = struct{}{}
					evs = append(evs, ev)
				}
			}
			if err := sc.Err(); err != nil && err != io.EOF {
				t.Fatalf("%s: %v", zf.Name, err)
			}
			rc.Close()
		}
		zr.Close()
	}
	if len(evs) == 0 {
		t.Skipf("no small archives in %s", otrfDir)
	}
	return evs
}

func TestOTRF(t *testing.T) {
	evs := loadOTRF(t, 3000)
	st := open(t, Config{Retention: 100 * 365 * 24 * time.Hour})
	defer st.Close()
	searchtest.Index(t, st, evs, 1000)
	searchtest.Index(t, st, evs[:2000], 1000) // re-sent
	t.Logf("%d events from the OTRF Windows logs", len(evs))
	for _, text := range []string{
		"",
		"event.code:4688",
		`event.code:1 AND process.executable:*\\powershell.exe`,
		`Channel:"Microsoft-Windows-Sysmon/Operational" AND NOT event.code:(1 or 3 or 10)`,
		"TargetObject:*currentversion*",
		"powershell",
		`"process create"`,
		"logon* AND NOT event.code:4624",
		"pow*ll OR cmd",
		"host.name:WORKSTATION5* AND event.code >= 4600 AND event.code < 4700",
		"tags:mordorDataset AND SeverityValue > 2",
	} {
		for _, tenant := range []string{"", "acme"} {
			q := search.Query{Tenant: tenant, Text: text, Limit: 500}
			searchtest.Expect(t, evs, q, searchtest.Search(t, st, q))
		}
	}
}
