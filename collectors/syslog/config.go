// Package syslog is the syslog collector: it listens on UDP, TCP or TLS
// (RFC 5425), reads RFC 3164 and RFC 5424 messages in newline or RFC 6587
// octet-counting framing (detected per TCP connection), maps each sender to
// a tenant and publishes the messages as ECS events of dataset "syslog".
//
// Syslog has no application-level acknowledgement. Over TCP and TLS the
// collector applies backpressure by not reading the socket while the bus is
// full, and reads at most (in_flight+1)×batch_size messages of a connection
// beyond what the bus acknowledged (Done(nil)): a kill -9 loses at most that
// window, which the sender considers delivered. Over UDP nothing can be
// slowed down: when the queue is full the newest datagrams are dropped and
// counted per source.
//
// It is the only package that imports github.com/leodido/go-syslog.
package syslog

import (
	"errors"
	"fmt"
	"github.com/mangrove-soc/mangrove/collectors/parse"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors"
)

// Defaults of a Spec.
const (
	DefaultMaxMessageSize = 64 << 10
	DefaultMaxConnections = 1024
	DefaultBatchSize      = 1000
	DefaultBatchWait      = 50 * time.Millisecond
	DefaultInFlight       = 4
	DefaultUDPQueue       = 16384
	DefaultReadBuffer     = 8 << 20
	DefaultTimezone       = "Local"
	maxMaxMessageSize     = 16 << 20
	minReadBuffer         = 4 << 10
	maxReadBuffer         = 1 << 30
)

// Type is the collector type registered as `type: syslog`.
var Type = collectors.Type{Name: "syslog", New: func() collectors.Spec { return NewSpec() }}

// Spec is the configuration of one syslog listener.
type Spec struct {
	// Listen is udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT.
	Listen string `yaml:"listen"`
	// CertFile and KeyFile are the server certificate and key (tls only).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, requires client certificates signed by these
	// CAs (tls only); the certificate's CN can then select the tenant.
	ClientCAFile string `yaml:"client_ca_file"`
	// Tenant is the tenant of senders no Sources entry matches. Empty:
	// such senders are refused (TCP/TLS connection closed, UDP datagram
	// dropped and counted).
	Tenant string `yaml:"tenant"`
	// Timezone applies to RFC 3164 timestamps, which carry none, from
	// senders no Sources entry gives one; an IANA name, "UTC" or "Local"
	// (default).
	Timezone string `yaml:"timezone"`
	// Sources map senders to tenants, first match wins.
	Sources []Source `yaml:"sources"`
	// MaxMessageSize bounds one message in bytes; default 64 KiB. Longer
	// messages are dropped and counted (reason "oversize").
	MaxMessageSize int `yaml:"max_message_size"`
	// MaxConnections bounds concurrent TCP/TLS connections; default 1024.
	MaxConnections int `yaml:"max_connections"`
	// BatchSize and BatchWait bound a batch: it is published when it holds
	// BatchSize events or its first event waited BatchWait.
	BatchSize int           `yaml:"batch_size"`
	BatchWait time.Duration `yaml:"batch_wait"`
	// InFlight is how many batches per connection may be parsed (each on
	// its own goroutine) or await their acknowledgement before the
	// connection stops being read; default 4.
	InFlight int `yaml:"in_flight"`
	// UDPQueue bounds datagrams waiting to be parsed; beyond it the newest
	// are dropped and counted. Default 16384.
	UDPQueue int `yaml:"udp_queue"`
	// ReadBuffer is the UDP socket receive buffer asked for, in bytes
	// (SO_RCVBUF; SO_RCVBUFFORCE on Linux when the process may): bursts
	// wait there while the reader catches up. Without CAP_NET_ADMIN the
	// kernel caps it at net.core.rmem_max. Default 8 MiB; udp only.
	ReadBuffer int `yaml:"read_buffer"`
	// KeepOriginal also stores the raw message as event.original.
	KeepOriginal bool `yaml:"keep_original"`
	// Parser normalizes the message body to ECS with collectors/parse:
	// "auto" (default: detected, unknown text passes through), a parser
	// name ("openssh", "sudo", "iptables", ...) or "none".
	Parser string `yaml:"parser"`
}

// Source maps senders to a tenant: by client address (CIDRs) or, over TLS
// with client certificates, by the certificate's common name (CNs).
type Source struct {
	// Name labels the source in metrics (drops); default "sources[i]".
	Name     string   `yaml:"name"`
	Tenant   string   `yaml:"tenant"`
	CIDRs    []string `yaml:"cidrs"`
	CNs      []string `yaml:"cns"`
	Timezone string   `yaml:"timezone"`
}

// NewSpec returns a Spec with its defaults.
// ParserNone turns ECS normalization of the message body off.
const ParserNone = "none"

// NewSpec returns a Spec with the defaults.
func NewSpec() *Spec {
	return &Spec{
		MaxMessageSize: DefaultMaxMessageSize,
		MaxConnections: DefaultMaxConnections,
		BatchSize:      DefaultBatchSize,
		BatchWait:      DefaultBatchWait,
		InFlight:       DefaultInFlight,
		UDPQueue:       DefaultUDPQueue,
		ReadBuffer:     DefaultReadBuffer,
		Timezone:       DefaultTimezone,
		Parser:         parse.Auto,
	}
}

// SpecFromURL returns the Spec of a quick-start listener given as a URL, as
// in `mangrove serve --syslog tcp://0.0.0.0:5514`. Query parameters set the
// string options: tenant, timezone, cert_file, key_file, client_ca_file.
// Without tenant, senders go to tenant "default".
func SpecFromURL(raw string) (*Spec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing syslog URL: %w", err)
	}
	s := NewSpec()
	q := u.Query()
	s.Listen = (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	s.Tenant = "default"
	for k, dst := range map[string]*string{"tenant": &s.Tenant, "timezone": &s.Timezone,
		"cert_file": &s.CertFile, "key_file": &s.KeyFile, "client_ca_file": &s.ClientCAFile} {
		if v := q.Get(k); v != "" {
			*dst = v
		}
		q.Del(k)
	}
	if len(q) > 0 {
		return nil, fmt.Errorf("syslog URL %q: unknown parameters %v", raw, q)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// listenAddr splits Listen into network and address.
func (s *Spec) listenAddr() (scheme, addr string, err error) {
	u, err := url.Parse(s.Listen)
	if err != nil {
		return "", "", err
	}
	switch u.Scheme {
	case "udp", "tcp", "tls":
	default:
		return "", "", fmt.Errorf("scheme must be udp, tcp or tls, not %q", u.Scheme)
	}
	if u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", "", errors.New("must be SCHEME://HOST:PORT")
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", "", err
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", "", fmt.Errorf("port %q is not a number 0-65535", port)
	}
	return u.Scheme, net.JoinHostPort(host, port), nil
}

// Validate reports every problem at once, each with its key.
func (s *Spec) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if s.Parser != ParserNone && !parse.Known(s.Parser) {
		bad("parser", "%q is not one of auto, none, %s", s.Parser, strings.Join(parse.Names(), ", "))
	}
	scheme, _, err := s.listenAddr()
	if err != nil {
		bad("listen", "%q: %v", s.Listen, err)
	}
	if scheme == "tls" {
		if s.CertFile == "" {
			bad("cert_file", "required for tls")
		}
		if s.KeyFile == "" {
			bad("key_file", "required for tls")
		}
	} else if scheme != "" && (s.CertFile != "" || s.KeyFile != "" || s.ClientCAFile != "") {
		bad("cert_file", "only for tls:// listeners")
	}
	for key, f := range map[string]string{"cert_file": s.CertFile, "key_file": s.KeyFile, "client_ca_file": s.ClientCAFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			bad(key, "%v", err)
		}
	}
	if _, err := loadZone(s.Timezone); err != nil {
		bad("timezone", "%v", err)
	}
	if s.MaxMessageSize < 480 || s.MaxMessageSize > maxMaxMessageSize {
		bad("max_message_size", "must be 480 to %d, got %d", maxMaxMessageSize, s.MaxMessageSize)
	}
	if s.MaxConnections < 1 {
		bad("max_connections", "must be > 0")
	}
	if s.BatchSize < 1 {
		bad("batch_size", "must be > 0")
	}
	if s.BatchWait <= 0 {
		bad("batch_wait", "must be > 0")
	}
	if s.InFlight < 1 {
		bad("in_flight", "must be > 0")
	}
	if s.UDPQueue < 1 {
		bad("udp_queue", "must be > 0")
	}
	if s.ReadBuffer < minReadBuffer || s.ReadBuffer > maxReadBuffer {
		bad("read_buffer", "must be %d to %d bytes, got %d", minReadBuffer, maxReadBuffer, s.ReadBuffer)
	}
	if s.Tenant == "" && len(s.Sources) == 0 {
		bad("tenant", "required when there are no sources (every sender would be refused)")
	}
	for i, src := range s.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		if src.Tenant == "" {
			bad(p+".tenant", "required")
		}
		if len(src.CIDRs) == 0 && len(src.CNs) == 0 {
			bad(p, "needs cidrs or cns")
		}
		if len(src.CNs) > 0 && s.ClientCAFile == "" {
			bad(p+".cns", "needs client_ca_file (client certificates)")
		}
		for j, c := range src.CIDRs {
			if _, err := netip.ParsePrefix(c); err != nil {
				bad(fmt.Sprintf("%s.cidrs[%d]", p, j), "%v", err)
			}
		}
		if src.Timezone != "" {
			if _, err := loadZone(src.Timezone); err != nil {
				bad(p+".timezone", "%v", err)
			}
		}
	}
	return errors.Join(errs...)
}

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "", "Local":
		return time.Local, nil
	case "UTC":
		return time.UTC, nil
	}
	return time.LoadLocation(name)
}

// route is a resolved Source.
type route struct {
	name     string
	tenant   string
	prefixes []netip.Prefix
	cns      map[string]bool
	zone     *time.Location
}

// router maps a sender to its route; nil means refused.
type router struct {
	routes []route
	deflt  *route
}

func newRouter(s *Spec) (*router, error) {
	zone, err := loadZone(s.Timezone)
	if err != nil {
		return nil, err
	}
	r := &router{}
	for i, src := range s.Sources {
		rt := route{name: src.Name, tenant: src.Tenant, zone: zone, cns: map[string]bool{}}
		if rt.name == "" {
			rt.name = fmt.Sprintf("sources[%d]", i)
		}
		if src.Timezone != "" {
			if rt.zone, err = loadZone(src.Timezone); err != nil {
				return nil, err
			}
		}
		for _, c := range src.CIDRs {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return nil, err
			}
			rt.prefixes = append(rt.prefixes, p.Masked())
		}
		for _, cn := range src.CNs {
			rt.cns[cn] = true
		}
		r.routes = append(r.routes, rt)
	}
	if s.Tenant != "" {
		r.deflt = &route{name: "default", tenant: s.Tenant, zone: zone}
	}
	return r, nil
}

// match returns the route of a sender at addr with the TLS client
// certificate common name cn ("" without one), or nil when refused.
func (r *router) match(addr netip.Addr, cn string) *route {
	addr = addr.Unmap()
	for i := range r.routes {
		rt := &r.routes[i]
		if cn != "" && rt.cns[cn] {
			return rt
		}
		for _, p := range rt.prefixes {
			if p.Contains(addr) {
				return rt
			}
		}
	}
	return r.deflt
}
