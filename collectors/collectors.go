// Package collectors is the contract between event sources and the bus: a
// Collector produces Batches of events and hands them to a Publisher. The
// Registry of collector types decodes the configuration's `collectors:` list,
// each entry by its `type:`, into Specs that build Collectors.
package collectors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/eventid"
)

// Publisher hands batches on to the bus.
//
// Publish blocks while downstream is full (that is the backpressure) and
// returns an error only when the batch was not accepted (ctx done, publisher
// closed); then Done is not called by the publisher and the caller still owns
// the batch. Once Publish returns nil, the publisher calls b.Done exactly once:
// Done(nil) when every event is durably stored, Done(err) otherwise. A
// collector acknowledges its sender only on Done(nil).
type Publisher interface {
	Publish(ctx context.Context, b *event.Batch) error
}

// Collector is a source of events. Run blocks until ctx is done and returns
// only fatal errors; per-input problems are counted, not returned.
type Collector interface {
	Run(ctx context.Context, p Publisher) error
}

// Env is what the process gives a collector when it is built.
type Env struct {
	// DataDir is the process's data directory; a collector keeps its state
	// (file offsets, ...) under DataDir/collectors/<name>.
	DataDir string
	// Logger is the root logger; derive with
	// With().Str("component", "collectors.<type>").Str("collector", name).
	Logger zerolog.Logger
	// Registerer receives the collector's metrics. Label them with
	// collector=<name>; several collectors of one type share a registry.
	Registerer prometheus.Registerer
	// IDKey keys the IDs of the events a collector reads (Key.ID); nil
	// gives event.NewID's. `mangrove serve` keeps it in the data directory.
	IDKey *eventid.Key
}

// Spec is one entry of the configuration's collectors list once its type is
// known: Validate checks it, Build makes the running Collector.
type Spec interface {
	Validate() error
	Build(name string, env Env) (Collector, error)
}

// Type is one kind of collector.
type Type struct {
	// Name is the value of `type:` in the configuration ("syslog", "file").
	Name string
	// New returns an empty Spec with its defaults; the configuration entry
	// is decoded into it strictly (unknown keys are errors).
	New func() Spec
}

// Registry maps type names to collector types. The zero value is empty and
// ready to use.
type Registry struct {
	types map[string]Type
}

// Register adds a type; a duplicate name panics (a programming error found at
// start-up).
func (r *Registry) Register(t Type) {
	if r.types == nil {
		r.types = map[string]Type{}
	}
	if _, dup := r.types[t.Name]; dup {
		panic(fmt.Sprintf("collectors: type %q registered twice", t.Name))
	}
	r.types[t.Name] = t
}

// Lookup returns the named type.
func (r *Registry) Lookup(name string) (Type, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Names returns the registered type names in order.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Entry is one configured collector: `{name: ..., type: ..., <type's own
// keys>}`. It decodes polymorphically through a Registry: set Registry before
// decoding (DecodeEntries does).
type Entry struct {
	Name string
	Type string
	Spec Spec
}

// DecodeEntries decodes a YAML sequence of collector entries strictly, each by
// its type, and validates them. Every problem is reported at once with its
// path (collectors[2].port: ...).
func DecodeEntries(reg *Registry, node *yaml.Node) ([]Entry, error) {
	if node == nil || node.Kind == 0 {
		return nil, nil
	}
	if node.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("collectors: must be a list")
	}
	var out []Entry
	var errs []error
	names := map[string]bool{}
	for i, n := range node.Content {
		p := fmt.Sprintf("collectors[%d]", i)
		var head struct {
			Name string `yaml:"name"`
			Type string `yaml:"type"`
		}
		if err := n.Decode(&head); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		t, ok := reg.Lookup(head.Type)
		if !ok {
			errs = append(errs, fmt.Errorf("%s.type: %q is not one of %s", p, head.Type, strings.Join(reg.Names(), ", ")))
			continue
		}
		if head.Name == "" {
			head.Name = fmt.Sprintf("%s-%d", head.Type, i)
		}
		if names[head.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q used twice", p, head.Name))
		}
		names[head.Name] = true
		spec := t.New()
		if err := decodeStrict(n, spec); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		if err := spec.Validate(); err != nil {
			for _, e := range splitErr(err) {
				errs = append(errs, fmt.Errorf("%s.%w", p, e))
			}
			continue
		}
		out = append(out, Entry{Name: head.Name, Type: head.Type, Spec: spec})
	}
	return out, errors.Join(errs...)
}

// decodeStrict decodes n into spec, refusing keys spec does not have (name and
// type belong to the entry).
func decodeStrict(n *yaml.Node, spec Spec) error {
	own := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "name" || k == "type" {
			continue
		}
		own.Content = append(own.Content, n.Content[i], n.Content[i+1])
	}
	b, err := yaml.Marshal(own)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(spec); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func splitErr(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitErr(e)...)
		}
		return out
	}
	return []error{err}
}
