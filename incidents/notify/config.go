package notify

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is the notify section of the configuration file:
//
//	notify:
//	  base_url: https://soc.example.gov.vn
//	  due_soon: 2h
//	  interval: 1m
//	  webhooks:
//	    - url: https://chat.so-a.gov.vn/hooks/soc
//	      secret_file: /etc/mangrove/so-a-webhook.secret
//	      tenants: [so-a]
//	  smtp:
//	    host: mail.example.gov.vn
//	    port: 587
//	    starttls: mandatory
//	    username: mangrove
//	    password_file: /etc/mangrove/smtp.password
//	    from: soc@example.gov.vn
//	    to: [truc-ban@example.gov.vn]
type Config struct {
	// BaseURL of the web UI; notices link to <base_url>/incidents/<id>.
	BaseURL  string          `yaml:"base_url"`
	Webhooks []WebhookConfig `yaml:"webhooks"`
	SMTP     *SMTPConfig     `yaml:"smtp"`
	// DueSoon is how long before a deadline the due_soon notice goes out
	// (default 2h).
	DueSoon time.Duration `yaml:"due_soon"`
	// Interval is how often deadlines are checked (default 1m).
	Interval time.Duration `yaml:"interval"`
}

// WebhookConfig is one webhook target.
type WebhookConfig struct {
	URL string `yaml:"url"`
	// SecretFile holds the HMAC secret (trailing newline ignored); empty:
	// unsigned.
	SecretFile string `yaml:"secret_file"`
	// Tenants whose notices this receiver gets; empty: all.
	Tenants  []string      `yaml:"tenants"`
	Timeout  time.Duration `yaml:"timeout"`  // per attempt, default 10s
	Attempts int           `yaml:"attempts"` // default 4
	Backoff  time.Duration `yaml:"backoff"`  // first retry wait, default 1s
}

// SMTPConfig is the e-mail target.
type SMTPConfig struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"` // default 587
	// StartTLS: mandatory (default), opportunistic or none.
	StartTLS     string `yaml:"starttls"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// CAFile, if set, holds the PEM certificates that verify the server
	// (an internal CA); default: the system pool.
	CAFile  string        `yaml:"ca_file"`
	From    string        `yaml:"from"`
	To      []string      `yaml:"to"`
	Tenants []string      `yaml:"tenants"` // empty: all
	Timeout time.Duration `yaml:"timeout"` // default 30s
}

// Defaults.
const (
	DefaultDueSoon  = 2 * time.Hour
	DefaultInterval = time.Minute
)

// ApplyDefaults fills unset durations.
func (c *Config) ApplyDefaults() {
	if c.DueSoon == 0 {
		c.DueSoon = DefaultDueSoon
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
}

// Validate reports every problem at once, each with its path
// (webhooks[1].url: ...). It does not read the secret files (Build does).
// A config with no target is valid: nothing is sent.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("base_url: %q is not an absolute http(s) URL", c.BaseURL)
		}
	}
	if c.DueSoon < 0 {
		bad("due_soon: must not be negative")
	}
	if c.Interval < 0 || (c.Interval > 0 && c.Interval < time.Second) {
		bad("interval: must be at least 1s")
	}
	seen := map[string]int{}
	for i, w := range c.Webhooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s.url: must be an absolute http(s) URL", p)
		} else if u.User != nil {
			bad("%s.url: must not hold credentials (use secret_file)", p)
		}
		if j, dup := seen[w.URL]; dup {
			bad("%s.url: same as webhooks[%d]", p, j)
		} else {
			seen[w.URL] = i
		}
		if w.Timeout < 0 {
			bad("%s.timeout: must not be negative", p)
		}
		if w.Attempts < 0 || w.Attempts > 20 {
			bad("%s.attempts: must be between 1 and 20 (0: default)", p)
		}
		if w.Backoff < 0 {
			bad("%s.backoff: must not be negative", p)
		}
		errs = append(errs, tenantErrs(p, w.Tenants)...)
	}
	if s := c.SMTP; s != nil {
		if s.Host == "" {
			bad("smtp.host: required")
		}
		if s.Port < 0 || s.Port > 65535 {
			bad("smtp.port: %d is not a port", s.Port)
		}
		switch s.StartTLS {
		case "", StartTLSMandatory, StartTLSOpportunistic, StartTLSNone:
		default:
			bad("smtp.starttls: %q is not one of mandatory, opportunistic, none", s.StartTLS)
		}
		if (s.Username == "") != (s.PasswordFile == "") {
			bad("smtp: username and password_file go together")
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			bad("smtp.from: %q is not an e-mail address", s.From)
		}
		if len(s.To) == 0 {
			bad("smtp.to: at least one recipient is required")
		}
		for i, to := range s.To {
			if _, err := mail.ParseAddress(to); err != nil {
				bad("smtp.to[%d]: %q is not an e-mail address", i, to)
			}
		}
		if s.Timeout < 0 {
			bad("smtp.timeout: must not be negative")
		}
		errs = append(errs, tenantErrs("smtp", s.Tenants)...)
	}
	return errors.Join(errs...)
}

func tenantErrs(path string, tenants []string) []error {
	var errs []error
	for i, t := range tenants {
		if strings.TrimSpace(t) == "" {
			errs = append(errs, fmt.Errorf("%s.tenants[%d]: empty", path, i))
		}
	}
	return errs
}

// maxSecretBytes bounds secret, password and CA files.
const maxSecretBytes = 64 << 10

func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretBytes)
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

// Build validates c (after defaults), reads the secret files and returns
// the targets as a Multi: "webhooks[i]" in order, then "smtp". Errors of
// every target are reported at once.
func Build(c Config) (*Multi, error) {
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var (
		targets []Target
		errs    []error
	)
	for i, w := range c.Webhooks {
		name := fmt.Sprintf("webhooks[%d]", i)
		o := WebhookOptions{Timeout: w.Timeout, Attempts: w.Attempts, Backoff: w.Backoff}
		if w.SecretFile != "" {
			secret, err := readSecret(w.SecretFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.secret_file: %w", name, err))
				continue
			}
			if len(secret) == 0 {
				errs = append(errs, fmt.Errorf("%s.secret_file: %s is empty", name, w.SecretFile))
				continue
			}
			o.Secret = secret
		}
		targets = append(targets, Target{Name: name, Tenants: w.Tenants, Notifier: NewWebhook(w.URL, o)})
	}
	if s := c.SMTP; s != nil {
		o := SMTPOptions{Host: s.Host, Port: s.Port, StartTLS: s.StartTLS, Username: s.Username, From: s.From, To: s.To, Timeout: s.Timeout}
		ok := true
		if s.PasswordFile != "" {
			pw, err := readSecret(s.PasswordFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("smtp.password_file: %w", err))
				ok = false
			}
			o.Password = string(pw)
		}
		if s.CAFile != "" {
			pem, err := readSecret(s.CAFile)
			o.RootCAs = x509.NewCertPool()
			if err != nil {
				errs = append(errs, fmt.Errorf("smtp.ca_file: %w", err))
				ok = false
			} else if !o.RootCAs.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("smtp.ca_file: no PEM certificate in %s", s.CAFile))
				ok = false
			}
		}
		if ok {
			n, err := NewSMTP(o)
			if err != nil {
				errs = append(errs, fmt.Errorf("smtp: %w", err))
			} else {
				targets = append(targets, Target{Name: "smtp", Tenants: s.Tenants, Notifier: n})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return NewMulti(targets...), nil
}
