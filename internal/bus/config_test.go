package bus

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error, each a problem; none = valid
	}{
		{"embedded minimal", Config{StoreDir: "/data/bus", Consumers: []string{"detect", "store"}}, nil},
		{"external minimal", Config{URL: "nats://n1:4222, tls://n2:4222", Consumers: []string{"detect"}, Replicas: 3}, nil},
		{"embedded listen loopback", Config{StoreDir: "d", Listen: "127.0.0.1:4222", Consumers: []string{"a"}}, nil},
		{"nothing", Config{}, []string{"store_dir: required", "consumers: at least one"}},
		{"external with embedded fields", Config{URL: "nats://n1", StoreDir: "d", Listen: "127.0.0.1:1", Consumers: []string{"a"}},
			[]string{"listen: only for the embedded"}},
		{"url problems", Config{URL: "http://x,nats://user:pw@n2,nats://", Consumers: []string{"a"}},
			[]string{"url: server 0: scheme", "url: server 1: must not hold credentials", "url: server 2: missing host"}},
		{"listen not loopback", Config{StoreDir: "d", Listen: "0.0.0.0:4222", Consumers: []string{"a"}},
			[]string{`listen: host "0.0.0.0" is not loopback`}},
		{"listen malformed", Config{StoreDir: "d", Listen: "4222", Consumers: []string{"a"}}, []string{"listen: "}},
		{"bad values", Config{
			StoreDir: "d", Sync: "sometimes", Stream: "EV.ENTS", Subject: "a.>", Replicas: 2,
			Consumers: []string{"detect", "de tect", "detect"}, MaxMsgBytes: 100, MaxAge: time.Minute,
			MaxBytes: -1, AckWait: time.Millisecond, MaxAckPending: -1, MaxInFlight: -1, RetryDelay: time.Hour,
			CredsFile: "x.creds",
		}, []string{
			"sync: must be", "stream: ", "subject: ", "replicas: must be 1 for the embedded",
			"consumers[1]: ", "consumers[2]: \"detect\" declared twice", "max_msg_bytes: ", "max_bytes: ",
			"duplicate_window: must not exceed max_age", "ack_wait: ", "max_ack_pending: ", "max_in_flight: ",
			"retry_delay: ", "creds_file: only with url",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if n := strings.Count(msg, "\n") + 1; n != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", n, len(tt.want), msg)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.ApplyDefaults()
	if c.Sync != SyncAlways || c.Stream != DefaultStream || c.Subject != DefaultSubject ||
		c.MaxMsgBytes != DefaultMaxMsgBytes || c.Replicas != 1 || c.AckWait != DefaultAckWait {
		t.Errorf("defaults not applied: %+v", c)
	}
	c = Config{Sync: SyncInterval, MaxMsgBytes: 32 << 10}
	c.ApplyDefaults()
	if c.Sync != SyncInterval || c.MaxMsgBytes != 32<<10 {
		t.Errorf("set fields overwritten: %+v", c)
	}
}
