package parse

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s line %d:\n got %s\nwant %s", p, i+1, g, w)
			}
		}
	}
}

func lines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".input"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func msgEvent(line string) *event.Event {
	return &event.Event{Fields: []event.Field{{Name: "message", Value: event.StringValue(line)}}}
}

// render is one golden line: the event as JSON, or the error.
func render(ev *event.Event, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return string(event.AppendJSON(nil, ev))
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"openssh", "sudo", "su", "auditd", "access", "nginx", "apache", "iptables", "cef", "leef", "json"} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			for _, l := range lines(t, name) {
				ev := msgEvent(l)
				out.WriteString(render(ev, Parse(name, ev)))
				out.WriteByte('\n')
			}
			golden(t, name, out.Bytes())
		})
	}
}

// TestGoldenWindows feeds the Windows shapes as structured events (as the
// HTTP and bulk inputs deliver them).
func TestGoldenWindows(t *testing.T) {
	var out bytes.Buffer
	var d event.Decoder
	for _, l := range lines(t, "windows") {
		var ev event.Event
		if err := d.Decode([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		out.WriteString(render(&ev, Parse("windows", &ev)))
		out.WriteByte('\n')
	}
	golden(t, "windows", out.Bytes())
}

// TestDetect runs every input line through auto-detection: each line of a
// format's file is detected as that format or left alone (the malformed
// ones), and the auto output is in auto.golden.
func TestDetect(t *testing.T) {
	want := map[string][]string{
		"openssh": {"openssh", ""}, "sudo": {"sudo", ""}, "su": {"su", ""}, "auditd": {"auditd", ""},
		"access": {"access", ""}, "nginx": {"nginx", "access"}, "apache": {"apache", "access"},
		"iptables": {"iptables", ""}, "cef": {"cef"}, "leef": {"leef"}, "json": {"json", ""}, "windows": {"json"},
	}
	var out bytes.Buffer
	for _, name := range []string{"openssh", "sudo", "su", "auditd", "access", "nginx", "apache", "iptables", "cef", "leef", "json", "windows"} {
		for i, l := range lines(t, name) {
			ev := msgEvent(l)
			got := Detect(ev)
			ok := false
			for _, w := range want[name] {
				ok = ok || got == w
			}
			if !ok {
				t.Errorf("%s line %d: detected %q, want one of %q", name, i+1, got, want[name])
			}
			err := Parse(Auto, ev)
			out.WriteString(name + "\t" + got + "\t" + render(ev, err) + "\n")
		}
	}
	golden(t, "auto", out.Bytes())
}

// TestWindowsShapesAgree checks that one event in the three shapes yields
// the same ECS subset, and that the original fields stay.
func TestWindowsShapesAgree(t *testing.T) {
	shapes := map[string]string{
		"evtx":       `{"Event":{"System":{"EventID":4688,"Channel":"Security","Computer":"WS02"},"EventData":{"NewProcessName":"C:\\w.exe","CommandLine":"w /all","NewProcessId":"0x10","SubjectUserName":"bob","IpAddress":"-"}}}`,
		"nxlog":      `{"EventID":4688,"Channel":"Security","Hostname":"WS02","NewProcessName":"C:\\w.exe","CommandLine":"w /all","NewProcessId":"0x10","SubjectUserName":"bob","IpAddress":"-"}`,
		"winlogbeat": `{"winlog":{"event_id":4688,"channel":"Security","computer_name":"WS02","event_data":{"NewProcessName":"C:\\w.exe","CommandLine":"w /all","NewProcessId":"0x10","SubjectUserName":"bob","IpAddress":"-"}}}`,
	}
	ecs := []string{"event.code", "winlog.channel", "host.name", "process.executable", "process.name", "process.command_line", "process.pid", "user.name", "event.category"}
	var ref map[string]string
	for name, js := range shapes {
		ev := msgEvent(js)
		if err := Parse(Auto, ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]string{}
		for _, k := range ecs {
			got[k] = ev.GetString(k)
			if got[k] == "" {
				t.Errorf("%s: %s missing", name, k)
			}
		}
		if _, ok := ev.Get("source.ip"); ok {
			t.Errorf("%s: source.ip set from \"-\"", name)
		}
		orig := map[string]string{"evtx": "Event.EventData.CommandLine", "nxlog": "CommandLine", "winlogbeat": "winlog.event_data.CommandLine"}[name]
		if ev.GetString(orig) != "w /all" {
			t.Errorf("%s: original field %s lost", name, orig)
		}
		if ref == nil {
			ref = got
			continue
		}
		for _, k := range ecs {
			if got[k] != ref[k] {
				t.Errorf("%s: %s = %q, another shape gave %q", name, k, got[k], ref[k])
			}
		}
	}
}

func TestLimitsAndErrors(t *testing.T) {
	ev := msgEvent("Failed password for root from 10.0.0.1 port 22 ssh2" + strings.Repeat(" x", MaxMessage))
	if err := Parse("openssh", ev); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized message: %v, want ErrTooLarge", err)
	}
	if got := Detect(ev); got != "" {
		t.Fatalf("oversized message detected as %q", got)
	}
	if err := Parse("nope", msgEvent("x")); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown parser: %v", err)
	}
	if err := Parse("openssh", msgEvent("hello")); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("no match: %v", err)
	}
	ev = msgEvent("just some text")
	if err := Parse(Auto, ev); err != nil || len(ev.Fields) != 1 {
		t.Fatalf("auto on unknown text: err %v, fields %v", err, ev.Fields)
	}
	for _, n := range Names() {
		if !Known(n) {
			t.Fatalf("Names has %q but Known does not", n)
		}
	}
	if !Known("") || !Known(Auto) || Known("nope") {
		t.Fatal("Known is wrong for the special names")
	}
	// Many pairs: bounded, no error.
	ev = msgEvent("CEF:0|a|b|c|d|e|1|" + strings.Repeat("k=v ", 10000))
	if err := Parse("cef", ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Fields) > maxPairs+20 {
		t.Fatalf("%d fields from one CEF line, want ≤ %d", len(ev.Fields), maxPairs+20)
	}
}
