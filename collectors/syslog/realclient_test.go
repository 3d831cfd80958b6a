package syslog

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLoggerUDP sends messages with util-linux logger over UDP at a modest
// rate; all arrive, parsed.
func TestLoggerUDP(t *testing.T) {
	logger, err := exec.LookPath("logger")
	if err != nil {
		t.Skip("logger (util-linux/bsdutils) not on PATH; install bsdutils to run this test")
	}
	spec := NewSpec()
	spec.Listen = "udp://127.0.0.1:0"
	spec.Tenant = "t"
	var p fakePublisher
	addr, reg := startCollector(t, spec, &p)
	port := strconv.Itoa(addr.(*net.UDPAddr).Port)
	const n = 500
	// logger sends a line as soon as it reads it: pace the lines (about
	// 2,000/s) so that the kernel's socket buffer, not under test, never
	// overflows on a loaded machine.
	cmd := exec.Command(logger, "-d", "-n", "127.0.0.1", "-P", port, "--rfc5424", "-t", "app", "-p", "auth.notice")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		fmt.Fprintf(stdin, "udp message %d\n", i)
		if i%10 == 9 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("logger: %v\n%s", err, out.String())
	}
	waitFor(t, 10*time.Second, "all UDP messages", func() bool {
		if d := counterValue(t, reg, "mangrove_syslog_dropped_total", nil); d > 0 {
			t.Fatalf("%v UDP messages dropped", d)
		}
		return p.count() >= n
	})
	seen := map[string]bool{}
	for _, ev := range p.snapshot() {
		if ev.GetString("process.name") != "app" || ev.GetString("log.syslog.facility.name") != "auth" {
			t.Fatalf("badly parsed: %v", ev.Fields)
		}
		seen[ev.Message()] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages, want %d", len(seen), n)
	}
}

// TestRsyslogForward starts rsyslogd with its own configuration: it reads
// 100,000 lines from the test over imtcp and forwards them as RFC 5424 with
// octet counting to our TCP listener; all arrive, parsed.
func TestRsyslogForward(t *testing.T) {
	t.Run("tcp", func(t *testing.T) { testRsyslogForward(t, false) })
	t.Run("tls", func(t *testing.T) { testRsyslogForward(t, true) })
}

func testRsyslogForward(t *testing.T, useTLS bool) {
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Skip("rsyslogd not on PATH; install the Debian packages rsyslog and rsyslog-gnutls to run this test")
	}
	if useTLS && !hasRsyslogTLS() {
		t.Skip("rsyslog's TLS driver (lmnsd_gtls.so) is not installed; install the Debian package rsyslog-gnutls to run this test")
	}
	n := 100000
	if testing.Short() {
		n = 5000
	}
	dir := t.TempDir()
	spec := NewSpec()
	spec.Listen = "tcp://127.0.0.1:0"
	spec.Tenant = "t"
	global, driver := "", ""
	if useTLS {
		pki := newTestPKI(t, dir)
		spec.Listen = "tls://127.0.0.1:0"
		spec.Tenant = ""
		spec.CertFile, spec.KeyFile, spec.ClientCAFile = pki.certFile, pki.keyFile, pki.caFile
		spec.Sources = []Source{{Tenant: "t", CNs: []string{"agency-a"}}}
		global = fmt.Sprintf(`DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q`,
			pki.caFile, pki.clientCert, pki.clientKey)
		driver = `StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/certvalid"`
	}
	var p fakePublisher
	addr, _ := startCollector(t, spec, &p)
	port := addr.(*net.TCPAddr).Port

	inPort := freePort(t)
	conf := fmt.Sprintf(`global(workDirectory=%q %s)
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="%d" protocol="tcp" TCP_Framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format" queue.type="LinkedList" queue.size="200000"
         action.resumeRetryCount="-1" %s)
}
`, dir, global, inPort, port, driver)
	confPath := filepath.Join(dir, "rs.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rsyslogd, "-n", "-f", confPath, "-i", filepath.Join(dir, "rs.pid"))
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var conn net.Conn
	waitFor(t, 10*time.Second, "rsyslogd to listen", func() bool {
		conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", inPort))
		return err == nil
	})
	w := bufio.NewWriter(conn)
	for i := range n {
		fmt.Fprintf(w, "<134>1 2026-11-25T10:00:00.000000+07:00 web01 sshd %d - - seq=%d Failed password\n", 1000+i%5000, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d messages through rsyslog", n), func() bool { return p.count() >= n })
	seen := make(map[string]bool, n)
	for _, ev := range p.snapshot() {
		if ev.Tenant != "t" || ev.GetString("process.name") != "sshd" || ev.GetString("host.hostname") != "web01" || ev.GetString("log.syslog.priority") != "134" {
			t.Fatalf("badly parsed: %v", ev.Fields)
		}
		seen[ev.Message()] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages, want %d\nrsyslogd: %s", len(seen), n, stderr.String())
	}
}

// hasRsyslogTLS reports whether rsyslog's GnuTLS network stream driver is
// installed.
func hasRsyslogTLS() bool {
	m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so")
	m2, _ := filepath.Glob("/usr/lib*/rsyslog/lmnsd_gtls.so")
	return len(m)+len(m2) > 0
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
