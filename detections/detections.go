// Package detections is the contract between the detection engine and the
// kinds of rules it runs (Sigma, correlation, indicators, plugins): the Rule
// interface, the Finding a rule emits, and the Registry of rule kinds that
// turns rule files into Rules.
package detections

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

// Meta describes a rule.
type Meta struct {
	ID          string
	Version     string // changes whenever the rule's logic changes
	Title       string
	Kind        string // rule kind: "sigma", ...
	Severity    alert.Severity
	Tags        []string
	Techniques  []string // ATT&CK technique ids from the tags
	Path        string   // file the rule came from, "" for built-in code
	Description string
}

// Finding is what a rule emits when it matches: the events and group-by
// values. The engine turns findings into Alerts.
type Finding struct {
	Events  []*event.Event // matching events, at least one
	GroupBy []alert.KV
	// Time overrides the alert time (correlation rules); zero means the
	// time of the last event.
	Time time.Time
}

// Rule is one compiled detection.
//
// Eval is called for every event that reaches the rule, from several
// goroutines at once; it must not keep ev after returning unless it copies it,
// and calls emit for each match before it returns. It returns an error only
// for a fault of the rule itself (not a non-match); the engine counts it.
type Rule interface {
	Meta() Meta
	Eval(ctx context.Context, ev *event.Event, emit func(Finding)) error
}

// Ticker is implemented by stateful rules (correlation) that emit on the
// passage of time. Tick is called periodically with the current time.
type Ticker interface {
	Tick(ctx context.Context, now time.Time, emit func(Finding)) error
}

// MultiRule evaluates many rules at once, faster than one by one (sigma.Set
// routes by log source and skips rules whose literals are absent). The engine
// treats each entry of Metas as a rule: EvalAll calls emit with the index of
// the matching rule in Metas. EvalAll is called concurrently, like Eval.
type MultiRule interface {
	Metas() []Meta
	EvalAll(ctx context.Context, ev *event.Event, emit func(rule int, f Finding)) error
}

// Stateful is implemented by rules that keep state between events
// (correlation). Snapshot writes the state; Restore replaces it with one
// written by Snapshot of a rule with the same ID and Version, and fails
// (leaving the state empty) otherwise. Whoever swaps or stops the rules
// calls them (see sigma.SaveState).
type Stateful interface {
	Snapshot(w io.Writer) error
	Restore(r io.Reader) error
}

// File is one rule file handed to Kind.LoadAll.
type File struct {
	Path string // as the kind should name it in errors and Meta.Path
	Data []byte
}

// Kind loads rules of one kind from files.
type Kind struct {
	Name string
	// Exts are the file extensions (with dot) this kind reads.
	Exts []string
	// Load compiles one file. It returns every problem at once.
	Load func(path string, data []byte) ([]Rule, error)
	// LoadAll, when set, is used instead of Load to compile every file of
	// the kind at once, for rules that refer to rules of other files. It
	// returns the rules that compiled and every problem at once, each
	// naming its file.
	LoadAll func(files []File) ([]Rule, error)
}

// Registry holds the rule kinds. The zero value is empty and ready.
type Registry struct {
	kinds map[string]Kind
}

// Register adds a kind; it panics on a duplicate name, which is a programming
// error found at start-up.
func (r *Registry) Register(k Kind) {
	if r.kinds == nil {
		r.kinds = map[string]Kind{}
	}
	if _, dup := r.kinds[k.Name]; dup {
		panic(fmt.Sprintf("detections: rule kind %q registered twice", k.Name))
	}
	r.kinds[k.Name] = k
}

// ForFile returns the kind that reads path, by extension.
func (r *Registry) ForFile(path string) (Kind, bool) {
	ext := strings.ToLower(filepath.Ext(path))
	for _, name := range r.Names() {
		for _, e := range r.kinds[name].Exts {
			if e == ext {
				return r.kinds[name], true
			}
		}
	}
	return Kind{}, false
}

// Names returns the registered kind names in order.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
