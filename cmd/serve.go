package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	mcollectors "github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/syslog"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/engine"
	"github.com/mangrove-soc/mangrove/detections/exception"
	"github.com/mangrove-soc/mangrove/detections/rulepack"
	"github.com/mangrove-soc/mangrove/detections/sigma"
	"github.com/mangrove-soc/mangrove/detections/silence"
	"github.com/mangrove-soc/mangrove/internal/api"
	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/bus"
	"github.com/mangrove-soc/mangrove/internal/search/local"
	"github.com/mangrove-soc/mangrove/internal/store/sqlite"
)

// Consumer names on the bus: every event goes to both.
const (
	consumerDetect = "detect"
	consumerStore  = "store"
)

func newServeCmd(g *globals) *cobra.Command {
	var syslogURLs []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run everything in one process: API, bus, detection, incidents, event store",
		Long: `Run everything in one process on embedded parts: an embedded NATS JetStream bus,
SQLite for case data and a local event store, all under the data directory.
With no configuration it listens on 127.0.0.1:8080 and keeps data in ./data.
MANGROVE_DATA and MANGROVE_HTTP_ADDR override the data directory and address.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g.configPath, os.Getenv)
			if err != nil {
				return exitError{2, err}
			}
			for i, u := range syslogURLs {
				spec, err := syslog.SpecFromURL(u)
				if err != nil {
					return exitError{2, fmt.Errorf("--syslog: %w", err)}
				}
				cfg.collectors = append(cfg.collectors, mcollectors.Entry{Name: fmt.Sprintf("syslog-flag-%d", i+1), Type: "syslog", Spec: spec})
			}
			log := newLogger(cfg.Log, g.stderr)
			cfg.Runtime.apply(os.Getenv, log)
			return serve(c.Context(), cfg, log, nil)
		},
	}
	cmd.Flags().StringArrayVar(&syslogURLs, "syslog", nil,
		"listen for syslog at `URL` (udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT?cert_file=...&key_file=...); repeatable; senders go to tenant \"default\" unless ?tenant=")
	return cmd
}

// serve runs the process until ctx is done. ready, when not nil, is called
// with the HTTP address once everything accepts work (tests use it).
//
// Start order: stores, bus, engine, consumers, collectors, HTTP. Shutdown runs
// in the reverse order so that nothing is acknowledged that is not stored: HTTP
// stops taking events and waits for in-flight requests, collectors stop (each
// acknowledges its senders only for what the bus stored), then consumers stop (their
// unacknowledged batches are redelivered at the next start), then the engine,
// the bus and the stores close.
func serve(ctx context.Context, cfg Config, log zerolog.Logger, ready func(addr string)) (err error) {
	started := time.Now()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	for _, d := range cfg.Detections.Rules.Dirs {
		if filepath.Dir(d) == filepath.Clean(cfg.DataDir) {
			os.MkdirAll(d, 0o750) // the default rules dir, so users find where to put rules
		}
	}
	idKey, err := loadIDKey(cfg.DataDir, cfg.Events.IDKeyFile)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	cases, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "mangrove.db"))
	if err != nil {
		return fmt.Errorf("opening case store: %w", err)
	}
	defer func() { err = errors.Join(err, cases.Close()) }()

	events, err := local.Open(local.Config{Dir: filepath.Join(cfg.DataDir, "events"), Retention: cfg.Events.Retention})
	if err != nil {
		return fmt.Errorf("opening event store: %w", err)
	}
	defer func() { err = errors.Join(err, events.Close()) }()

	b, err := openBus(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.Close()) }()

	// Rules built into the process (not loaded from packs) survive reloads.
	var builtin []detections.Rule
	if cfg.Detections.Silence != nil {
		sr, err := silence.New(*cfg.Detections.Silence)
		if err != nil {
			return fmt.Errorf("silent-source rule: %w", err)
		}
		builtin = append(builtin, sr)
	}
	stateDir := filepath.Join(cfg.DataDir, "state", "sigma")
	rules, rep := rulepack.Load(ruleRegistry(), cfg.Detections.Rules)
	for _, e := range rep.Errors {
		log.Warn().Err(e).Msg("rule not loaded")
	}
	rules = append(rules, builtin...)
	if err := sigma.RestoreState(stateDir, rules); err != nil {
		log.Warn().Err(err).Msg("correlation state not restored; correlations start empty")
	}
	engCfg := cfg.Detections.Engine
	engCfg.Group = groupRules
	eng := engine.New(engCfg, rules)
	saveState := func() {
		if err := sigma.SaveState(stateDir, eng.Rules()); err != nil {
			log.Error().Err(err).Msg("saving correlation state")
		}
	}
	defer saveState()
	loadExceptions := func(ctx context.Context) error {
		list, err := cases.Exceptions(ctx, "", false)
		if err != nil {
			return fmt.Errorf("loading rule exceptions: %w", err)
		}
		eng.SetExceptions(exception.NewSet(list))
		return nil
	}
	if err := loadExceptions(ctx); err != nil {
		return err
	}
	reloadRules := func(ctx context.Context) (api.ReloadResult, error) {
		saveState()
		rules, rep := rulepack.Load(ruleRegistry(), cfg.Detections.Rules)
		rules = append(rules, builtin...)
		if err := sigma.RestoreState(stateDir, rules); err != nil {
			log.Warn().Err(err).Msg("correlation state not restored after reload")
		}
		eng.SetRules(rules)
		res := api.ReloadResult{Rules: rep.Rules, Files: rep.Files}
		for _, e := range rep.Errors {
			res.Errors = append(res.Errors, e.Error())
		}
		log.Info().Int("rules", rep.Rules).Int("rule_errors", len(rep.Errors)).Msg("rules reloaded")
		return res, nil
	}
	p := newPipeline(eng, cases, events, log)
	if err := p.register(reg, b); err != nil {
		return err
	}

	authn, err := auth.New(cfg.Auth, auth.WithTokenLookup(cases), auth.AllowAnonymous(loopback(cfg.HTTP.Addr)))
	if err != nil {
		return fmt.Errorf("loading API tokens: %w", err)
	}
	if err := authn.CheckOIDC(ctx); err != nil {
		log.Warn().Err(err).Msg("OIDC issuer not reachable; JWT logins fail until it is")
	}
	area, err := openIncidents(cfg, cases, log.With().Str("component", "incidents").Logger())
	if err != nil {
		return err
	}
	srv, err := api.New(cfg.HTTP, api.Deps{
		Publisher: b, Store: cases, Search: events, Auth: authn, DefaultTenant: cfg.Auth.DefaultTenant,
		Clock: area.clock, Assets: area.systems(), Evidence: area.evidence, Reports: cfg.Incidents.Reports,
		Rules: eng.Rules, ReloadRules: reloadRules, ExceptionsChanged: loadExceptions, Ready: map[string]api.Pinger{"bus": busPinger{b}, "cases": cases, "events": events}, Registry: reg,
		Logger: log.With().Str("component", "api").Logger(), Version: version(),
	})
	if err != nil {
		return err
	}

	engCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	var engWG, consWG sync.WaitGroup
	errc := make(chan error, 8+len(cfg.collectors))
	engWG.Go(func() { errc <- wrap("engine", eng.Run(engCtx, time.Second, p.tickAlerts)) })
	engWG.Go(func() { errc <- wrap("event retention", events.Run(engCtx)) })
	engWG.Go(func() {
		errc <- wrap("incidents", area.run(engCtx, cases, log.With().Str("component", "incidents").Logger()))
	})
	consWG.Go(func() { errc <- wrap("detect consumer", b.Consume(consCtx, consumerDetect, cfg.Bus.Workers, p.detect)) })
	consWG.Go(func() { errc <- wrap("store consumer", b.Consume(consCtx, consumerStore, 1, p.store)) })

	// Collectors publish to the bus; they stop first at shutdown.
	colCtx, stopCollectors := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCollectors()
	var colWG sync.WaitGroup
	env := mcollectors.Env{DataDir: cfg.DataDir, Logger: log, Registerer: reg, IDKey: idKey}
	for _, e := range cfg.collectors {
		c, err := e.Spec.Build(e.Name, env)
		if err != nil {
			stopCollectors()
			colWG.Wait()
			stopConsumers()
			stopEngine()
			consWG.Wait()
			engWG.Wait()
			return fmt.Errorf("collector %s: %w", e.Name, err)
		}
		colWG.Go(func() { errc <- wrap("collector "+e.Name, c.Run(colCtx, b)) })
	}

	httpCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	var httpErr error
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		httpErr = srv.Serve(httpCtx, func(addr string) {
			log.Info().Str("addr", addr).Str("data_dir", cfg.DataDir).Str("bus", cfg.Bus.Type).Int("collectors", len(cfg.collectors)).
				Int("rules", rep.Rules).Int("rule_errors", len(rep.Errors)).Str("version", version()).
				Dur("startup", time.Since(started)).Msg("mangrove is serving")
			if ready != nil {
				ready(addr)
			}
		})
	}()

	// SIGHUP reloads the rule packs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// Correlation state is saved every minute, at reload and at shutdown.
	saveTick := time.NewTicker(time.Minute)
	defer saveTick.Stop()

	// Wait for a stop signal or a component failing.
	var cause error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-httpDone:
			cause = wrap("http", httpErr)
			break wait
		case cause = <-errc:
			break wait
		case <-hup:
			reloadRules(ctx)
		case <-saveTick.C:
			saveState()
		}
	}
	log.Info().Msg("shutting down")
	stopHTTP()
	<-httpDone
	stopCollectors()
	colWG.Wait()
	stopConsumers()
	consWG.Wait()
	stopEngine()
	engWG.Wait()
	close(errc)
	for e := range errc {
		if e != nil && !errors.Is(e, context.Canceled) {
			cause = errors.Join(cause, e)
		}
	}
	if cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	log.Info().Msg("stopped")
	return nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// openBus opens the configured bus.
func openBus(ctx context.Context, cfg Config, log zerolog.Logger) (bus.Bus, error) {
	switch cfg.Bus.Type {
	case "memory":
		log.Warn().Msg("memory bus: events are not durable and are lost on restart")
		return bus.NewMemory(bus.MemoryConfig{Consumers: consumers})
	default:
		js, err := bus.OpenJetStream(ctx, cfg.Bus.JetStream, log)
		if err != nil {
			return nil, fmt.Errorf("opening bus: %w", err)
		}
		return js, nil
	}
}

// groupRules combines the Sigma detection rules into one sigma.Set, which
// routes events by log source and skips rules whose literals are absent; the
// other rules (correlations, indicators, built-in Go rules) run one by one.
func groupRules(rules []detections.Rule) ([]detections.Rule, []detections.MultiRule, error) {
	var plain, rest []detections.Rule
	for _, r := range rules {
		if _, ok := r.(*sigma.Rule); ok {
			plain = append(plain, r)
		} else {
			rest = append(rest, r)
		}
	}
	if len(plain) == 0 {
		return rest, nil, nil
	}
	set, err := sigma.NewSet(plain)
	if err != nil {
		return nil, nil, err
	}
	return rest, []detections.MultiRule{set}, nil
}

// consumers are the bus's durable consumers: every event goes to each.
var consumers = []string{consumerDetect, consumerStore}

// busPinger checks the bus for /readyz by asking for the detect consumer's lag.
type busPinger struct{ b bus.Bus }

func (p busPinger) Ping(ctx context.Context) error {
	_, err := p.b.Pending(ctx, consumerDetect)
	return err
}

// eventIndexer is what the store consumer writes to.
type eventIndexer interface {
	Index(ctx context.Context, events []event.Event) error
}
