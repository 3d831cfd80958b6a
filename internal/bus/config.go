package bus

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Sync modes of the embedded server's file store.
const (
	// SyncAlways fsyncs every stored message before its publish ack: an
	// acknowledged batch survives a power failure.
	SyncAlways = "always"
	// SyncInterval fsyncs every SyncInterval: faster, but a power failure
	// (not a process crash) loses up to SyncInterval of acknowledged events.
	SyncInterval = "interval"
)

// Config configures the JetStream bus. Zero fields take the defaults listed;
// ApplyDefaults fills them and Validate checks the result.
type Config struct {
	// URL of an external NATS JetStream cluster (scale-out), e.g.
	// "nats://nats-1:4222,nats://nats-2:4222". "" runs an embedded server in
	// this process. It must not hold a password or token: use CredsFile.
	URL string `yaml:"url"`
	// CredsFile is a NATS credentials file for URL.
	CredsFile string `yaml:"creds_file"`

	// StoreDir is the embedded server's file store, a directory under the
	// data directory; required when URL is "", ignored otherwise.
	StoreDir string `yaml:"store_dir"`
	// Listen is a loopback host:port where the embedded server also accepts
	// NATS clients (tools, other local processes). "" (default): reachable
	// only from inside this process. The embedded server has no
	// authentication, hence loopback only.
	Listen string `yaml:"listen"`
	// Sync is the embedded store's fsync policy: "always" (default) or
	// "interval". An external cluster's policy is its own configuration
	// (replicas 3, or sync_interval: always for one node).
	Sync string `yaml:"sync"`
	// SyncInterval is the fsync period when Sync is "interval"; default 1s.
	SyncInterval time.Duration `yaml:"sync_interval"`

	// Stream is the JetStream stream name; default "EVENTS".
	Stream string `yaml:"stream"`
	// Subject the stream stores and Publish publishes to; default
	// "mangrove.events". Streams sharing a server need distinct subjects.
	Subject string `yaml:"subject"`
	// Replicas of the stream and its consumers (external cluster); default 1.
	Replicas int `yaml:"replicas"`
	// Consumers are the durable consumers, created when the bus opens
	// (e.g. ["detect", "store"]). At least one is required: the stream keeps
	// a message until every declared consumer acknowledged it, and a message
	// published while no consumer exists would not be kept at all.
	Consumers []string `yaml:"consumers"`

	// MaxMsgBytes is the largest bus message, headers included; a batch is
	// split into messages of at most this size. Default 1 MiB; an external
	// server's max_payload must allow it.
	MaxMsgBytes int `yaml:"max_msg_bytes"`
	// MaxAge drops messages older than this even if not acknowledged by
	// every consumer; default 0, no limit.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes bounds the stream's size; when it is full, publishing fails
	// (nothing stored is dropped). Default 0, no limit but the disk.
	MaxBytes int64 `yaml:"max_bytes"`
	// DuplicateWindow is how long the stream remembers message IDs to drop
	// re-published messages; default 2m.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`

	// MaxInFlight bounds published messages awaiting their ack; Publish
	// blocks beyond it. Default 64.
	MaxInFlight int `yaml:"max_in_flight"`
	// PublishTimeout bounds the wait for one message's publish ack; default
	// 30s. Close waits at most this long for outstanding acks.
	PublishTimeout time.Duration `yaml:"publish_timeout"`

	// AckWait is how long a delivered message may stay unacknowledged
	// before it is redelivered; default 60s. Handlers must finish sooner.
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds delivered, unacknowledged messages per consumer;
	// default 64.
	MaxAckPending int `yaml:"max_ack_pending"`
	// RetryDelay is the first redelivery delay after a handler error,
	// doubling with each further failure up to 1m; default 1s.
	RetryDelay time.Duration `yaml:"retry_delay"`
}

// Defaults.
const (
	DefaultStream          = "EVENTS"
	DefaultSubject         = "mangrove.events"
	DefaultMaxMsgBytes     = 1 << 20
	DefaultSyncInterval    = time.Second
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultMaxInFlight     = 64
	DefaultPublishTimeout  = 30 * time.Second
	DefaultAckWait         = time.Minute
	DefaultMaxAckPending   = 64
	DefaultRetryDelay      = time.Second
)

// Bounds checked by Validate.
const (
	minMsgBytes = 16 << 10
	maxMsgBytes = 64 << 20 // the NATS server's own ceiling
	// headerReserve is the part of MaxMsgBytes kept for message headers.
	headerReserve = 512
	maxRetryDelay = time.Minute
)

// ApplyDefaults sets every zero field that has a default.
func (c *Config) ApplyDefaults() {
	if c.Sync == "" {
		c.Sync = SyncAlways
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxMsgBytes == 0 {
		c.MaxMsgBytes = DefaultMaxMsgBytes
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
}

// Validate returns every problem of c, with defaults applied, joined; each
// problem starts with the field's YAML path.
func (c Config) Validate() error {
	c.ApplyDefaults()
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.URL != "" {
		for i, u := range strings.Split(c.URL, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			switch {
			case err != nil:
				bad("url", "server %d: %v", i, err)
			case pu.Scheme != "nats" && pu.Scheme != "tls":
				bad("url", "server %d: scheme must be nats or tls, not %q", i, pu.Scheme)
			case pu.Host == "":
				bad("url", "server %d: missing host", i)
			case pu.User != nil:
				bad("url", "server %d: must not hold credentials; use creds_file", i)
			}
		}
		if c.Listen != "" {
			bad("listen", "only for the embedded server (url is set)")
		}
	} else {
		if c.StoreDir == "" {
			bad("store_dir", "required for the embedded server")
		}
		if c.CredsFile != "" {
			bad("creds_file", "only with url")
		}
		if c.Replicas != 1 {
			bad("replicas", "must be 1 for the embedded server")
		}
	}
	if c.Listen != "" {
		host, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			bad("listen", "%v", err)
		} else {
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				bad("listen", "host %q is not loopback; the embedded server has no authentication", host)
			}
			if port == "" {
				bad("listen", "missing port")
			}
		}
	}
	switch c.Sync {
	case SyncAlways, SyncInterval:
	default:
		bad("sync", "must be %q or %q, not %q", SyncAlways, SyncInterval, c.Sync)
	}
	if c.SyncInterval < 0 {
		bad("sync_interval", "must be > 0")
	}
	if !validName(c.Stream) {
		bad("stream", "%q: must be letters, digits, '-' or '_'", c.Stream)
	}
	if !validSubject(c.Subject) {
		bad("subject", "%q: must be dot-separated tokens without wildcards or spaces", c.Subject)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		bad("replicas", "must be 1 to 5")
	}
	if len(c.Consumers) == 0 {
		bad("consumers", "at least one durable consumer is required (the stream keeps messages only for declared consumers)")
	}
	seen := map[string]bool{}
	for i, name := range c.Consumers {
		path := fmt.Sprintf("consumers[%d]", i)
		switch {
		case !validName(name):
			bad(path, "%q: must be letters, digits, '-' or '_'", name)
		case seen[name]:
			bad(path, "%q declared twice", name)
		}
		seen[name] = true
	}
	if c.MaxMsgBytes < minMsgBytes || c.MaxMsgBytes > maxMsgBytes {
		bad("max_msg_bytes", "must be %d to %d", minMsgBytes, maxMsgBytes)
	}
	if c.MaxAge < 0 {
		bad("max_age", "must be >= 0")
	}
	if c.MaxBytes < 0 {
		bad("max_bytes", "must be >= 0")
	}
	if c.MaxAge > 0 && c.DuplicateWindow > c.MaxAge {
		bad("duplicate_window", "must not exceed max_age")
	}
	if c.DuplicateWindow < 0 {
		bad("duplicate_window", "must be > 0")
	}
	if c.MaxInFlight < 1 {
		bad("max_in_flight", "must be > 0")
	}
	if c.PublishTimeout < 0 {
		bad("publish_timeout", "must be > 0")
	}
	if c.AckWait < time.Second {
		bad("ack_wait", "must be >= 1s")
	}
	if c.MaxAckPending < 1 {
		bad("max_ack_pending", "must be > 0")
	}
	if c.RetryDelay < 0 || c.RetryDelay > maxRetryDelay {
		bad("retry_delay", "must be > 0 and <= %s", maxRetryDelay)
	}
	return errors.Join(errs...)
}

// validName reports whether s is a usable stream or consumer name.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validSubject reports whether s is a literal NATS subject.
func validSubject(s string) bool {
	if s == "" {
		return false
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return false
		}
	}
	return true
}
