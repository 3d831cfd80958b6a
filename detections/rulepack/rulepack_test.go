package rulepack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

// lineRule is a fake kind: each line "id tag" of a .rule file is a rule.
type lineRule struct{ meta detections.Meta }

func (r lineRule) Meta() detections.Meta                                              { return r.meta }
func (r lineRule) Eval(context.Context, *event.Event, func(detections.Finding)) error { return nil }

func fakeRegistry() *detections.Registry {
	var reg detections.Registry
	reg.Register(detections.Kind{Name: "line", Exts: []string{".rule"}, Load: func(p string, data []byte) ([]detections.Rule, error) {
		var out []detections.Rule
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if l == "broken" {
				return out, errors.New(p + ": broken line")
			}
			if l == "correlation" {
				return out, fmt.Errorf("%s: correlation: %w", p, errors.ErrUnsupported)
			}
			f := strings.Fields(l)
			out = append(out, lineRule{detections.Meta{ID: f[0], Tags: f[1:], Path: p}})
		}
		return out, nil
	}})
	return &reg
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.rule", "r1 attack.t1110\nr2")
	write("sub/b.rule", "r3\nr2")     // r2 duplicate
	write("sub/c.rule", "broken")     // load error
	write("notes.txt", "ignored")     // no kind
	write(".hidden.rule", "r9")       // hidden
	write("off/d.rule", "r4\nr5")     // disabled by path
	write("corr.rule", "correlation") // recognized, not run
	no := false
	rules, rep := Load(fakeRegistry(), Config{Builtin: &no, Dirs: []string{dir, filepath.Join(dir, "missing")},
		Disabled: []string{"tag:attack.t1110", dir + "/off/*", "r3"}})
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.Meta().ID)
	}
	if strings.Join(ids, ",") != "r2" {
		t.Fatalf("rules = %v", ids)
	}
	if rep.Unsupported != 1 || rep.Files != 5 || rep.Disabled != 4 || len(rep.Errors) != 2 || !strings.Contains(rep.Err().Error(), "c.rule: broken line") {
		t.Fatalf("report = %+v (%v)", rep, rep.Err())
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Dirs: []string{""}, Disabled: []string{"[x"}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "dirs[0]") || !strings.Contains(err.Error(), "disabled[0]") {
		t.Fatalf("err = %v", err)
	}
}
