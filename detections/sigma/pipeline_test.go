package sigma

import (
	"slices"
	"strings"
	"testing"
)

func TestDefaultPipelineFields(t *testing.T) {
	p := DefaultPipeline()
	cases := []struct {
		ls    LogSource
		field string
		want  []string
	}{
		{LogSource{Product: "windows", Category: "process_creation"}, "Image", []string{
			"Image", "Event.EventData.Image", "winlog.event_data.Image",
			"NewProcessName", "Event.EventData.NewProcessName", "winlog.event_data.NewProcessName", "process.executable"}},
		{LogSource{Product: "windows", Service: "security"}, "TargetUserName", []string{
			"TargetUserName", "Event.EventData.TargetUserName", "winlog.event_data.TargetUserName"}},
		{LogSource{Product: "windows", Service: "security"}, "EventID", []string{
			"EventID", "Event.System.EventID", "Event.System.EventID.#text", "winlog.event_id", "event.code"}},
		{LogSource{Category: "webserver"}, "cs-uri-query", []string{"cs-uri-query", "url.query"}},
		{LogSource{Product: "aws", Service: "cloudtrail"}, "userIdentity.arn", []string{"userIdentity.arn"}},
		{LogSource{Product: "linux", Category: "process_creation"}, "CommandLine", []string{
			"CommandLine", "Event.EventData.CommandLine", "winlog.event_data.CommandLine", "process.command_line"}},
	}
	for _, tc := range cases {
		if got := p.candidates(tc.ls, tc.field); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: %q\nwant %q", tc.ls, tc.field, got, tc.want)
		}
	}
}

func TestDefaultPipelineLogSources(t *testing.T) {
	p := DefaultPipeline()
	constrained := []LogSource{
		{Product: "windows", Category: "process_creation"},
		{Product: "windows", Category: "ps_script"},
		{Product: "windows", Category: "ps_module"},
		{Product: "windows", Category: "registry_set"},
		{Product: "windows", Category: "registry_event"},
		{Product: "windows", Category: "registry_add"},
		{Product: "windows", Category: "registry_delete"},
		{Product: "windows", Category: "network_connection"},
		{Product: "windows", Category: "file_event"},
		{Product: "windows", Category: "image_load"},
		{Product: "windows", Service: "security"},
		{Product: "windows", Service: "system"},
		{Product: "windows", Service: "powershell"},
		{Product: "windows", Service: "sysmon"},
		{Product: "linux", Service: "auditd"},
		{Product: "linux", Service: "syslog"},
		{Product: "linux", Category: "process_creation"},
		{Category: "webserver"},
		{Category: "proxy"},
	}
	for _, ls := range constrained {
		if p.condition(ls) == nil {
			t.Errorf("%s has no condition", ls)
		}
	}
	for _, ls := range []LogSource{{Product: "windows", Category: "file_access"}, {Product: "okta", Service: "okta"}, {Product: "windows"}} {
		if p.condition(ls) != nil {
			t.Errorf("%s has a condition; want none (not checkable)", ls)
		}
	}
}

func TestParsePipelineErrors(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"nope: 1\n", "field nope not found"},
		{"templates: ['Event.{x}']\n", `template "Event.{x}" has no {name}`},
		{"fields: {A: ['{}']}\n", `bad template reference "{}"`},
		{"fields: {A: ['']}\n", `bad field name ""`},
		{"logsources:\n  - logsource: {}\n", "logsources[0].logsource: must name a product, category or service"},
		{"logsources:\n  - logsource: {product: x}\n    conditions: {A|nope: 1}\n", `pipeline: logsources[0].conditions.A|nope (line 3): unknown modifier "nope"`},
		{"logsources:\n  - logsource: {product: x, vendor: y}\n", "field vendor not found"},
	}
	for _, tc := range cases {
		_, err := ParsePipeline([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePipeline(%q) = %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestCustomPipeline(t *testing.T) {
	p, err := ParsePipeline([]byte(`
name: lab
templates: ["{name}", "data.{name}"]
keywords: [raw]
fields:
  Computer: [agent.hostname]
logsources:
  - logsource: {product: windows, category: process_creation}
    conditions: {event.dataset: lab.process}
    fields:
      Image: [proc.path]
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "lab" {
		t.Errorf("name %q", p.Name())
	}
	c := NewCompiler(p)
	r, err := compileWith(t, c, whoamiRule)
	if err != nil {
		t.Fatal(err)
	}
	hit := jsonEvent(t, `{"event.dataset":"lab.process","proc":{"path":"C:\\Windows\\whoami.exe"},"data":{"ParentImage":"C:\\cmd.exe"}}`)
	if !r.Match(hit) {
		t.Errorf("custom pipeline: rule does not match its event")
	}
	if r.Match(jsonEvent(t, `{"event.dataset":"other","proc":{"path":"C:\\Windows\\whoami.exe"}}`)) {
		t.Errorf("custom pipeline: logsource condition ignored")
	}
	if r.Match(jsonEvent(t, `{"event.dataset":"lab.process","Image":"C:\\Windows\\whoami.exe"}`)) {
		t.Errorf("custom pipeline: Image resolved outside the mapping")
	}
	kw, err := compileWith(t, c, detectionRule("k: [needle]\ncondition: k"))
	if err != nil {
		t.Fatal(err)
	}
	if !kw.Match(jsonEvent(t, `{"raw":"a needle"}`)) || kw.Match(jsonEvent(t, `{"raw":"hay","other":"needle"}`)) {
		t.Errorf("custom keyword fields not used")
	}
}
