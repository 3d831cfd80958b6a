package sigma

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

// Kind is the Sigma rule kind for the detections registry. Load compiles one
// file; LoadAll (LoadSet) compiles a whole pack, with correlations and
// filters referring to rules across files. Both use the
// default pipeline.
var Kind = detections.Kind{Name: kindName, Exts: []string{".yml", ".yaml"}, Load: Load, LoadAll: LoadSet}

// kindName is the Meta.Kind of every Sigma rule.
const kindName = "sigma"

var defaultCompiler = sync.OnceValue(func() *Compiler { return NewCompiler(nil) })

// Load compiles every detection rule of a Sigma YAML file with the default
// pipeline; see Compiler.Load.
func Load(path string, data []byte) ([]detections.Rule, error) {
	return defaultCompiler().Load(path, data)
}

// UnsupportedError reports a document that is valid Sigma of a kind this
// package does not run yet: a correlation rule, a filter, or a Sigma v1
// rule collection (action: global). It wraps errors.ErrUnsupported, so a
// loader can count such documents without importing this package.
type UnsupportedError struct {
	Path  string
	Doc   int    // 1-based position of the document in the file
	What  string // "correlation rule", "filter", "rule collection"
	Title string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: document %d: %s %q is not supported yet (skipped)", e.Path, e.Doc, e.What, e.Title)
}

// Unwrap returns errors.ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return errors.ErrUnsupported }

// Compiler compiles Sigma rule files under one Pipeline. It is safe for
// concurrent use, and shares resolved field names between the rules it
// compiles.
type Compiler struct {
	pipeline *Pipeline

	mu     sync.Mutex
	fields map[string]*fieldRef // by log source key and field name
}

// NewCompiler returns a compiler using p, or the default pipeline when p is
// nil.
func NewCompiler(p *Pipeline) *Compiler {
	if p == nil {
		p = DefaultPipeline()
	}
	return &Compiler{pipeline: p, fields: map[string]*fieldRef{}}
}

// field resolves a Sigma field name under a log source, once per compiler.
func (c *Compiler) field(ls LogSource, name string) *fieldRef {
	key := ls.key() + "\x00" + name
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.fields[key]; ok {
		return f
	}
	f := newFieldRef(name, c.pipeline.candidates(ls, name))
	c.fields[key] = f
	return f
}

// Load compiles the detection rules of one Sigma YAML file (one rule per
// YAML document).
//
// It returns the rules of every document that compiled, even when err is not
// nil. err joins one error per problem, each naming the file, the document
// (in multi-document files), the YAML path and line: invalid documents are
// reported with every problem at once and yield no rule. Documents of a kind
// not supported yet (correlation, filter, v1 collections) yield an
// *UnsupportedError instead; when they are the only problems, every error in
// err satisfies errors.Is(e, errors.ErrUnsupported). A file larger than
// MaxFileBytes, with more than MaxNodes nodes or that is not YAML yields no
// rules.
func (c *Compiler) Load(path string, data []byte) ([]detections.Rule, error) {
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var rules []detections.Rule
	var errs []error
	for i, doc := range docs {
		if doc == nil {
			continue
		}
		p := &problems{prefix: path}
		if len(docs) > 1 {
			p.prefix = fmt.Sprintf("%s: document %d", path, i+1)
		}
		r, skip := c.compile(path, i, len(docs), doc, p)
		switch {
		case skip != nil:
			errs = append(errs, skip)
		case !p.ok():
			errs = append(errs, p.errs...)
		case r == nil:
			p.add("", doc, "document is not a detection rule")
			errs = append(errs, p.errs...)
		default:
			rules = append(rules, r)
		}
	}
	return rules, errors.Join(errs...)
}

// compile compiles one document into a Rule, or reports why it is skipped.
func (c *Compiler) compile(path string, idx, ndocs int, doc *yaml.Node, p *problems) (*Rule, *UnsupportedError) {
	m, ok := asMapping(doc, "", p)
	if !ok {
		return nil, nil
	}
	skip := func(what string) *UnsupportedError {
		title := ""
		if t := m.get("title"); t != nil && t.Kind == yaml.ScalarNode {
			title = t.Value
		}
		return &UnsupportedError{Path: path, Doc: idx + 1, What: what, Title: title}
	}
	action := ""
	if a := m.get("action"); a != nil && a.Kind == yaml.ScalarNode {
		action = a.Value
	}
	switch {
	case m.get("correlation") != nil:
		return nil, skip("correlation rule")
	case m.get("filter") != nil && m.get("detection") == nil:
		return nil, skip("filter")
	case action == "global" || action == "reset" || action == "repeat":
		return nil, skip("rule collection")
	}
	info := parseInfo(m, p)
	det := m.get("detection")
	if det == nil {
		p.add("detection", nil, "is required")
		return nil, nil
	}
	rc := &ruleCompiler{c: c, ls: info.LogSource, p: p}
	match := rc.compileDetection(det)
	if !p.ok() || match == nil {
		return nil, nil
	}
	optimize(match)
	r := &Rule{info: info, ls: c.pipeline.condition(info.LogSource), det: match}
	r.setMatch()
	r.meta = detections.Meta{
		ID:          info.ID,
		Version:     version(m.get("logsource"), det),
		Title:       info.Title,
		Kind:        kindName,
		Severity:    severity(info.Level),
		Tags:        info.Tags,
		Techniques:  techniques(info.Tags),
		Path:        path,
		Description: info.Description,
	}
	if r.meta.ID == "" {
		key := path
		if ndocs > 1 {
			key += "#" + strconv.Itoa(idx+1)
		}
		r.meta.ID = hashHex(key)
	}
	return r, nil
}

// Rule is one compiled Sigma detection rule. It is immutable and safe for
// concurrent use.
type Rule struct {
	info  Info
	meta  detections.Meta
	match *node
	ls    *node // the pipeline's log source condition, shared; nil for none
	det   *node // the detection (with its filters)
}

// setMatch packs det (pack) and builds match from ls and det. The log
// source check runs first: it rejects most events at the price of a few
// lookups. It is shared, so it is neither optimized nor packed again here.
func (r *Rule) setMatch() {
	r.det = pack(r.det)
	r.match = r.det
	if r.ls != nil {
		r.match = &node{kind: nAnd, kids: []*node{r.ls, r.det}}
	}
}

// Meta describes the rule. The slices are shared; callers must not modify
// them.
func (r *Rule) Meta() detections.Meta { return r.meta }

// WithSeverity returns a copy of the rule whose Meta (and so every Finding's
// alert) has severity sev instead of the one its level gives; the rule
// pack's severity override uses it. The copy shares the compiled detection
// with r, and its Version and Info (with the document's level) are r's.
func (r *Rule) WithSeverity(sev alert.Severity) detections.Rule {
	c := *r
	c.meta.Severity = sev
	return &c
}

// Info returns the rule document's descriptive keys.
func (r *Rule) Info() Info { return r.info }

// Match reports whether ev belongs to the rule's log source and satisfies
// its detection. It is safe for concurrent use and does not allocate once
// its pooled evaluation state is warm.
//
// Rules share field lookups through that state: when the same unchanged
// event is evaluated again on the goroutine (the next rule), lookups are not
// repeated. The state therefore keeps a reference to the last event it saw;
// it reads it again only when that event is passed again, unchanged.
func (r *Rule) Match(ev *event.Event) bool {
	st := getState(ev)
	ok := r.match.eval(st)
	putState(st)
	return ok
}

// Eval emits one Finding for ev when it matches: the event, grouped by the
// host it came from when the event names one. It never fails, and does not
// use ctx: one evaluation is short and does not block.
func (r *Rule) Eval(ctx context.Context, ev *event.Event, emit func(detections.Finding)) error {
	if !r.Match(ev) {
		return nil
	}
	emit(r.finding(ev))
	return nil
}

// finding is the Finding of a match on ev.
func (r *Rule) finding(ev *event.Event) detections.Finding {
	f := detections.Finding{Events: []*event.Event{ev}}
	if h := hostName(ev); h != "" {
		f.GroupBy = []alert.KV{{Field: "host.name", Value: h}}
	}
	return f
}

// hostFields are the event fields that may name the host, in order of
// preference: ECS, NXLog and evtx-dump Windows, Winlogbeat.
var hostFields = []string{"host.name", "Computer", "Hostname", "Event.System.Computer", "winlog.computer_name"}

func hostName(ev *event.Event) string {
	for _, f := range hostFields {
		if v, ok := ev.Get(f); ok && v.Kind == event.String && v.Str != "" {
			return v.Str
		}
	}
	return ""
}

// severity maps a Sigma level to a Severity; unknown or missing levels are
// medium.
func severity(level string) alert.Severity {
	if s, err := alert.ParseSeverity(level); err == nil {
		return s
	}
	return alert.Medium
}

var techniqueTag = regexp.MustCompile(`(?i)^attack\.(t\d{4}(?:\.\d{3})?)$`)

// techniques returns the ATT&CK technique ids of attack.tNNNN[.NNN] tags,
// upper case, without duplicates.
func techniques(tags []string) []string {
	var out []string
	for _, t := range tags {
		if m := techniqueTag.FindStringSubmatch(t); m != nil {
			id := strings.ToUpper(m[1])
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// version hashes the logic of a rule (logsource and detection) so that it
// changes when the logic changes, and only then: key order in mappings,
// comments, quoting style and the other keys do not count.
func version(logsource, detection *yaml.Node) string {
	var b strings.Builder
	canonical(&b, logsource)
	b.WriteByte('\n')
	canonical(&b, detection)
	return hashHex(b.String())
}

// canonical writes a canonical text of a YAML node.
func canonical(b *strings.Builder, n *yaml.Node) {
	n = deref(n)
	if n == nil {
		b.WriteString("~")
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		type kv struct {
			k string
			v *yaml.Node
		}
		var kvs []kv
		for i := 0; i+1 < len(n.Content); i += 2 {
			kvs = append(kvs, kv{deref(n.Content[i]).Value, n.Content[i+1]})
		}
		slices.SortStableFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		b.WriteByte('{')
		for _, e := range kvs {
			b.WriteString(strconv.Quote(e.k))
			b.WriteByte(':')
			canonical(b, e.v)
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for _, c := range n.Content {
			canonical(b, c)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	default:
		b.WriteString(n.ShortTag())
		b.WriteString(strconv.Quote(n.Value))
	}
}

// hashHex returns 32 hex characters of the SHA-256 of s.
func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
