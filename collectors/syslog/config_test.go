package syslog

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/collectors"
)

func TestDecodeAndValidate(t *testing.T) {
	var reg collectors.Registry
	reg.Register(Type)
	for _, tc := range []struct {
		name, yaml string
		errs       []string
	}{
		{"ok", `[{name: s, type: syslog, listen: "udp://0.0.0.0:514", tenant: camau, timezone: Asia/Ho_Chi_Minh,
		  sources: [{name: a, tenant: a, cidrs: [10.0.0.0/8], timezone: UTC}]}]`, nil},
		{"all_problems", `[{type: syslog, listen: "http://x:1", max_message_size: 10, batch_size: 0, read_buffer: 100, timezone: Mars/Base,
		  sources: [{cidrs: [nonsense], cns: [x]}]}]`, []string{
			"collectors[0].listen:", "collectors[0].max_message_size:", "collectors[0].batch_size:", "collectors[0].read_buffer:", "collectors[0].timezone:",
			"collectors[0].sources[0].tenant: required", "collectors[0].sources[0].cns:", "collectors[0].sources[0].cidrs[0]:"}},
		{"no_tenant", `[{type: syslog, listen: "tcp://:5514"}]`, []string{"collectors[0].tenant: required"}},
		{"tls_needs_cert", `[{type: syslog, listen: "tls://:6514", tenant: t}]`, []string{"cert_file: required", "key_file: required"}},
		{"unknown_key", `[{type: syslog, listen: "tcp://:5514", tenant: t, port: 5}]`, []string{"field port not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			_, err := collectors.DecodeEntries(&reg, n.Content[0])
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestSpecFromURL(t *testing.T) {
	s, err := SpecFromURL("udp://127.0.0.1:5514?tenant=camau&timezone=UTC")
	if err != nil {
		t.Fatal(err)
	}
	if s.Listen != "udp://127.0.0.1:5514" || s.Tenant != "camau" || s.Timezone != "UTC" {
		t.Errorf("spec %+v", s)
	}
	if s, _ := SpecFromURL("tcp://0.0.0.0:5514"); s == nil || s.Tenant != "default" {
		t.Errorf("default tenant not set: %+v", s)
	}
	for _, bad := range []string{"tls://:6514", "tcp://:5514?bogus=1", "ftp://x:1", "tcp://nohost"} {
		if _, err := SpecFromURL(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
