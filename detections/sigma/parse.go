package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits on one rule file. A file beyond them is rejected before any rule in
// it is compiled.
const (
	// MaxFileBytes is the largest rule file Load reads.
	MaxFileBytes = 1 << 20
	// MaxNodes bounds the YAML nodes of one file, counting every use of an
	// alias again, so that anchors cannot expand a small file into a huge one.
	MaxNodes = 100_000
	// MaxVariants bounds the values one value expands to through windash,
	// base64offset and expand.
	MaxVariants = 4096
	// MaxMatchers bounds the compiled values of one rule, all expansions
	// counted.
	MaxMatchers = 100_000
)

// YAML tags as yaml.v3 reports them.
const (
	tagStr   = "!!str"
	tagInt   = "!!int"
	tagFloat = "!!float"
	tagBool  = "!!bool"
	tagNull  = "!!null"
)

// problems collects every validation error of one document, each with the
// YAML path and line it concerns.
type problems struct {
	prefix string // file path, and document number in multi-document files
	errs   []error
}

// add records a problem at path. n may be nil when there is no node (a
// missing key); its line is then left out.
func (p *problems) add(path string, n *yaml.Node, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	var b strings.Builder
	if p.prefix != "" {
		b.WriteString(p.prefix)
		b.WriteString(": ")
	}
	if path != "" {
		b.WriteString(path)
		if n != nil && n.Line > 0 {
			fmt.Fprintf(&b, " (line %d)", n.Line)
		}
		b.WriteString(": ")
	} else if n != nil && n.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", n.Line)
	}
	b.WriteString(msg)
	p.errs = append(p.errs, errors.New(b.String()))
}

func (p *problems) ok() bool { return len(p.errs) == 0 }

// joinPath appends a mapping key or sequence index to a YAML path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// splitDocuments parses data into its YAML documents after checking the file
// limits. Empty documents are returned as nil so that document numbers stay
// those of the file.
func splitDocuments(data []byte) ([]*yaml.Node, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("rule file is %d bytes, limit %d", len(data), MaxFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	budget := MaxNodes
	for {
		var doc yaml.Node
		err := decodeNode(dec, &doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parsing YAML: %w", err)
		}
		if !countNodes(&doc, &budget, 0) {
			return nil, fmt.Errorf("rule file has more than %d YAML nodes (aliases counted at every use)", MaxNodes)
		}
		var root *yaml.Node
		if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
			root = doc.Content[0]
		}
		if root != nil && root.Kind == yaml.ScalarNode && root.ShortTag() == tagNull {
			root = nil
		}
		docs = append(docs, root)
	}
	return docs, nil
}

// decodeNode reads one document. yaml.v3 reports its own failures as errors;
// the recover turns any other panic of the parser on hostile input into an
// error as well, so that a bad rule file can never stop the process.
func decodeNode(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(doc)
}

// maxAliasDepth bounds alias-inside-alias chains while counting.
const maxAliasDepth = 64

// countNodes subtracts the nodes under n from budget, following aliases, and
// reports false once the budget is exhausted. A self-referencing alias
// exhausts the budget.
func countNodes(n *yaml.Node, budget *int, aliasDepth int) bool {
	*budget--
	if *budget < 0 {
		return false
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || aliasDepth >= maxAliasDepth {
			*budget = -1
			return false
		}
		return countNodes(n.Alias, budget, aliasDepth+1)
	}
	for _, c := range n.Content {
		if !countNodes(c, budget, aliasDepth) {
			return false
		}
	}
	return true
}

// deref returns the node an alias points to (after countNodes, aliases are
// known to end).
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping is the key/value view of a YAML mapping node, in document order.
type mapping struct {
	keys []*yaml.Node
	vals []*yaml.Node
}

// asMapping reads a mapping node, reporting non-string and duplicate keys and
// merge keys (which Sigma does not use).
func asMapping(n *yaml.Node, path string, p *problems) (mapping, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.add(path, n, "must be a mapping, not %s", describe(n))
		return mapping{}, false
	}
	var m mapping
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(path, k, "mapping key must be a string, not %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			p.add(path, k, "YAML merge keys (<<) are not supported")
			continue
		}
		if seen[k.Value] {
			p.add(joinPath(path, k.Value), k, "key defined twice")
			continue
		}
		seen[k.Value] = true
		m.keys = append(m.keys, k)
		m.vals = append(m.vals, v)
	}
	return m, true
}

// get returns the value under key, or nil.
func (m mapping) get(key string) *yaml.Node {
	for i, k := range m.keys {
		if k.Value == key {
			return deref(m.vals[i])
		}
	}
	return nil
}

// describe names the kind of a node for error messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case tagNull:
			return "null"
		case tagInt, tagFloat:
			return "a number"
		case tagBool:
			return "a boolean"
		}
		return fmt.Sprintf("the string %q", clip(n.Value))
	}
	return "an unknown node"
}

// clip shortens s for an error message, at a character boundary.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// scalarString reads an optional string-valued key. Numbers and booleans are
// taken as their text; a mapping or list is a problem.
func scalarString(m mapping, key, path string, p *problems) string {
	n := m.get(key)
	if n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		p.add(joinPath(path, key), n, "must be a string, not %s", describe(n))
		return ""
	}
	return n.Value
}

// stringList reads an optional key holding a list of strings; a single
// string is taken as a list of one.
func stringList(m mapping, key, path string, p *problems) []string {
	n := m.get(key)
	path = joinPath(path, key)
	if n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull) {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		p.add(path, n, "must be a list of strings, not %s", describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = deref(c)
		if c.Kind != yaml.ScalarNode || c.ShortTag() == tagNull {
			p.add(indexPath(path, i), c, "must be a string, not %s", describe(c))
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

// dateLayouts are the forms of rule dates: the spec's ISO date, and the
// slash form of older rules.
var dateLayouts = []string{"2006-01-02", "2006/01/02"}

// scalarDate reads an optional date key.
func scalarDate(m mapping, key, path string, p *problems) time.Time {
	s := scalarString(m, key, path, p)
	if s == "" {
		return time.Time{}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC()
	}
	p.add(joinPath(path, key), m.get(key), "must be a date YYYY-MM-DD, not %q", clip(s))
	return time.Time{}
}

// LogSource is the logsource block of a rule: which events it is written
// for. Values are lower case.
type LogSource struct {
	Category   string
	Product    string
	Service    string
	Definition string
}

// key is the routing identity of a log source.
func (l LogSource) key() string { return l.Product + "/" + l.Category + "/" + l.Service }

// String returns the log source as product/category/service.
func (l LogSource) String() string { return l.key() }

// Related is one entry of a rule's related list.
type Related struct {
	ID   string
	Type string // derived, obsolete, merged, renamed, similar
}

// Info is the descriptive part of a Sigma rule document, as written.
type Info struct {
	Title          string
	ID             string
	Name           string // unique name correlation rules may refer to
	Status         string
	Level          string
	Description    string
	Author         string
	License        string
	Taxonomy       string
	Date           time.Time
	Modified       time.Time
	Tags           []string
	References     []string
	Fields         []string // fields an analyst should see
	FalsePositives []string
	Related        []Related
	LogSource      LogSource
}

// maxTitle is the spec's limit on a title.
const maxTitle = 256

// parseInfo reads the descriptive keys of a rule document.
func parseInfo(m mapping, p *problems) Info {
	in := Info{
		Title:          scalarString(m, "title", "", p),
		ID:             scalarString(m, "id", "", p),
		Name:           scalarString(m, "name", "", p),
		Status:         scalarString(m, "status", "", p),
		Level:          scalarString(m, "level", "", p),
		Description:    scalarString(m, "description", "", p),
		Author:         scalarString(m, "author", "", p),
		License:        scalarString(m, "license", "", p),
		Taxonomy:       scalarString(m, "taxonomy", "", p),
		Date:           scalarDate(m, "date", "", p),
		Modified:       scalarDate(m, "modified", "", p),
		Tags:           stringList(m, "tags", "", p),
		References:     stringList(m, "references", "", p),
		Fields:         stringList(m, "fields", "", p),
		FalsePositives: stringList(m, "falsepositives", "", p),
	}
	switch {
	case m.get("title") == nil:
		p.add("title", nil, "is required")
	case strings.TrimSpace(in.Title) == "":
		p.add("title", m.get("title"), "must not be empty")
	case len(in.Title) > maxTitle:
		p.add("title", m.get("title"), "is %d characters, limit %d", len(in.Title), maxTitle)
	}
	if in.Taxonomy != "" && !strings.EqualFold(in.Taxonomy, "sigma") {
		p.add("taxonomy", m.get("taxonomy"), "taxonomy %q is not supported (only sigma)", in.Taxonomy)
	}
	if rel := m.get("related"); rel != nil {
		in.Related = parseRelated(rel, p)
	}
	ls := m.get("logsource")
	if ls == nil {
		p.add("logsource", nil, "is required")
	} else if lm, ok := asMapping(ls, "logsource", p); ok {
		in.LogSource = LogSource{
			Category:   strings.ToLower(scalarString(lm, "category", "logsource", p)),
			Product:    strings.ToLower(scalarString(lm, "product", "logsource", p)),
			Service:    strings.ToLower(scalarString(lm, "service", "logsource", p)),
			Definition: scalarString(lm, "definition", "logsource", p),
		}
	}
	return in
}

func parseRelated(n *yaml.Node, p *problems) []Related {
	if n.Kind != yaml.SequenceNode {
		p.add("related", n, "must be a list, not %s", describe(n))
		return nil
	}
	var out []Related
	for i, c := range n.Content {
		path := indexPath("related", i)
		m, ok := asMapping(c, path, p)
		if !ok {
			continue
		}
		out = append(out, Related{ID: scalarString(m, "id", path, p), Type: scalarString(m, "type", path, p)})
	}
	return out
}
