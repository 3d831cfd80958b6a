package live

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/collectors"
)

func TestDecodeEntry(t *testing.T) {
	var reg collectors.Registry
	reg.Register(Type)
	var doc yaml.Node
	src := `
- name: span0
  type: pcap
  interface: eth1
  bpf: "tcp or udp"
  tcpdump: /usr/bin/tcpdump
  snaplen: 65535
  promiscuous: false
  block_size: 2097152
  num_blocks: 32
  tenant: so-tttt
  batch_size: 256
  batch_wait: 500ms
  queue: 8
  tcp_timeout: 2m
  udp_timeout: 30s
  max_flows: 100000
  max_reassembly_bytes: 16777216
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	entries, err := collectors.DecodeEntries(&reg, doc.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	s := entries[0].Spec.(*Spec)
	want := Spec{Interface: "eth1", BPF: "tcp or udp", Tcpdump: "/usr/bin/tcpdump", Snaplen: 65535,
		BlockSize: 2 << 20, NumBlocks: 32, Tenant: "so-tttt", BatchSize: 256, BatchWait: 500 * time.Millisecond,
		Queue: 8, TCPTimeout: 2 * time.Minute, UDPTimeout: 30 * time.Second, MaxFlows: 100000, MaxReassemblyBytes: 16 << 20}
	got := *s
	if got.promiscuous() {
		t.Error("promiscuous: false not applied")
	}
	got.Promiscuous = nil
	if got != want {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

func TestDefaultsArePromiscuous(t *testing.T) {
	if !NewSpec().promiscuous() {
		t.Error("default is not promiscuous")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
		want []string // substrings of the error; none: valid
	}{
		{"valid", func(*Spec) {}, nil},
		{"missing interface and tenant", func(s *Spec) { s.Interface, s.Tenant = "", "" }, []string{"interface: required", "tenant: required"}},
		{"bad interface name", func(s *Spec) { s.Interface = "eth0; rm -rf /" }, []string{"interface: "}},
		{"interface too long", func(s *Spec) { s.Interface = "abcdefghijklmnop" }, []string{"interface: "}},
		{"snaplen too small", func(s *Spec) { s.Snaplen = 10 }, []string{"snaplen: "}},
		{"snaplen too large", func(s *Spec) { s.Snaplen = 1 << 20 }, []string{"snaplen: "}},
		{"block not a power of two", func(s *Spec) { s.BlockSize = 3 << 20 }, []string{"block_size: must be a power of two"}},
		{"block smaller than snaplen", func(s *Spec) { s.BlockSize = 1 << 16 }, []string{"block_size: must exceed snaplen"}},
		{"ring too large", func(s *Spec) { s.BlockSize, s.NumBlocks = 64<<20, 100 }, []string{"num_blocks: ring of"}},
		{"no blocks", func(s *Spec) { s.NumBlocks = 0 }, []string{"num_blocks: must be > 0"}},
		{"batching", func(s *Spec) { s.BatchSize, s.BatchWait, s.Queue = 0, 0, 0 },
			[]string{"batch_size: ", "batch_wait: ", "queue: "}},
		{"negative limits", func(s *Spec) { s.TCPTimeout, s.UDPTimeout, s.MaxFlows, s.MaxReassemblyBytes = -1, -1, -1, -1 },
			[]string{"tcp_timeout: ", "udp_timeout: ", "max_flows: ", "max_reassembly_bytes: "}},
		{"bpf without tcpdump", func(s *Spec) { s.BPF, s.Tcpdump = "tcp", "" }, []string{"tcpdump: required"}},
		{"bpf too long", func(s *Spec) { s.BPF = strings.Repeat("tcp or ", 1000) + "udp" }, []string{"bpf: longer than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSpec()
			s.Interface, s.Tenant = "eth0", "t1"
			tt.edit(s)
			err := s.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %+v", s)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
