//go:build linux

package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestLiveCaptureMatchesOfflineDecode replays captures with tcpreplay into
// one end of a veth pair, whose other end is captured through the AF_PACKET
// ring, and checks that the events equal the offline decode of the same
// files. The sending end lives in a network namespace of its own; the
// capturing end, in the test's namespace, has IPv6 disabled so that the
// kernel adds no traffic of its own. It needs root, iproute2, tcpreplay and
// tcpdump (for the BPF filter), and MANGROVE_TEST_LIVE_CAPTURE=1 since it
// creates interfaces.
func TestLiveCaptureMatchesOfflineDecode(t *testing.T) {
	requireLive(t)
	// tcpreplay sends only the bytes a file captured: replay and decode
	// copies whose frames are whole (original length = captured length).
	files := wholeFrames(t, replayPaths(t))
	want := summary(offline(t, "t1", files))
	requireDatasets(t, want)

	ns, send, capture := vethPair(t)

	s := testSpec(capture)
	s.BPF = "ip or ip6"
	c := buildCollector(t, s)
	opened := make(chan struct{})
	open := c.open
	c.open = func(ctx context.Context) (packetSource, error) {
		src, err := open(ctx)
		close(opened)
		return src, err
	}
	var p sink
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, &p) }()
	select {
	case <-opened:
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	}
	command(t, append([]string{"ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", send, "--topspeed"}, files...)...)
	// Let the ring's block retire (100 ms) and the reader catch up.
	time.Sleep(500 * time.Millisecond)
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := diff(want, summary(p.got())); len(d) > 0 {
		t.Fatalf("live events differ from the offline decode:\n%s", strings.Join(d, "\n"))
	}
	if n := testutil.ToFloat64(c.m.dropped.WithLabelValues(reasonKernel)); n != 0 {
		t.Errorf("kernel dropped %v packets", n)
	}
	t.Logf("%d events, %v packets captured", len(p.got()), testutil.ToFloat64(c.m.shared.In))
}

// wholeFrames copies the pcap files into t.TempDir() with each record's
// original length set to its captured length.
func wholeFrames(t testing.TB, files []string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(in)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		dst := filepath.Join(t.TempDir(), filepath.Base(f))
		o, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		w := pcapgo.NewWriter(o)
		if err := w.WriteFileHeader(uint32(r.Snaplen()), r.LinkType()); err != nil {
			t.Fatal(err)
		}
		for {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			ci.Length = len(data)
			if err := w.WritePacket(ci, data); err != nil {
				t.Fatal(err)
			}
		}
		in.Close()
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		out = append(out, dst)
	}
	return out
}

// requireLive skips unless live capture tests may run here.
func requireLive(t testing.TB) {
	t.Helper()
	if os.Getenv("MANGROVE_TEST_LIVE_CAPTURE") != "1" {
		t.Skip("set MANGROVE_TEST_LIVE_CAPTURE=1 to create a veth pair and capture on it (needs root, iproute2, tcpreplay, tcpdump)")
	}
	if os.Geteuid() != 0 {
		t.Skip("live capture test needs root (creates a veth pair, opens AF_PACKET)")
	}
	for _, tool := range []string{"ip", "tcpreplay", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("live capture test needs %s on PATH (apt packages iproute2, tcpreplay, tcpdump)", tool)
		}
	}
}

// pairs numbers the veth pairs of this process.
var pairs atomic.Int32

// vethPair creates a veth pair, the sending end in a network namespace of
// its own, both up with IPv6 off; they are removed at the end of the test.
func vethPair(t testing.TB) (ns, send, capture string) {
	t.Helper()
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, pairs.Add(1)%100)
	ns, send, capture = "mgvns"+id, "mgvA"+id, "mgvB"+id
	command(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	command(t, "ip", "link", "add", capture, "type", "veth", "peer", "name", send, "netns", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", capture).Run() })
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+capture+"/disable_ipv6", []byte("1"), 0o644); err != nil {
		t.Fatalf("disabling IPv6 on %s: %v", capture, err)
	}
	command(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf."+send+".disable_ipv6=1")
	command(t, "ip", "link", "set", capture, "up")
	command(t, "ip", "netns", "exec", ns, "ip", "link", "set", send, "up")
	return ns, send, capture
}

// command runs a command, failing the test with its output.
func command(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// countingSource counts the packets a source hands out.
type countingSource struct {
	packetSource
	n atomic.Int64
}

func (c *countingSource) Read(timeout time.Duration, fn func([]byte, gopacket.CaptureInfo)) (int, error) {
	return c.packetSource.Read(timeout, func(d []byte, ci gopacket.CaptureInfo) {
		c.n.Add(1)
		fn(d, ci)
	})
}

// BenchmarkLiveRing measures the whole live path through the kernel:
// tcpreplay --topspeed sends the replay files b.N times into a veth pair
// and the collector captures the other end. It reports the packets/s the
// collector read (from the first packet sent to the last read) and the
// kernel's drops; run it with -benchtime 2000x or so. Gated as the live
// test is.
func BenchmarkLiveRing(b *testing.B) {
	requireLive(b)
	files := wholeFrames(b, replayPaths(b))
	ns, send, capture := vethPair(b)
	c := buildCollector(b, testSpec(capture))
	c.spec.BatchSize, c.spec.Queue, c.spec.NumBlocks = DefaultBatchSize, 1<<16, DefaultNumBlocks
	var src *countingSource
	opened := make(chan struct{})
	open := c.open
	c.open = func(ctx context.Context) (packetSource, error) {
		s, err := open(ctx)
		if err == nil {
			src = &countingSource{packetSource: s}
		}
		close(opened)
		return src, err
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, discard{}) }()
	<-opened
	if src == nil {
		b.Fatal(<-errc)
	}
	perLoop := len(offlinePackets(b, files))
	b.ResetTimer()
	start := time.Now()
	command(b, append([]string{"ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", send, "--topspeed", fmt.Sprintf("--loop=%d", b.N)}, files...)...)
	sent := int64(perLoop * b.N)
	deadline := time.Now().Add(30 * time.Second)
	// Kernel drops are exported once a second by Run.
	for time.Now().Before(deadline) {
		if float64(src.n.Load())+testutil.ToFloat64(c.m.dropped.WithLabelValues(reasonKernel)) >= float64(sent) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	read := src.n.Load()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(read)/elapsed.Seconds(), "packets/s")
	b.ReportMetric(testutil.ToFloat64(c.m.dropped.WithLabelValues(reasonKernel)), "kernel-drops")
	b.ReportMetric(float64(sent-read), "lost")
}

// offlinePackets returns every frame of the files.
func offlinePackets(b *testing.B, files []string) [][]byte {
	return newFileSource(b, files, 1).frames
}

// TestLiveCaptureLinkDownAndRemoved checks that the capture waits while
// its interface is down, captures again once it is up, and fails when the
// interface is removed.
func TestLiveCaptureLinkDownAndRemoved(t *testing.T) {
	requireLive(t)
	files := wholeFrames(t, replayPaths(t)[:1])
	ns, send, capture := vethPair(t)
	c := buildCollector(t, testSpec(capture))
	opened := make(chan struct{})
	open := c.open
	var src *countingSource
	c.open = func(ctx context.Context) (packetSource, error) {
		s, err := open(ctx)
		if err == nil {
			src = &countingSource{packetSource: s}
		}
		close(opened)
		return src, err
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Run(t.Context(), &sink{}) }()
	<-opened
	if src == nil {
		t.Fatal(<-errc)
	}
	command(t, "ip", "link", "set", capture, "down")
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("Run ended with the link down: %v", err)
	default:
	}
	command(t, "ip", "link", "set", capture, "up")
	command(t, "ip", "netns", "exec", ns, "ip", "link", "set", send, "up")
	// The peer comes up a little after; retry the replay until it is read.
	for i := 0; src.n.Load() == 0 && i < 50; i++ {
		_ = exec.Command("ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", send, files[0]).Run()
		time.Sleep(100 * time.Millisecond)
	}
	if src.n.Load() == 0 {
		t.Fatal("nothing captured after the link came back up")
	}
	command(t, "ip", "link", "del", capture)
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "removed") {
			t.Fatalf("Run = %v, want the interface reported removed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running after its interface was removed")
	}
}
