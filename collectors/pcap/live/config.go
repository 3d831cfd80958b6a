package live

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/mangrove-soc/mangrove/collectors"
)

// Defaults of a Spec.
const (
	DefaultSnaplen      = 262144
	DefaultBlockSize    = 1 << 20
	DefaultNumBlocks    = 64
	DefaultBatchSize    = 512
	DefaultBatchWait    = time.Second
	DefaultQueue        = 16
	DefaultTcpdump      = "tcpdump"
	minSnaplen          = 64
	maxSnaplen          = 262144
	pageSize            = 4096
	maxBlockSize        = 64 << 20
	maxRingBytes        = 4 << 30
	maxBPFExpression    = 4096
	blockRetireInterval = 100 * time.Millisecond
)

// Type is the collector type registered as `type: pcap`.
var Type = collectors.Type{Name: "pcap", New: func() collectors.Spec { return NewSpec() }}

// Spec is the configuration of one live capture.
type Spec struct {
	// Interface is the network interface to read (required), e.g. the
	// one a SPAN port or TAP is plugged into.
	Interface string `yaml:"interface"`
	// BPF is a tcpdump filter expression ("tcp or udp"); empty captures
	// everything. It is compiled at start-up by running Tcpdump with
	// -ddd, and the kernel runs the program on every packet.
	BPF string `yaml:"bpf"`
	// Tcpdump is the tcpdump binary used to compile BPF (default
	// "tcpdump", looked up in PATH); unused when BPF is empty.
	Tcpdump string `yaml:"tcpdump"`
	// Snaplen is how many bytes of each frame are kept (default and
	// maximum 262,144; minimum 64). The kernel cuts longer frames.
	Snaplen int `yaml:"snaplen"`
	// Promiscuous puts the interface in promiscuous mode while the
	// collector runs (default true: a mirror port's traffic is not
	// addressed to the host).
	Promiscuous *bool `yaml:"promiscuous"`
	// BlockSize and NumBlocks size the TPACKET_V3 ring shared with the
	// kernel: NumBlocks blocks of BlockSize bytes (default 64 × 1 MiB).
	// BlockSize is a power of two, a multiple of 4 KiB, larger than
	// Snaplen, at most 64 MiB; the ring at most 4 GiB. When the ring is
	// full the kernel drops packets (counted as kernel drops).
	BlockSize int `yaml:"block_size"`
	NumBlocks int `yaml:"num_blocks"`
	// Tenant is stamped on every event (required).
	Tenant string `yaml:"tenant"`
	// BatchSize and BatchWait bound a batch: it is published when it holds
	// BatchSize events or its first event waited BatchWait.
	BatchSize int           `yaml:"batch_size"`
	BatchWait time.Duration `yaml:"batch_wait"`
	// Queue bounds the batches waiting to be published. A capture cannot
	// slow the network down: when the queue is full the newest batch is
	// dropped and its events counted (reason "queue_full").
	Queue int `yaml:"queue"`
	// Flow and stream limits of the decoder (collectors/pcap Options);
	// zero takes its default.
	TCPTimeout         time.Duration `yaml:"tcp_timeout"`
	UDPTimeout         time.Duration `yaml:"udp_timeout"`
	MaxFlows           int           `yaml:"max_flows"`
	MaxReassemblyBytes int           `yaml:"max_reassembly_bytes"`
}

// NewSpec returns a Spec with its defaults.
func NewSpec() *Spec {
	promisc := true
	return &Spec{
		Tcpdump:     DefaultTcpdump,
		Snaplen:     DefaultSnaplen,
		Promiscuous: &promisc,
		BlockSize:   DefaultBlockSize,
		NumBlocks:   DefaultNumBlocks,
		BatchSize:   DefaultBatchSize,
		BatchWait:   DefaultBatchWait,
		Queue:       DefaultQueue,
	}
}

// ifaceName is what Linux accepts as an interface name (IFNAMSIZ 16).
var ifaceName = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

// Validate reports every problem of the spec at once.
func (s *Spec) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch {
	case s.Interface == "":
		bad("interface", "required")
	case !ifaceName.MatchString(s.Interface):
		bad("interface", "%q is not an interface name", s.Interface)
	}
	if s.Tenant == "" {
		bad("tenant", "required")
	}
	if len(s.BPF) > maxBPFExpression {
		bad("bpf", "longer than %d bytes", maxBPFExpression)
	}
	if s.BPF != "" && s.Tcpdump == "" {
		bad("tcpdump", "required to compile bpf")
	}
	if s.Snaplen < minSnaplen || s.Snaplen > maxSnaplen {
		bad("snaplen", "must be between %d and %d", minSnaplen, maxSnaplen)
	}
	switch {
	case s.BlockSize < pageSize || s.BlockSize > maxBlockSize || s.BlockSize&(s.BlockSize-1) != 0:
		bad("block_size", "must be a power of two between %d and %d", pageSize, maxBlockSize)
	case s.BlockSize <= s.Snaplen+pageSize:
		bad("block_size", "must exceed snaplen + %d (%d)", pageSize, s.Snaplen+pageSize)
	}
	switch {
	case s.NumBlocks < 1:
		bad("num_blocks", "must be > 0")
	case s.BlockSize > 0 && int64(s.NumBlocks)*int64(s.BlockSize) > maxRingBytes:
		bad("num_blocks", "ring of %d bytes exceeds %d", int64(s.NumBlocks)*int64(s.BlockSize), int64(maxRingBytes))
	}
	if s.BatchSize < 1 {
		bad("batch_size", "must be > 0")
	}
	if s.BatchWait <= 0 {
		bad("batch_wait", "must be > 0")
	}
	if s.Queue < 1 {
		bad("queue", "must be > 0")
	}
	if s.TCPTimeout < 0 {
		bad("tcp_timeout", "must be >= 0")
	}
	if s.UDPTimeout < 0 {
		bad("udp_timeout", "must be >= 0")
	}
	if s.MaxFlows < 0 {
		bad("max_flows", "must be >= 0")
	}
	if s.MaxReassemblyBytes < 0 {
		bad("max_reassembly_bytes", "must be >= 0")
	}
	return errors.Join(errs...)
}

func (s *Spec) promiscuous() bool { return s.Promiscuous == nil || *s.Promiscuous }
