package notify

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestConfigDecodeAndBuild(t *testing.T) {
	secret := writeFile(t, "hook-secret\n")
	doc := `
base_url: https://soc.example.gov.vn
due_soon: 90m
webhooks:
  - url: https://chat.so-a.gov.vn/hooks/soc
    secret_file: ` + secret + `
    tenants: [so-a]
  - url: http://127.0.0.1:9000/notify
smtp:
  host: mail.example.gov.vn
  starttls: opportunistic
  from: soc@example.gov.vn
  to: [truc-ban@example.gov.vn]
`
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if c.DueSoon != 90*time.Minute || c.Interval != DefaultInterval {
		t.Fatalf("durations: %v %v", c.DueSoon, c.Interval)
	}
	m, err := Build(c)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range m.Targets() {
		names = append(names, tg.Name+":"+strings.Join(tg.Tenants, "+"))
	}
	if got := strings.Join(names, ","); got != "webhooks[0]:so-a,webhooks[1]:,smtp:" {
		t.Fatalf("targets = %s", got)
	}
	if w := m.Targets()[0].Notifier.(*Webhook); string(w.secret) != "hook-secret" {
		t.Fatalf("secret = %q", w.secret)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{
		BaseURL:  "soc.example.gov.vn",
		Interval: time.Millisecond,
		DueSoon:  -time.Hour,
		Webhooks: []WebhookConfig{
			{URL: "ftp://x"},
			{URL: "https://user:pw@hooks.example/x", Attempts: 99, Tenants: []string{"so-a", " "}},
			{URL: "https://hooks.example/y", Timeout: -1, Backoff: -1},
			{URL: "https://hooks.example/y"},
		},
		SMTP: &SMTPConfig{Port: 70000, StartTLS: "always", Username: "soc", From: "not an address", To: []string{"ok@example.gov.vn", "bad"}},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`base_url: "soc.example.gov.vn" is not an absolute http(s) URL`,
		"due_soon: must not be negative",
		"interval: must be at least 1s",
		"webhooks[0].url: must be an absolute http(s) URL",
		"webhooks[1].url: must not hold credentials",
		"webhooks[1].attempts: must be between 1 and 20",
		"webhooks[1].tenants[1]: empty",
		"webhooks[2].timeout: must not be negative",
		"webhooks[2].backoff: must not be negative",
		"webhooks[3].url: same as webhooks[2]",
		"smtp.host: required",
		"smtp.port: 70000 is not a port",
		`smtp.starttls: "always" is not one of mandatory, opportunistic, none`,
		"smtp: username and password_file go together",
		`smtp.from: "not an address" is not an e-mail address`,
		`smtp.to[1]: "bad" is not an e-mail address`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if err := (&Config{}).Validate(); err != nil {
		t.Fatalf("empty config: %v", err)
	}
	if _, err := Build(Config{SMTP: &SMTPConfig{Host: "h", From: "a@b.c"}}); err == nil || !strings.Contains(err.Error(), "smtp.to") {
		t.Fatalf("Build does not validate: %v", err)
	}
}

func TestBuildReadsSecrets(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := writeFile(t, "hello")
	_, err := Build(Config{
		Webhooks: []WebhookConfig{{URL: "https://a.example/x", SecretFile: filepath.Join(dir, "missing")}, {URL: "https://b.example/x", SecretFile: empty}},
		SMTP: &SMTPConfig{Host: "mail.example", From: "a@example.gov.vn", To: []string{"b@example.gov.vn"}, Username: "u",
			PasswordFile: filepath.Join(dir, "nope"), CAFile: notPEM},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"webhooks[0].secret_file:", "webhooks[1].secret_file: " + empty + " is empty", "smtp.password_file:", "smtp.ca_file: no PEM certificate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestRender(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Notice)
	}{
		{"overdue", func(*Notice) {}},
		{"due_soon", func(n *Notice) { n.Kind = KindDueSoon; n.Time = n.Due.Add(-(26*time.Hour + 5*time.Minute)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := testNotice()
			tt.mod(&n)
			got := Subject(n) + "\n\n" + Body(n)
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
