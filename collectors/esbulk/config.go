// Package esbulk is a collector that speaks enough of the Elasticsearch HTTP
// API for Filebeat, Winlogbeat, Logstash, Fluent Bit and Vector to ship to
// Mangrove with their Elasticsearch outputs unchanged: `GET /` version info,
// the start-up probes of the Beats (license, x-pack, templates, ILM, data
// streams) and the `_bulk` endpoint with per-item results.
//
// A bulk request is answered only once its events are durably on the bus
// (Batch.Done(nil)); when the bus fails, the affected items are answered 429
// es_rejected_execution_exception, which every Elasticsearch client retries.
// Event IDs are deterministic (the item's _id when given, else a hash of the
// source bytes, both scoped to the tenant), so retried documents are
// recognized downstream as duplicates.
package esbulk

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/parse"
)

// TypeName is the value of `type:` for this collector.
const TypeName = "esbulk"

// Type is the collector type to register in a collectors.Registry.
var Type = collectors.Type{Name: TypeName, New: func() collectors.Spec { return NewConfig() }}

// Config is one esbulk collector's configuration.
type Config struct {
	// Listen is the TCP address of the HTTP listener (default 127.0.0.1:9200).
	Listen string `yaml:"listen"`
	// TLS, when both files are set, serves HTTPS.
	TLS TLSConfig `yaml:"tls"`
	// Keys are the accepted API keys, each bound to the tenant its events
	// belong to. A request without a known key is answered 401.
	Keys []Key `yaml:"keys"`
	// ClusterName is reported by GET / (default "mangrove").
	ClusterName string `yaml:"cluster_name"`
	// Parser normalizes each document to ECS with collectors/parse: "auto"
	// (default: detect Windows event shapes, sshd, sudo, CEF, ... lines in
	// message), a parser name ("windows", "openssh", ...) or "none". A
	// document the parser does not recognize is kept as it came, with
	// error.message set, and counted as a parse error.
	Parser string `yaml:"parser"`
	// Limits bound one request.
	Limits Limits `yaml:"limits"`
}

// TLSConfig names the server certificate and key (PEM files).
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Key is one API key. Clients send it as `Authorization: ApiKey
// base64(id:key)` (Beats `api_key: id:key`) or as Basic auth with the id as
// user name and the key as password. Only the SHA-256 of the key is kept in
// the configuration: `printf %s KEY | sha256sum`.
type Key struct {
	ID        string `yaml:"id"`
	KeySHA256 string `yaml:"key_sha256"`
	Tenant    string `yaml:"tenant"`
}

// Limits bound one request. Zero fields take their defaults.
type Limits struct {
	// MaxBodyBytes is the largest request body, after gzip decoding
	// (default 100 MiB, Elasticsearch's http.max_content_length); larger
	// bodies are answered 413, which makes Beats split the batch.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxLineBytes is the largest action or document line (default 1 MiB);
	// a larger document is refused as its own item.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxItems is the most actions in one request (default 50,000); more is
	// answered 413.
	MaxItems int `yaml:"max_items"`
	// MaxInFlight is the most bulk requests handled at once (default 32);
	// one more is answered 429 es_rejected_execution_exception, which
	// clients retry with back-off. With MaxBodyBytes it bounds memory.
	MaxInFlight int `yaml:"max_in_flight"`
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{MaxBodyBytes: 100 << 20, MaxLineBytes: 1 << 20, MaxItems: 50000, MaxInFlight: 32}

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultLimits.MaxBodyBytes
	}
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultLimits.MaxLineBytes
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultLimits.MaxItems
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = DefaultLimits.MaxInFlight
	}
	return l
}

// ParserNone turns normalization off.
const ParserNone = "none"

// NewConfig returns a Config with its defaults.
func NewConfig() *Config {
	return &Config{Listen: "127.0.0.1:9200", ClusterName: "mangrove", Parser: parse.Auto, Limits: DefaultLimits}
}

// Validate reports every problem at once, each with its path.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together"))
	}
	if c.Parser != ParserNone && !parse.Known(c.Parser) {
		errs = append(errs, fmt.Errorf("parser: %q is not one of auto, none, %s", c.Parser, strings.Join(parse.Names(), ", ")))
	}
	if len(c.Keys) == 0 {
		errs = append(errs, errors.New("keys: at least one API key is required"))
	}
	ids := map[string]bool{}
	for i, k := range c.Keys {
		p := fmt.Sprintf("keys[%d]", i)
		if k.ID == "" {
			errs = append(errs, fmt.Errorf("%s.id: required", p))
		}
		if ids[k.ID] {
			errs = append(errs, fmt.Errorf("%s.id: %q used twice", p, k.ID))
		}
		ids[k.ID] = true
		if b, err := hex.DecodeString(k.KeySHA256); err != nil || len(b) != 32 {
			errs = append(errs, fmt.Errorf("%s.key_sha256: must be 64 hex digits (sha256 of the key)", p))
		}
		if k.Tenant == "" {
			errs = append(errs, fmt.Errorf("%s.tenant: required", p))
		}
	}
	if c.Limits.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("limits.max_body_bytes: must be >= 0"))
	}
	if c.Limits.MaxLineBytes < 0 {
		errs = append(errs, errors.New("limits.max_line_bytes: must be >= 0"))
	}
	if c.Limits.MaxItems < 0 {
		errs = append(errs, errors.New("limits.max_items: must be >= 0"))
	}
	if c.Limits.MaxInFlight < 0 {
		errs = append(errs, errors.New("limits.max_in_flight: must be >= 0"))
	}
	return errors.Join(errs...)
}

// Build returns the collector; it loads the TLS certificate, so a bad file
// fails at start-up.
func (c *Config) Build(name string, env collectors.Env) (collectors.Collector, error) {
	m, err := collectors.NewMetrics(env.Registerer, TypeName, name)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	var tlsCfg *tls.Config
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading TLS certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	h, err := newHandler(*c, name, m)
	if err != nil {
		return nil, err
	}
	h.ids = env.IDKey
	return &Collector{cfg: *c, tls: tlsCfg, h: h,
		log: env.Logger.With().Str("component", "collectors.esbulk").Str("collector", name).Logger()}, nil
}
