// Package api is Mangrove's HTTP interface: REST+JSON under /api/v1, health
// and readiness probes, Prometheus metrics, and the OpenAPI document generated
// from the same route table that the server serves.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/blob"
	"github.com/mangrove-soc/mangrove/internal/search"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// Config is the HTTP server's configuration.
type Config struct {
	// Addr is the listen address; default 127.0.0.1:8080 (loopback only).
	Addr string `yaml:"addr"`
	// MaxBodyBytes caps a request body as sent (compressed or not);
	// default 256 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxDecodedBytes caps a gzip body once decompressed; default 1 GiB.
	MaxDecodedBytes int64 `yaml:"max_decoded_bytes"`
	// MaxLineBytes caps one NDJSON line (one event); default 1 MiB.
	MaxLineBytes int `yaml:"max_line_bytes"`
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: required"))
	}
	if c.MaxBodyBytes < 0 || c.MaxDecodedBytes < 0 || c.MaxLineBytes < 0 {
		errs = append(errs, errors.New("max_*_bytes: must be >= 0"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 256 << 20
	}
	if c.MaxDecodedBytes == 0 {
		c.MaxDecodedBytes = 1 << 30
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = 1 << 20
	}
	return c
}

// EventSearcher answers event searches (the embedded store or Elasticsearch).
type EventSearcher interface {
	Search(ctx context.Context, q search.Query) (search.Result, error)
}

// Pinger is a dependency whose health /readyz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what the server serves. Fields are required unless their
// comment says what nil means.
type Deps struct {
	Publisher collectors.Publisher
	Store     store.Store
	Search    EventSearcher
	Auth      *auth.Authenticator
	// DefaultTenant receives events sent by a center-wide caller.
	DefaultTenant string
	// Rules returns the loaded rules.
	Rules func() []detections.Rule
	// ReloadRules reloads the rule packs without dropping events.
	ReloadRules func(ctx context.Context) (ReloadResult, error)
	// ExceptionsChanged is called after an exception was created or revoked,
	// so that detection applies it.
	ExceptionsChanged func(ctx context.Context) error
	// Clock computes incidents' SLA and legal deadlines; nil shows none.
	Clock Clock
	// Assets resolves information systems named in requests; nil knows none.
	Assets SystemLookup
	// Evidence stores evidence files; nil refuses uploads.
	Evidence *blob.Store
	// Reports is what reports to the authority print about the sender.
	Reports ReportConfig
	// Ready lists the checks of /readyz by name.
	Ready    map[string]Pinger
	Registry *prometheus.Registry
	Logger   zerolog.Logger
	Version  string
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	deps    Deps
	routes  []route
	mux     *http.ServeMux
	metrics metrics
	doc     []byte
}

// New builds the server and registers its metrics on deps.Registry.
func New(cfg Config, deps Deps) (*Server, error) {
	s := &Server{cfg: cfg.withDefaults(), deps: deps, mux: http.NewServeMux()}
	s.metrics = newMetrics()
	if err := s.metrics.register(deps.Registry); err != nil {
		return nil, err
	}
	s.routes = s.table()
	for _, rt := range s.routes {
		h := rt.handler
		if !rt.public {
			if rt.perm == "" {
				return nil, fmt.Errorf("route %s %s declares no permission", rt.method, rt.path)
			}
			h = s.authenticated(auth.Permission(rt.perm), h)
		}
		s.mux.HandleFunc(rt.method+" "+rt.path, h)
	}
	doc, err := json.MarshalIndent(openAPI(s.routes, deps.Version), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("building the OpenAPI document: %w", err)
	}
	s.doc = doc
	return s, nil
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.deps.Logger.Error().Str("path", r.URL.Path).Interface("panic", v).Msg("handler panicked")
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		s.mux.ServeHTTP(sw, r)
		pattern := r.Pattern
		if pattern == "" {
			pattern = "unmatched"
		}
		s.metrics.requests.WithLabelValues(pattern, strconv.Itoa(sw.code/100)+"xx").Inc()
	})
}

// statusWriter records the status code for the request metric.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Serve listens on cfg.Addr until ctx is done, then shuts down gracefully.
// ready is called once the listener is bound, with its address.
func (s *Server) Serve(ctx context.Context, ready func(addr string)) error {
	srv := &http.Server{
		Addr:              s.cfg.Addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := listen(ctx, s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr, err)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("shutting down HTTP: %w", err)
	}
	return nil
}

// authenticated checks the caller's credentials and that its role has perm;
// a refusal says which permission was missing and nothing else.
func (s *Server) authenticated(perm auth.Permission, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.deps.Auth.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mangrove"`)
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if !p.Can(perm) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("role %s lacks permission %s", p.Role, perm))
			return
		}
		next(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}
}

// principal returns the caller; handlers behind authenticated always have one.
func principal(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}

// readScope returns the tenant the caller is limited to ("" = every
// tenant); the route's permission was checked before the handler ran.
func readScope(_ http.ResponseWriter, r *http.Request) (string, bool) {
	return principal(r).Tenant, true
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// queryInt reads an integer query parameter, def when absent.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: must be a non-negative integer", name)
	}
	return n, nil
}

// queryTime reads an RFC 3339 time or a duration back from now ("24h").
func queryTime(r *http.Request, name string, now time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time (2026-11-25T08:00:00+07:00) or a duration back from now (24h)", name)
}
