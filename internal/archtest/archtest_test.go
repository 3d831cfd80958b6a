package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Name       string
	Doc        string
	Imports    []string
	Standard   bool
	Dir        string
}

const module = "github.com/mangrove-soc/mangrove"

func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// homes maps an import path prefix to the only packages (prefixes within the
// module) that may import it.
var homes = map[string][]string{
	"github.com/nats-io/":                  {"internal/bus"},
	"modernc.org/sqlite":                   {"internal/store/sqlite", "internal/search/local"},
	"github.com/jackc/pgx":                 {"internal/store/postgres"},
	"github.com/google/gopacket":           {"collectors/pcap"},
	"github.com/gopacket/gopacket":         {"collectors/pcap"},
	"github.com/elastic/go-elasticsearch":  {"internal/search/elastic"},
	"github.com/hashicorp/go-plugin":       {"plugins/"},
	"github.com/sigstore/":                 {"plugins/", "internal/audit/auditkey"},
	"github.com/spf13/cobra":               {"cmd"},
	"github.com/rs/zerolog/log":            {}, // never: loggers are injected
	"github.com/schollz/progressbar":       {"cmd"},
	"github.com/leodido/go-syslog":         {"collectors/syslog"},
	"github.com/go-pdf/fpdf":               {"incidents/report"},
	"github.com/coreos/go-oidc":            {"internal/auth"},
	"github.com/wneessen/go-mail":          {"incidents/notify"},
	"github.com/prometheus/client_golang/": {"cmd", "internal/api", "internal/bus", "collectors/", "detections/engine"},
}

func TestDependencyHomes(t *testing.T) {
	for _, p := range list(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			for dep, allowed := range homes {
				if !strings.HasPrefix(imp, dep) {
					continue
				}
				ok := false
				for _, a := range allowed {
					if rel == strings.TrimSuffix(a, "/") || strings.HasPrefix(rel, a) || strings.HasPrefix(rel, a+"/") {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s; only %v may", rel, imp, allowed)
				}
			}
		}
	}
}

// leaves may import only the standard library (and, for the named ones, the
// listed module packages).
var leaves = map[string][]string{
	"collectors/event":   nil,
	"detections/alert":   nil,
	"incidents/incident": {"detections/alert"},
	"internal/audit":     nil,
}

func TestLeafPackages(t *testing.T) {
	std := map[string]bool{}
	for _, p := range list(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		allowed, isLeaf := leaves[rel]
		if !isLeaf {
			continue
		}
		for _, imp := range p.Imports {
			if r, ok := strings.CutPrefix(imp, module+"/"); ok {
				found := false
				for _, a := range allowed {
					found = found || a == r
				}
				if !found {
					t.Errorf("leaf %s imports %s", rel, imp)
				}
				continue
			}
			if strings.Contains(strings.Split(imp, "/")[0], ".") && !std[imp] {
				t.Errorf("leaf %s imports non-standard %s", rel, imp)
			}
		}
	}
}

func TestPackageNamesAndDocs(t *testing.T) {
	banned := map[string]bool{"util": true, "utils": true, "common": true, "helpers": true, "misc": true, "shared": true}
	for _, p := range list(t) {
		if banned[p.Name] || banned[path.Base(p.ImportPath)] {
			t.Errorf("%s: package name %q says nothing about what it provides", p.ImportPath, p.Name)
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s: no package doc comment", p.ImportPath)
		}
	}
}
