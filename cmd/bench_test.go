package cmd

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBenchRulesAndEventsFile runs mangrove bench on the memory bus with a
// rule directory and a file of events: every copy of the matching event
// alerts, and a file that does not decode is an error naming the line.
func TestBenchRulesAndEventsFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules/whoami.yml": whoamiRule,
		"events.ndjson": `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami /all","Computer":"ws-1"}` + "\n\n" +
			`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c dir","Computer":"ws-1"}` + "\n" +
			`{"EventID":3,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\svchost.exe","Computer":"ws-2"}` + "\n",
		"bad.ndjson": `{"EventID":1}` + "\n" + `{"EventID":` + "\n",
	})
	code, out, errOut := runMain(t, "bench", "--bus", "memory", "--no-event-store", "--events", "300", "--batch", "50",
		"--rules", filepath.Join(dir, "rules"), "--events-file", filepath.Join(dir, "events.ndjson"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The built-in rules and whoami.yml.
	if !regexp.MustCompile(`rules: \d+ loaded from \d+ files, 0 files failed`).MatchString(errOut) {
		t.Errorf("stderr does not report the rules loaded:\n%s", errOut)
	}
	for _, want := range []string{`detected \(alerts stored\) +300 events`, "alerts: 100\n"} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut = runMain(t, "bench", "--bus", "memory", "--no-event-store", "--events", "10", "--events-file", filepath.Join(dir, "bad.ndjson"))
	if code == 0 || !strings.Contains(errOut, "bad.ndjson: event 2:") {
		t.Errorf("undecodable file: exit %d, stderr %q", code, errOut)
	}
}
