package parse

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// winShape says where one Windows event JSON shape keeps its values.
type winShape struct {
	name            string
	eventID         []string // tried in order
	channel         string
	computer        string
	provider        string
	data            string // prefix of the event data fields
	timeField       string
	recordID, level string
}

var (
	// evtxShape is the evtx_dump / python-evtx JSON shape.
	evtxShape = winShape{
		name: "evtx", eventID: []string{"Event.System.EventID", "Event.System.EventID.#text"},
		channel: "Event.System.Channel", computer: "Event.System.Computer",
		provider: "Event.System.Provider.#attributes.Name", data: "Event.EventData.",
		timeField: "Event.System.TimeCreated.#attributes.SystemTime",
		recordID:  "Event.System.EventRecordID", level: "Event.System.Level",
	}
	// nxlogShape is NXLog's flat im_msvistalog shape (also OTRF's).
	nxlogShape = winShape{
		name: "nxlog", eventID: []string{"EventID"}, channel: "Channel", computer: "Hostname",
		provider: "SourceName", data: "", timeField: "EventTime", recordID: "RecordNumber", level: "Level",
	}
	// winlogbeatShape is Winlogbeat's ECS shape.
	winlogbeatShape = winShape{
		name: "winlogbeat", eventID: []string{"winlog.event_id", "event.code"}, channel: "winlog.channel",
		computer: "winlog.computer_name", provider: "winlog.provider_name", data: "winlog.event_data.",
		recordID: "winlog.record_id",
	}
)

// windowsShape returns the shape of ev, or nil.
func windowsShape(ev *event.Event) *winShape {
	// Fields are sorted by name: each shape costs one binary search and a
	// short scan of the names sharing its prefix.
	f := ev.Fields
	// Every shape has a field starting "Event", "EventID" or "winlog.":
	// most events (syslog, web, network) have none, and are ruled out by
	// one pass over the names' first bytes.
	candidate := false
	for i := range f {
		if n := f[i].Name; n != "" && (n[0] == 'E' || n[0] == 'w') {
			candidate = true
			break
		}
	}
	if !candidate {
		return nil
	}
	from := func(prefix string) int {
		i, _ := slices.BinarySearchFunc(f, prefix, func(f event.Field, p string) int { return strings.Compare(f.Name, p) })
		return i
	}
	anyOf := func(prefix string, names ...string) bool {
		for i := from(prefix); i < len(f) && strings.HasPrefix(f[i].Name, prefix); i++ {
			if slices.Contains(names, f[i].Name) {
				return true
			}
		}
		return false
	}
	has := func(k string) bool { i := from(k); return i < len(f) && f[i].Name == k }
	switch {
	case anyOf("Event.System.EventID", "Event.System.EventID", "Event.System.EventID.#text"):
		return &evtxShape
	case anyOf("winlog.", "winlog.channel", "winlog.event_id", "winlog.provider_name"):
		return &winlogbeatShape
	case has("EventID") && (has("Channel") || has("SourceName") || has("Hostname") || has("ProviderGuid")):
		return &nxlogShape
	}
	return nil
}

func isWindows(ev *event.Event) bool { return windowsShape(ev) != nil }

// parseWindows normalizes the three Windows event JSON shapes (evtx-dump
// Event.System/Event.EventData, NXLog flat, Winlogbeat winlog.*) to the same
// ECS subset: event.code, event.provider, winlog.channel, winlog.event_id,
// winlog.record_id, host.name, process.* (command_line, executable, name,
// pid, parent.*), user.name/domain, source.ip/port, destination.ip/port,
// file.path, registry.path, dns.question.name, event.outcome for logons. The
// original fields are kept, so Sigma rules written for any shape still match.
// An ECS field the event already has is never overwritten.
func parseWindows(ev *event.Event, _ string) error {
	sh := windowsShape(ev)
	if sh == nil {
		return ErrNoMatch
	}
	get := func(k string) string {
		v, ok := ev.Get(k)
		if !ok {
			return ""
		}
		if s := v.Text(); s != "-" {
			return s
		}
		return ""
	}
	data := func(k string) string { return get(sh.data + k) }
	put := func(k, v string) {
		if v == "" {
			return
		}
		if _, ok := ev.Get(k); !ok {
			ev.Set(k, event.StringValue(v))
		}
	}
	putNum := func(k, v string) {
		if v == "" {
			return
		}
		if _, ok := ev.Get(k); ok {
			return
		}
		base := 10
		t := v
		if strings.HasPrefix(t, "0x") || strings.HasPrefix(t, "0X") {
			base, t = 16, t[2:]
		}
		if n, err := strconv.ParseInt(t, base, 64); err == nil {
			ev.Set(k, event.NumberValue(float64(n)))
		} else {
			ev.Set(k, event.StringValue(v))
		}
	}
	var id string
	for _, k := range sh.eventID {
		if id = get(k); id != "" {
			break
		}
	}
	if id == "" {
		return ErrNoMatch
	}
	put("event.code", id)
	put("winlog.event_id", id)
	channel := get(sh.channel)
	put("winlog.channel", channel)
	put("winlog.provider_name", get(sh.provider))
	put("event.provider", get(sh.provider))
	put("host.name", get(sh.computer))
	put("winlog.record_id", get(sh.recordID))
	put("event.kind", "event")
	if sh.timeField != "" && ev.Time.IsZero() {
		if t, err := time.Parse(time.RFC3339Nano, get(sh.timeField)); err == nil {
			ev.Time = t.UTC()
		}
	}

	put("process.command_line", data("CommandLine"))
	exe := first(data("Image"), data("NewProcessName"), data("Application"))
	if exe == "" && sh != &nxlogShape {
		exe = data("ProcessName")
	}
	put("process.executable", exe)
	if exe != "" {
		put("process.name", exe[strings.LastIndexAny(exe, `\/`)+1:])
	}
	putNum("process.pid", first(data("NewProcessId"), data("ProcessId")))
	put("process.entity_id", data("ProcessGuid"))
	put("process.parent.executable", first(data("ParentImage"), data("ParentProcessName")))
	put("process.parent.command_line", data("ParentCommandLine"))
	putNum("process.parent.pid", data("ParentProcessId"))

	user, domain := "", ""
	switch id {
	case "4624", "4625", "4634", "4647", "4648", "4672", "4720", "4722", "4724", "4726", "4738", "4740", "4768", "4769", "4771", "4776":
		user, domain = first(data("TargetUserName"), data("SubjectUserName")), first(data("TargetDomainName"), data("SubjectDomainName"))
	default:
		user, domain = data("SubjectUserName"), data("SubjectDomainName")
	}
	if user == "" {
		if u := data("User"); u != "" {
			domain, user, _ = strings.Cut(u, `\`)
			if user == "" {
				domain, user = "", u
			}
		}
	}
	put("user.name", user)
	put("user.domain", domain)
	put("user.id", first(data("TargetUserSid"), data("SubjectUserSid")))

	put("source.ip", first(data("IpAddress"), data("SourceIp"), data("SourceAddress"), data("ClientAddress")))
	putNum("source.port", first(data("IpPort"), data("SourcePort")))
	put("destination.ip", first(data("DestinationIp"), data("DestAddress")))
	putNum("destination.port", first(data("DestinationPort"), data("DestPort")))
	put("file.path", data("TargetFilename"))
	put("registry.path", data("TargetObject"))
	put("dns.question.name", data("QueryName"))

	switch {
	case id == "4624" || id == "4625" || id == "4648" || id == "4776" || id == "4771":
		ev.Set("event.category", vAuthentication)
		if id == "4625" || id == "4771" {
			put("event.outcome", "failure")
		} else if id == "4624" || id == "4648" {
			put("event.outcome", "success")
		}
	case id == "4688" || (id == "1" && strings.Contains(strings.ToLower(channel), "sysmon")):
		ev.Set("event.category", vProcess)
	}
	return nil
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
