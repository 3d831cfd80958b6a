package cmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeSyslogFlag runs `mangrove serve --syslog tcp://...` and checks
// that messages sent to the listener reach the bus.
func TestServeSyslogFlag(t *testing.T) {
	port := freeTCPPort(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	t.Setenv("MANGROVE_DATA", t.TempDir())
	t.Setenv("MANGROVE_HTTP_ADDR", httpAddr)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--syslog", fmt.Sprintf("tcp://127.0.0.1:%d", port)}, io.Discard, io.Discard)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}()
	var conn net.Conn
	var err error
	waitFor(t, "the syslog listener", 20*time.Second, func() bool {
		conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		return err == nil
	})
	for i := range 3 {
		msg := fmt.Sprintf("<38>1 2026-11-25T10:00:00Z web01 sshd 42 - - flag test %d", i)
		fmt.Fprintf(conn, "%d %s", len(msg), msg)
	}
	conn.Close()
	want := `mangrove_syslog_published_events_total{collector="syslog-flag-1"} 3`
	waitFor(t, want, 20*time.Second, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), want)
	})
}

func TestServeSyslogFlagInvalid(t *testing.T) {
	t.Setenv("MANGROVE_DATA", t.TempDir())
	var errOut strings.Builder
	if code := Main(t.Context(), []string{"serve", "--syslog", "ftp://127.0.0.1:1"}, io.Discard, &errOut); code != 2 {
		t.Errorf("exit %d, want 2 (%s)", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "--syslog") {
		t.Errorf("error does not name the flag: %s", errOut.String())
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
