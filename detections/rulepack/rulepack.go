// Package rulepack loads rule packs: the built-in pack shipped inside the
// binary and directory trees of rule files, read by the rule kinds of a
// detections.Registry. A broken file does not stop the others from loading;
// every problem is reported with its path.
package rulepack

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

//go:embed builtin
var builtin embed.FS

// Builtin returns the built-in rule pack.
func Builtin() fs.FS {
	sub, err := fs.Sub(builtin, "builtin")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// MaxRuleFileBytes bounds one rule file.
const MaxRuleFileBytes = 1 << 20

// MaxKindFileBytes raises MaxRuleFileBytes for the kinds, by name, whose
// files are data rather than logic: an indicator set ("ioc") of a million
// entries is tens of megabytes. Set it at start-up only.
var MaxKindFileBytes = map[string]int64{"ioc": 512 << 20}

// maxFileBytes is the size limit for one file of kind.
func maxFileBytes(kind detections.Kind) int64 {
	if n, ok := MaxKindFileBytes[kind.Name]; ok {
		return n
	}
	return MaxRuleFileBytes
}

// Config selects the packs to load.
type Config struct {
	// Builtin loads the pack shipped in the binary; default true.
	Builtin *bool `yaml:"builtin"`
	// Dirs are directory trees of rule files, or single rule files. A
	// missing directory is not an error (it is reported as empty) so that a
	// default like data/rules works on a fresh machine.
	Dirs []string `yaml:"dirs"`
	// Disabled lists rule IDs, file paths (as "<pack>/<path>", with * and ?
	// wildcards) or tags ("tag:attack.t1110") whose rules are not loaded.
	Disabled []string `yaml:"disabled"`
	// Severity overrides the severity of the rules each entry selects; the
	// first entry that selects a rule applies.
	Severity []SeverityOverride `yaml:"severity"`
}

// SeverityOverride sets the severity of some rules, so that their alerts
// carry it instead of the one the rule declares (a Sigma rule's level).
type SeverityOverride struct {
	// Rule selects rules as Config.Disabled does: a rule ID, a file path
	// ("<pack>/<path>", with * and ? wildcards) or a tag ("tag:<tag>").
	Rule string `yaml:"rule"`
	// Level is informational, low, medium, high or critical.
	Level string `yaml:"level"`
}

// severityRule is a rule whose severity can be overridden: the new rule
// replaces it (sigma.Rule and sigma.Correlation). It must return a rule of
// the same dynamic type, so that whoever groups rules by type still can.
type severityRule interface {
	WithSeverity(alert.Severity) detections.Rule
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	for i, d := range c.Dirs {
		if strings.TrimSpace(d) == "" {
			errs = append(errs, fmt.Errorf("dirs[%d]: must not be empty", i))
		}
	}
	for i, p := range c.Disabled {
		if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("disabled[%d]: bad pattern %q: %w", i, p, err))
		}
	}
	for i, o := range c.Severity {
		switch _, err := path.Match(o.Rule, ""); {
		case strings.TrimSpace(o.Rule) == "":
			errs = append(errs, fmt.Errorf("severity[%d].rule: must not be empty", i))
		case err != nil:
			errs = append(errs, fmt.Errorf("severity[%d].rule: bad pattern %q: %w", i, o.Rule, err))
		}
		if _, err := alert.ParseSeverity(o.Level); err != nil {
			errs = append(errs, fmt.Errorf("severity[%d].level: %q is not informational, low, medium, high or critical", i, o.Level))
		}
	}
	return errors.Join(errs...)
}

// UseBuiltin reports whether the built-in pack is loaded.
func (c Config) UseBuiltin() bool { return c.Builtin == nil || *c.Builtin }

// Report says what a Load did.
type Report struct {
	Files       int     // rule files read
	Rules       int     // rules loaded
	Disabled    int     // rules skipped by Config.Disabled
	Overridden  int     // rules whose severity Config.Severity changed
	Unsupported int     // documents a kind recognized but does not run (errors.ErrUnsupported)
	Errors      []error // problems, each naming its file
	// UnsupportedErrors are the reasons behind Unsupported, each naming its
	// file and the feature.
	UnsupportedErrors []error
}

// Err joins the per-file errors, nil when every file loaded.
func (r Report) Err() error { return errors.Join(r.Errors...) }

// Load reads every configured pack with the kinds in reg. Rule IDs must be
// unique across packs; a duplicate is reported and the later rule skipped.
func Load(reg *detections.Registry, cfg Config) ([]detections.Rule, Report) {
	var rep Report
	var rules []detections.Rule
	seen := map[string]string{}
	// order holds, for each rule, the position of its file in the walk, so
	// that rules keep the walk's order whichever way they were loaded.
	var order []int
	fileIndex := map[string]int{}
	accept := func(loaded []detections.Rule, err error, whereOf func(detections.Meta) string) {
		for _, e := range split(err) {
			if errors.Is(e, errors.ErrUnsupported) {
				rep.Unsupported++
				rep.UnsupportedErrors = append(rep.UnsupportedErrors, e)
				continue
			}
			rep.Errors = append(rep.Errors, e)
		}
		for _, r := range loaded {
			m := r.Meta()
			where := whereOf(m)
			if disabled(cfg.Disabled, m, where) {
				rep.Disabled++
				continue
			}
			if prev, dup := seen[m.ID]; dup {
				rep.Errors = append(rep.Errors, fmt.Errorf("%s: rule id %s already loaded from %s; skipped", where, m.ID, prev))
				continue
			}
			if i, sev, ok := overrideFor(cfg.Severity, m, where); ok && sev != m.Severity {
				if sr, ok := r.(severityRule); ok {
					r = sr.WithSeverity(sev)
					rep.Overridden++
				} else {
					rep.Errors = append(rep.Errors, fmt.Errorf("%s: rule id %s: severity[%d]: %s rules do not support a severity override; kept %s",
						where, m.ID, i, m.Kind, m.Severity))
				}
			}
			seen[m.ID] = where
			rules = append(rules, r)
			order = append(order, fileIndex[where])
		}
	}
	// Kinds with LoadAll get every file of every pack at once, after the
	// walk, so that their rules may refer to rules of other files.
	all := map[string][]detections.File{}
	allKinds := map[string]detections.Kind{}
	add := func(pack string, fsys fs.FS) {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				rep.Errors = append(rep.Errors, fmt.Errorf("%s/%s: %w", pack, p, err))
				return nil
			}
			if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			kind, ok := reg.ForFile(p)
			if !ok {
				return nil
			}
			where := pack + "/" + p
			rep.Files++
			fileIndex[where] = rep.Files
			if kind.LoadAll != nil {
				data, err := readFile(fsys, p, where, maxFileBytes(kind))
				if err != nil {
					rep.Errors = append(rep.Errors, err)
					return nil
				}
				all[kind.Name] = append(all[kind.Name], detections.File{Path: where, Data: data})
				allKinds[kind.Name] = kind
				return nil
			}
			loaded, err := loadFile(fsys, p, where, kind)
			accept(loaded, err, func(detections.Meta) string { return where })
			return nil
		})
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("%s: %w", pack, err))
		}
	}
	if cfg.UseBuiltin() {
		add("builtin", Builtin())
	}
	for _, dir := range cfg.Dirs {
		st, err := os.Stat(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				rep.Errors = append(rep.Errors, fmt.Errorf("rule directory %s: %w", dir, err))
			}
			continue
		}
		if st.Mode().IsRegular() {
			// A single file: its directory is the pack, walked for that
			// one name only.
			parent, base := filepath.Split(dir)
			if parent == "" {
				parent = "."
			}
			add(filepath.Clean(parent), onlyFile{os.DirFS(parent), base})
			continue
		}
		if st.IsDir() {
			add(dir, os.DirFS(dir))
		}
	}
	for _, name := range reg.Names() {
		if files, ok := all[name]; ok {
			loaded, err := allKinds[name].LoadAll(files)
			accept(loaded, err, func(m detections.Meta) string { return m.Path })
		}
	}
	idx := make([]int, len(rules))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return order[idx[a]] < order[idx[b]] })
	sorted := make([]detections.Rule, len(rules))
	for i, j := range idx {
		sorted[i] = rules[j]
	}
	rules = sorted
	rep.Rules = len(rules)
	return rules, rep
}

// onlyFile is a directory holding just one of its files: the root lists
// only name.
type onlyFile struct {
	fs.FS
	name string
}

func (o onlyFile) ReadDir(dir string) ([]fs.DirEntry, error) {
	if dir != "." {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	st, err := fs.Stat(o.FS, o.name)
	if err != nil {
		return nil, err
	}
	return []fs.DirEntry{fs.FileInfoToDirEntry(st)}, nil
}

func loadFile(fsys fs.FS, p, where string, kind detections.Kind) ([]detections.Rule, error) {
	data, err := readFile(fsys, p, where, maxFileBytes(kind))
	if err != nil {
		return nil, err
	}
	// Kinds name the path in their errors themselves.
	return kind.Load(where, data)
}

// readFile reads one rule file, at most limit bytes.
func readFile(fsys fs.FS, p, where string, limit int64) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, limit %d", where, st.Size(), limit)
	}
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return data, nil
}

// split returns the parts of an errors.Join result (nil for nil).
func split(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, split(e)...)
		}
		return out
	}
	return []error{err}
}

func disabled(patterns []string, m detections.Meta, where string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return selects(p, m, where) })
}

// overrideFor returns the first override that selects the rule, its index
// and its severity. Levels were checked by Config.Validate; an entry with
// an invalid one selects nothing.
func overrideFor(overrides []SeverityOverride, m detections.Meta, where string) (int, alert.Severity, bool) {
	for i, o := range overrides {
		if !selects(o.Rule, m, where) {
			continue
		}
		if sev, err := alert.ParseSeverity(o.Level); err == nil {
			return i, sev, true
		}
	}
	return 0, 0, false
}

// selects reports whether pattern p (a rule ID, a path glob or "tag:<tag>")
// selects the rule m loaded from where.
func selects(p string, m detections.Meta, where string) bool {
	if tag, ok := strings.CutPrefix(p, "tag:"); ok {
		return slices.ContainsFunc(m.Tags, func(t string) bool { return strings.EqualFold(t, tag) })
	}
	if p == m.ID {
		return true
	}
	ok, _ := path.Match(p, where)
	return ok
}
