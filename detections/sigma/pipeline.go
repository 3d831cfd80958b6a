package sigma

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed pipeline.yml
var defaultPipelineYAML []byte

// Pipeline maps what a Sigma rule names onto the events Mangrove holds, as
// data, in the manner of a pySigma processing pipeline: for each log source,
// conditions an event must meet (Channel and EventID for Windows); for each
// Sigma field name, the event fields that may hold it. A Pipeline is
// immutable and safe for concurrent use.
//
// The YAML form (see pipeline.yml for the default and its comments):
//
//	templates: ["{name}", "Event.EventData.{name}"]  # for unmapped fields
//	keywords: [message]             # fields keyword searches look at first
//	placeholders: {Admins: [adm_*]} # values for the expand modifier
//	fields:                         # Sigma field -> event field names
//	  EventID: [EventID, Event.System.EventID]
//	logsources:
//	  - logsource: {product: windows, category: process_creation}
//	    conditions:                 # Sigma selections: a list is an OR
//	      - {Channel: Microsoft-Windows-Sysmon/Operational, EventID: 1}
//	    fields:                     # overrides for rules of this log source
//	      Image: ["{Image}", "{NewProcessName}", process.executable]
//
// A candidate written "{X}" stands for X passed through the templates.
type Pipeline struct {
	name         string
	templates    []string
	keywords     []string
	placeholders map[string][]string
	fields       map[string][]string
	logsources   []*lsEntry

	mu     sync.Mutex
	global map[string]*fieldRef // resolved fields without a log source
}

// lsEntry is one logsources entry.
type lsEntry struct {
	match  LogSource
	spec   int   // number of keys in match: more is more specific
	cond   *node // conditions, nil when none
	fields map[string][]string
}

// pipelineFile is the YAML form of a Pipeline, decoded strictly.
type pipelineFile struct {
	Name         string              `yaml:"name"`
	Templates    []string            `yaml:"templates"`
	Keywords     []string            `yaml:"keywords"`
	Placeholders map[string][]string `yaml:"placeholders"`
	Fields       map[string][]string `yaml:"fields"`
	LogSources   []struct {
		LogSource struct {
			Product  string `yaml:"product"`
			Category string `yaml:"category"`
			Service  string `yaml:"service"`
		} `yaml:"logsource"`
		Conditions yaml.Node           `yaml:"conditions"`
		Fields     map[string][]string `yaml:"fields"`
	} `yaml:"logsources"`
}

// DefaultPipeline returns the pipeline embedded in the package
// (pipeline.yml). It maps the Windows log sources of the Sigma taxonomy onto
// the evtx-dump, NXLog and Winlogbeat shapes of Windows events, and the
// common Linux, web and network log sources onto ECS. It is parsed once.
func DefaultPipeline() *Pipeline { return defaultPipeline() }

var defaultPipeline = sync.OnceValue(func() *Pipeline {
	p, err := ParsePipeline(defaultPipelineYAML)
	if err != nil {
		// pipeline.yml is compiled into the binary and tested: this is a
		// build defect, not an input error.
		panic("sigma: embedded pipeline.yml is invalid: " + err.Error())
	}
	return p
})

// ParsePipeline reads a pipeline from YAML. Unknown keys are errors, and
// every problem is returned at once.
func ParsePipeline(data []byte) (*Pipeline, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("pipeline is %d bytes, limit %d", len(data), MaxFileBytes)
	}
	var f pipelineFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parsing pipeline: %w", err)
	}
	p := &Pipeline{
		name:         f.Name,
		templates:    f.Templates,
		keywords:     f.Keywords,
		placeholders: f.Placeholders,
		fields:       map[string][]string{},
		global:       map[string]*fieldRef{},
	}
	probs := &problems{prefix: "pipeline"}
	if len(p.templates) == 0 {
		p.templates = []string{"{name}"}
	}
	for i, t := range p.templates {
		if !strings.Contains(t, "{name}") {
			probs.add(indexPath("templates", i), nil, "template %q has no {name}", t)
		}
	}
	for k, v := range f.Fields {
		p.fields[k] = p.expandCandidates(v, joinPath("fields", k), probs)
	}
	rc := &ruleCompiler{c: &Compiler{pipeline: p}, p: probs, global: true}
	for i, e := range f.LogSources {
		path := indexPath("logsources", i)
		ent := &lsEntry{
			match: LogSource{
				Product:  strings.ToLower(e.LogSource.Product),
				Category: strings.ToLower(e.LogSource.Category),
				Service:  strings.ToLower(e.LogSource.Service),
			},
			fields: map[string][]string{},
		}
		for _, s := range []string{ent.match.Product, ent.match.Category, ent.match.Service} {
			if s != "" {
				ent.spec++
			}
		}
		if ent.spec == 0 {
			probs.add(joinPath(path, "logsource"), nil, "must name a product, category or service")
		}
		for k, v := range e.Fields {
			ent.fields[k] = p.expandCandidates(v, joinPath(path, "fields."+k), probs)
		}
		if e.Conditions.Kind != 0 {
			ent.cond = rc.compileSearch(&e.Conditions, joinPath(path, "conditions"))
			optimize(ent.cond)
		}
		p.logsources = append(p.logsources, ent)
	}
	if !probs.ok() {
		return nil, errors.Join(probs.errs...)
	}
	return p, nil
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.name }

// expandCandidates resolves "{X}" entries through the templates and removes
// duplicates.
func (p *Pipeline) expandCandidates(v []string, path string, probs *problems) []string {
	var out []string
	for _, c := range v {
		if strings.HasPrefix(c, "{") && strings.HasSuffix(c, "}") {
			name := c[1 : len(c)-1]
			if name == "" || strings.ContainsAny(name, "{}") {
				probs.add(path, nil, "bad template reference %q", c)
				continue
			}
			out = append(out, p.applyTemplates(name)...)
			continue
		}
		if c == "" || strings.ContainsAny(c, "{}") {
			probs.add(path, nil, "bad field name %q", c)
			continue
		}
		out = append(out, c)
	}
	return dedupe(out)
}

// applyTemplates returns the event field names the templates make of a
// Sigma field name. A dotted name is already an event field path (ECS,
// cloud audit logs) and is taken as is.
func (p *Pipeline) applyTemplates(name string) []string {
	if strings.Contains(name, ".") {
		return []string{name}
	}
	out := make([]string, 0, len(p.templates))
	for _, t := range p.templates {
		out = append(out, strings.ReplaceAll(t, "{name}", name))
	}
	return out
}

func dedupe(v []string) []string {
	out := v[:0:0]
	for _, s := range v {
		dup := false
		for _, o := range out {
			dup = dup || o == s
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// entries returns the logsources entries that apply to a rule's log source:
// those whose every key equals the rule's.
func (p *Pipeline) entries(ls LogSource) []*lsEntry {
	var out []*lsEntry
	for _, e := range p.logsources {
		if (e.match.Product == "" || e.match.Product == ls.Product) &&
			(e.match.Category == "" || e.match.Category == ls.Category) &&
			(e.match.Service == "" || e.match.Service == ls.Service) {
			out = append(out, e)
		}
	}
	return out
}

// candidates returns the event field names of a Sigma field under a log
// source: the most specific matching entry's mapping, else the global
// mapping, else the templates.
func (p *Pipeline) candidates(ls LogSource, name string) []string {
	var best *lsEntry
	for _, e := range p.entries(ls) {
		if _, ok := e.fields[name]; ok && (best == nil || e.spec > best.spec) {
			best = e
		}
	}
	if best != nil {
		return best.fields[name]
	}
	if c, ok := p.fields[name]; ok {
		return c
	}
	return p.applyTemplates(name)
}

// globalField resolves a field without a log source (pipeline conditions).
func (p *Pipeline) globalField(name string) *fieldRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.global[name]; ok {
		return f
	}
	f := newFieldRef(name, p.candidates(LogSource{}, name))
	p.global[name] = f
	return f
}

// condition returns the node an event must satisfy to belong to a log
// source: the AND of the conditions of every matching entry. It is nil when
// no entry has conditions, that is when the pipeline cannot tell such events
// apart; the rule then runs on every event.
func (p *Pipeline) condition(ls LogSource) *node {
	var conds []*node
	for _, e := range p.entries(ls) {
		if e.cond != nil {
			conds = append(conds, e.cond)
		}
	}
	switch len(conds) {
	case 0:
		return nil
	case 1:
		return conds[0]
	}
	return &node{kind: nAnd, kids: conds}
}
