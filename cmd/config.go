package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/detections/engine"
	"github.com/mangrove-soc/mangrove/detections/rulepack"
	"github.com/mangrove-soc/mangrove/detections/silence"
	"github.com/mangrove-soc/mangrove/internal/api"
	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/bus"
)

// Config is the whole configuration file. Each area owns its part.
type Config struct {
	// DataDir holds every embedded store; default ./data.
	DataDir    string           `yaml:"data_dir"`
	Log        LogConfig        `yaml:"log"`
	HTTP       api.Config       `yaml:"http"`
	Auth       auth.Config      `yaml:"auth"`
	Bus        BusConfig        `yaml:"bus"`
	Detections DetectionsConfig `yaml:"detections"`
	Events     EventsConfig     `yaml:"events"`
	Incidents  IncidentsConfig  `yaml:"incidents"`
	Runtime    RuntimeConfig    `yaml:"runtime"`
	// Collectors is the list of inputs, each `{name, type, ...}` decoded by
	// its type (see collectorRegistry); kept raw until then.
	Collectors yaml.Node `yaml:"collectors"`

	collectors []collectors.Entry // decoded Collectors
}

// LogConfig sets up the root logger.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error; default info
	Format string `yaml:"format"` // json or console; default console on a terminal, json otherwise
}

// BusConfig chooses the bus.
type BusConfig struct {
	// Type is jetstream (durable, default) or memory (offline runs only:
	// nothing survives a restart).
	Type      string     `yaml:"type"`
	JetStream bus.Config `yaml:"jetstream"`
	// Workers is how many batches detection handles at once; default 2.
	Workers int `yaml:"workers"`
}

// DetectionsConfig is the detection area.
type DetectionsConfig struct {
	Rules  rulepack.Config `yaml:"rules"`
	Engine engine.Config   `yaml:"engine"`
	// Silence raises an alert when a source stops sending; nil is off.
	Silence *silence.Config `yaml:"silence"`
}

// EventsConfig is the event store.
type EventsConfig struct {
	// Retention is how long events are kept; default 720h (30 days).
	Retention time.Duration `yaml:"retention"`
	// IDKeyFile holds the secret (64 hex digits) that keys the IDs syslog
	// and Elasticsearch-bulk collectors give the events they read (see
	// eventid.Key). Default data_dir/keys/event-id.key, created on first
	// start; a configured file must exist (the nodes of a cluster share it).
	IDKeyFile string `yaml:"id_key_file"`
}

// defaultConfig returns the configuration of `mangrove serve` with no file.
func defaultConfig() Config {
	return Config{
		DataDir:   "data",
		Log:       LogConfig{Level: "info"},
		HTTP:      api.Config{Addr: "127.0.0.1:8080"},
		Auth:      auth.Config{DefaultTenant: "default"},
		Bus:       BusConfig{Type: "jetstream", Workers: 2},
		Events:    EventsConfig{Retention: 30 * 24 * time.Hour},
		Incidents: defaultIncidentsConfig(),
		Runtime:   RuntimeConfig{GCPercent: DefaultGCPercent},
	}
}

// envOverrides are the MANGROVE_* variables and what they set.
var envOverrides = []struct {
	name, desc string
	set        func(*Config, string)
}{
	{"MANGROVE_DATA", "data directory", func(c *Config, v string) { c.DataDir = v }},
	{"MANGROVE_HTTP_ADDR", "HTTP listen address", func(c *Config, v string) { c.HTTP.Addr = v }},
	{"MANGROVE_LOG_LEVEL", "log level", func(c *Config, v string) { c.Log.Level = v }},
	{"MANGROVE_LOG_FORMAT", "log format (json, console)", func(c *Config, v string) { c.Log.Format = v }},
	{"MANGROVE_BUS_TYPE", "bus type (jetstream, memory)", func(c *Config, v string) { c.Bus.Type = v }},
	{"MANGROVE_BUS_URL", "NATS URL of an external JetStream cluster", func(c *Config, v string) { c.Bus.JetStream.URL = v }},
	{"MANGROVE_RULES_DIRS", "rule directories, separated by the OS list separator", func(c *Config, v string) {
		c.Detections.Rules.Dirs = filepath.SplitList(v)
	}},
}

// maxConfigBytes bounds the configuration file.
const maxConfigBytes = 1 << 20

// loadConfig reads the file at path ("" for none), applies defaults and the
// environment, and validates. It is the one path shared by serve and
// check config.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return cfg, fmt.Errorf("reading config: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
		if err != nil {
			return cfg, fmt.Errorf("reading config %s: %w", path, err)
		}
		if len(data) > maxConfigBytes {
			return cfg, fmt.Errorf("config %s: larger than %d bytes", path, maxConfigBytes)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for _, o := range envOverrides {
		if v := getenv(o.name); v != "" {
			o.set(&cfg, v)
		}
	}
	if len(cfg.Detections.Rules.Dirs) == 0 {
		cfg.Detections.Rules.Dirs = []string{filepath.Join(cfg.DataDir, "rules")}
	}
	if cfg.Bus.JetStream.StoreDir == "" {
		cfg.Bus.JetStream.StoreDir = filepath.Join(cfg.DataDir, "bus")
	}
	if len(cfg.Bus.JetStream.Consumers) == 0 {
		cfg.Bus.JetStream.Consumers = consumers
	}
	entries, err := collectors.DecodeEntries(collectorRegistry(), &cfg.Collectors)
	cfg.collectors = entries
	return cfg, errors.Join(err, cfg.Validate())
}

// Validate reports every problem at once, each with its path.
func (c Config) Validate() error {
	var errs []error
	prefix := func(p string, err error) {
		if err == nil {
			return
		}
		for _, e := range unjoin(err) {
			errs = append(errs, fmt.Errorf("%s.%w", p, e))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "", "json", "console":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not one of json, console", c.Log.Format))
	}
	prefix("http", c.HTTP.Validate())
	prefix("auth", c.Auth.Validate())
	switch c.Bus.Type {
	case "jetstream":
		prefix("bus.jetstream", c.Bus.JetStream.Validate())
	case "memory":
	default:
		errs = append(errs, fmt.Errorf("bus.type: %q is not one of jetstream, memory", c.Bus.Type))
	}
	if c.Bus.Workers < 1 {
		errs = append(errs, errors.New("bus.workers: must be >= 1"))
	}
	prefix("detections.rules", c.Detections.Rules.Validate())
	prefix("detections.engine", c.Detections.Engine.Validate())
	if c.Detections.Silence != nil {
		prefix("detections.silence", c.Detections.Silence.Validate())
	}
	prefix("incidents", c.Incidents.Validate())
	prefix("runtime", c.Runtime.Validate())
	if c.Events.Retention < time.Hour {
		errs = append(errs, errors.New("events.retention: must be at least 1h"))
	}
	return errors.Join(errs...)
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// loopback reports whether a listen address binds only loopback interfaces.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
