package syslog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
)

// fakePublisher stores every published event and acknowledges at once.
type fakePublisher struct {
	mu     sync.Mutex
	events []event.Event
}

func (f *fakePublisher) Publish(_ context.Context, b *event.Batch) error {
	f.mu.Lock()
	f.events = append(f.events, b.Events...)
	f.mu.Unlock()
	b.Done(nil)
	return nil
}

func (f *fakePublisher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

func (f *fakePublisher) snapshot() []event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event.Event(nil), f.events...)
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startCollector runs spec with p and returns the bound address; opts
// adjust the collector (test hooks) before it runs.
func startCollector(t *testing.T, spec *Spec, p collectors.Publisher, opts ...func(*Collector)) (net.Addr, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := spec.build("test", collectors.Env{Logger: zerolog.Nop(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	addrc := make(chan net.Addr, 1)
	c.onListen = func(a net.Addr) { addrc <- a }
	for _, o := range opts {
		o(c)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, p) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case a := <-addrc:
		return a, reg
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return nil, nil
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				sum += m.Counter.GetValue()
			}
			if m.Gauge != nil {
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func TestTCPFramings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		want   []string
	}{
		{"octet", "19 <13>1 - - - - - - a25 <13>1 - - - - - - b\nline2", []string{"a", "b\nline2"}},
		{"octet_lf_between", "19 <13>1 - - - - - - a\n19 <13>1 - - - - - - b\n", []string{"a", "b"}},
		{"newline", "<13>1 - - - - - - a\n<13>Nov  5 01:02:03 h t: b\r\n\n<13>1 - - - - - - c", []string{"a", "b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := NewSpec()
			spec.Listen = "tcp://127.0.0.1:0"
			spec.Tenant = "t1"
			var p fakePublisher
			addr, reg := startCollector(t, spec, &p)
			conn, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			conn.Write([]byte(tc.stream))
			conn.Close()
			waitFor(t, 5*time.Second, "events", func() bool { return p.count() >= len(tc.want) })
			evs := p.snapshot()
			if len(evs) != len(tc.want) {
				t.Fatalf("%d events, want %d", len(evs), len(tc.want))
			}
			for i, ev := range evs {
				if ev.Message() != tc.want[i] || ev.Tenant != "t1" || ev.GetString("source.ip") != "127.0.0.1" {
					t.Errorf("event %d: message %q tenant %q source %q", i, ev.Message(), ev.Tenant, ev.GetString("source.ip"))
				}
			}
			if got := counterValue(t, reg, "mangrove_syslog_messages_total", nil); got != float64(len(tc.want)) {
				t.Errorf("messages_total = %v", got)
			}
		})
	}
}

func TestOversizeAndRefused(t *testing.T) {
	spec := NewSpec()
	spec.Listen = "tcp://127.0.0.1:0"
	spec.MaxMessageSize = 500
	spec.Sources = []Source{{Name: "lo", Tenant: "t1", CIDRs: []string{"127.0.0.0/8"}}}
	var p fakePublisher
	addr, reg := startCollector(t, spec, &p)
	big := "<13>1 - - - - - " + strings.Repeat("x", 600)
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "%d %s19 <13>1 - - - - - - a", len(big), big)
	conn.Close()
	waitFor(t, 5*time.Second, "event", func() bool { return p.count() == 1 })
	if got := counterValue(t, reg, "mangrove_syslog_dropped_total", map[string]string{"reason": "oversize", "source": "lo"}); got != 1 {
		t.Errorf("oversize drops = %v, want 1", got)
	}

	// A listener without a default tenant refuses senders no source matches.
	spec2 := NewSpec()
	spec2.Listen = "tcp://127.0.0.1:0"
	spec2.Sources = []Source{{Tenant: "t1", CIDRs: []string{"10.0.0.0/8"}}}
	var p2 fakePublisher
	addr2, reg2 := startCollector(t, spec2, &p2)
	conn2, err := net.Dial("tcp", addr2.String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn2, "19 <13>1 - - - - - - a")
	conn2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn2.Read(make([]byte, 1)); err == nil {
		t.Error("refused connection was not closed")
	}
	conn2.Close()
	waitFor(t, 5*time.Second, "refused drop", func() bool {
		return counterValue(t, reg2, "mangrove_syslog_dropped_total", map[string]string{"reason": "refused"}) == 1
	})
	if p2.count() != 0 {
		t.Errorf("refused sender's events published")
	}
}

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate with CN "agency-a" into dir.
type testPKI struct{ caFile, certFile, keyFile, clientCert, clientKey string }

func newTestPKI(t *testing.T, dir string) testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, serial int64, usage x509.ExtKeyUsage, certPath, keyPath string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		writePEM(t, certPath, "CERTIFICATE", der)
		writePEM(t, keyPath, "EC PRIVATE KEY", kb)
	}
	p := testPKI{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "server.pem"), keyFile: filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client.key")}
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	issue("127.0.0.1", 2, x509.ExtKeyUsageServerAuth, p.certFile, p.keyFile)
	issue("agency-a", 3, x509.ExtKeyUsageClientAuth, p.clientCert, p.clientKey)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLSClientCertTenant(t *testing.T) {
	pki := newTestPKI(t, t.TempDir())
	spec := NewSpec()
	spec.Listen = "tls://127.0.0.1:0"
	spec.CertFile, spec.KeyFile, spec.ClientCAFile = pki.certFile, pki.keyFile, pki.caFile
	spec.Sources = []Source{{Name: "a", Tenant: "agency-a", CNs: []string{"agency-a"}}}
	var p fakePublisher
	addr, _ := startCollector(t, spec, &p)
	cert, err := tls.LoadX509KeyPair(pki.clientCert, pki.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(pki.caFile)
	pool.AppendCertsFromPEM(caPEM)
	conn, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "19 <13>1 - - - - - - a")
	conn.Close()
	waitFor(t, 5*time.Second, "event", func() bool { return p.count() == 1 })
	if ev := p.snapshot()[0]; ev.Tenant != "agency-a" {
		t.Errorf("tenant %q, want agency-a", ev.Tenant)
	}
	// Without a client certificate the handshake fails.
	c2, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: pool})
	if err == nil {
		c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c2.Read(make([]byte, 1))
		c2.Close()
	}
	if err == nil {
		t.Error("connection without client certificate accepted")
	}
}

// blockingPublisher accepts batches but acknowledges them only when told.
type blockingPublisher struct {
	mu      sync.Mutex
	pending []*event.Batch
	events  int
}

func (b *blockingPublisher) Publish(_ context.Context, batch *event.Batch) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, batch)
	b.events += len(batch.Events)
	return nil
}

func (b *blockingPublisher) state() (batches, events int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending), b.events
}

// TestBackpressureWindow checks that a connection stops being read while
// batches await acknowledgement: at most InFlight published batches and one
// batch being filled are read beyond what was acknowledged.
func TestBackpressureWindow(t *testing.T) {
	for _, inFlight := range []int{1, 3} {
		t.Run(fmt.Sprint("in_flight=", inFlight), func(t *testing.T) { testBackpressureWindow(t, inFlight) })
	}
}

func testBackpressureWindow(t *testing.T, inFlight int) {
	spec := NewSpec()
	spec.Listen = "tcp://127.0.0.1:0"
	spec.Tenant = "t"
	spec.BatchSize = 10
	spec.InFlight = inFlight
	var p blockingPublisher
	addr, reg := startCollector(t, spec, &p)
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		for i := range 100 {
			fmt.Fprintf(conn, "<13>1 - - - - - - m%d\n", i)
		}
	}()
	waitFor(t, 5*time.Second, "first batches", func() bool { n, _ := p.state(); return n == inFlight })
	time.Sleep(200 * time.Millisecond)
	if n, evs := p.state(); n != inFlight || evs != 10*inFlight {
		t.Fatalf("%d batches / %d events published while %d await their ack", n, evs, inFlight)
	}
	window := float64(10 * (inFlight + 1))
	if got := counterValue(t, reg, "mangrove_syslog_messages_total", nil); got > window {
		t.Errorf("%v messages read beyond the window of %v", got, window)
	}
	for i := 0; i < 10; i++ {
		p.mu.Lock()
		for _, b := range p.pending {
			b.Done(nil)
		}
		p.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "all events", func() bool {
		p.mu.Lock()
		for _, b := range p.pending {
			b.Done(nil)
		}
		p.mu.Unlock()
		_, evs := p.state()
		return evs == 100
	})
}

// TestUDPDropsWhenFull checks that a UDP listener whose bus is full drops
// the newest datagrams and counts them for their source.
func TestUDPDropsWhenFull(t *testing.T) {
	spec := NewSpec()
	spec.Listen = "udp://127.0.0.1:0"
	spec.Sources = []Source{{Name: "lo", Tenant: "t", CIDRs: []string{"127.0.0.1/32"}}}
	spec.BatchSize = 1
	spec.UDPQueue = 2
	var p blockingPublisher
	addr, reg := startCollector(t, spec, &p)
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 50 {
		fmt.Fprintf(conn, "<13>1 - - - - - - m%d", i)
		time.Sleep(time.Millisecond)
	}
	waitFor(t, 5*time.Second, "drops", func() bool {
		return counterValue(t, reg, "mangrove_syslog_dropped_total", map[string]string{"source": "lo", "reason": "queue_full"}) > 0
	})
	// Unblock the bus so that the collector can stop.
	go func() {
		for range 200 {
			p.mu.Lock()
			for _, b := range p.pending {
				b.Done(nil)
			}
			p.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
}
