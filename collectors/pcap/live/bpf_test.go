package live

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestParseProgram(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    []insn
		wantErr string
	}{
		{"one", "1\n6 0 0 262144\n", []insn{{Code: 6, K: 262144}}, ""},
		{"jumps and blank lines", "2\n21 0 1 2048\n\n6 0 0 65535\n", []insn{{Code: 21, Jf: 1, K: 2048}, {Code: 6, K: 65535}}, ""},
		{"empty", "", nil, "empty program"},
		{"bad count", "x\n", nil, "instruction count"},
		{"zero count", "0\n", nil, "0 instructions"},
		{"count too large", "4097\n", nil, "4097 instructions"},
		{"fewer than announced", "2\n6 0 0 1\n", nil, "header says 2"},
		{"more than announced", "1\n6 0 0 1\n6 0 0 1\n", nil, "more than 1"},
		{"three fields", "1\n6 0 0\n", nil, "want 4 fields"},
		{"jt overflow", "1\n6 256 0 1\n", nil, "line 2"},
		{"code overflow", "1\n65536 0 0 1\n", nil, "line 2"},
		{"negative k", "1\n6 0 0 -1\n", nil, "line 2"},
		{"long line", "1\n" + strings.Repeat("6", 300) + "\n", nil, "token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProgram([]byte(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileBPF(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not on PATH (apt package tcpdump)")
	}
	prog, err := compileBPF(t.Context(), "tcpdump", "EN10MB", 1500, "tcp or udp")
	if err != nil {
		t.Fatal(err)
	}
	// The accepting return carries the snap length.
	found := false
	for _, in := range prog {
		found = found || (in.Code == opRetK && in.K == 1500)
	}
	if !found {
		t.Errorf("no ret #1500 in %v", prog)
	}
	if _, err := compileBPF(t.Context(), "tcpdump", "EN10MB", 1500, "tcp and and"); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("bad expression: err = %v, want tcpdump's syntax error", err)
	}
	// An expression is never taken for an option.
	if _, err := compileBPF(t.Context(), "tcpdump", "EN10MB", 1500, "-w /tmp/x"); err == nil {
		t.Error("an option-like expression compiled")
	}
	if _, err := compileBPF(t.Context(), "/nonexistent/tcpdump", "EN10MB", 1500, "tcp"); err == nil {
		t.Error("a missing tcpdump compiled")
	}
}

func FuzzParseProgram(f *testing.F) {
	f.Add([]byte("1\n6 0 0 262144\n"))
	f.Add([]byte("4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n"))
	f.Add([]byte("2\n6 0 0 1\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		prog, err := parseProgram(text)
		if err == nil && (len(prog) < 1 || len(prog) > maxInsns) {
			t.Fatalf("accepted %d instructions", len(prog))
		}
	})
}
