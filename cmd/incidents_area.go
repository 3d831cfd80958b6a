package cmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/incidents/asset"
	"github.com/mangrove-soc/mangrove/incidents/clock"
	"github.com/mangrove-soc/mangrove/incidents/grouping"
	"github.com/mangrove-soc/mangrove/incidents/notify"
	"github.com/mangrove-soc/mangrove/incidents/report"
	"github.com/mangrove-soc/mangrove/internal/api"
	"github.com/mangrove-soc/mangrove/internal/audit/auditkey"
	"github.com/mangrove-soc/mangrove/internal/blob"
	"github.com/mangrove-soc/mangrove/internal/store"
	"github.com/mangrove-soc/mangrove/internal/store/sqlite"
)

// IncidentsConfig is the incident area: grouping, the asset inventory, the
// SLA and legal clocks, notices, reports and the audit checkpoints.
type IncidentsConfig struct {
	Grouping grouping.Config `yaml:"grouping"`
	// Assets is the asset inventory file: the agencies' information systems
	// with their security levels, networks and host names. Optional.
	Assets string       `yaml:"assets"`
	Clock  clock.Config `yaml:"clock"`
	// Notify sends due and overdue notices; without targets it is off.
	Notify  notify.Config    `yaml:"notify"`
	Reports api.ReportConfig `yaml:"reports"`
	// MaxEvidenceBytes caps one evidence file; default 512 MiB.
	MaxEvidenceBytes int64 `yaml:"max_evidence_bytes"`
	// CheckpointInterval is how often the audit log head is signed; default
	// 1m.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
}

func defaultIncidentsConfig() IncidentsConfig {
	return IncidentsConfig{Grouping: grouping.Defaults(), Clock: clock.DefaultConfig(), MaxEvidenceBytes: 512 << 20,
		CheckpointInterval: time.Minute, Reports: api.ReportConfig{Sender: defaultSender}}
}

// Validate reports every problem at once, with its path.
func (c IncidentsConfig) Validate() error {
	var errs []error
	add := func(p string, err error) {
		for _, e := range unjoin(err) {
			if e != nil {
				errs = append(errs, fmt.Errorf("%s.%w", p, e))
			}
		}
	}
	add("grouping", c.Grouping.Validate())
	add("clock", c.Clock.Validate())
	n := c.Notify
	n.ApplyDefaults()
	add("notify", n.Validate())
	if c.MaxEvidenceBytes < 1 {
		errs = append(errs, errors.New("max_evidence_bytes: must be positive"))
	}
	if c.CheckpointInterval < time.Second {
		errs = append(errs, errors.New("checkpoint_interval: must be at least 1s"))
	}
	if c.Reports.Sender.Name == "" {
		errs = append(errs, errors.New("reports.sender.name: required (the organisation that signs reports)"))
	}
	return errors.Join(errs...)
}

// incidentsArea is the running incident area.
type incidentsArea struct {
	clock    *clock.Clock
	assets   *asset.Inventory // nil without an inventory file
	evidence *blob.Store
	key      *auditkey.Key
	notifier *notify.Dispatcher // nil without targets
	cfg      IncidentsConfig
}

// openIncidents builds the incident area and configures the case store's
// grouping.
func openIncidents(cfg Config, cases *sqlite.Store, log zerolog.Logger) (*incidentsArea, error) {
	ic := cfg.Incidents
	a := &incidentsArea{cfg: ic}
	var err error
	if a.clock, err = clock.New(ic.Clock); err != nil {
		return nil, err
	}
	var matcher store.AssetMatcher
	if ic.Assets != "" {
		if a.assets, err = asset.Load(ic.Assets); err != nil {
			return nil, fmt.Errorf("incidents.assets: %w", err)
		}
		matcher = a.assets
		log.Info().Int("systems", a.assets.Len()).Str("file", ic.Assets).Msg("asset inventory loaded")
	}
	cases.Configure(grouping.New(ic.Grouping), matcher)
	if a.evidence, err = blob.Open(filepath.Join(cfg.DataDir, "evidence"), ic.MaxEvidenceBytes); err != nil {
		return nil, err
	}
	if a.key, err = auditkey.LoadOrCreateKey(filepath.Join(cfg.DataDir, "keys")); err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	n := ic.Notify
	n.ApplyDefaults()
	if len(n.Webhooks) > 0 || n.SMTP != nil {
		m, err := notify.Build(n)
		if err != nil {
			return nil, fmt.Errorf("incidents.notify: %w", err)
		}
		a.notifier = notify.NewDispatcher(m, cases, n, log.With().Str("component", "notify").Logger())
	}
	return a, nil
}

// systems adapts the inventory for the API (nil inventory: none known).
func (a *incidentsArea) systems() api.SystemLookup {
	if a.assets == nil {
		return nil
	}
	return a.assets
}

// run signs audit checkpoints and dispatches notices until ctx ends; a
// last checkpoint is written on the way out.
func (a *incidentsArea) run(ctx context.Context, cases *sqlite.Store, log zerolog.Logger) error {
	if a.notifier != nil {
		go a.notifier.Run(ctx, pendingSource{cases: cases, clock: a.clock}, time.Now)
	}
	checkpoint := func(ctx context.Context) {
		if _, err := cases.WriteCheckpoint(ctx, a.key); err != nil {
			log.Error().Err(err).Msg("signing an audit checkpoint")
		}
	}
	checkpoint(ctx)
	t := time.NewTicker(a.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			checkpoint(context.WithoutCancel(ctx))
			return nil
		case <-t.C:
			checkpoint(ctx)
		}
	}
}

// pendingSource lists open incidents with deadlines falling due: the
// notifier's view of the store and the clock.
type pendingSource struct {
	cases store.Store
	clock *clock.Clock
}

// Pending implements notify.Source, walking every open incident page by
// page.
func (p pendingSource) Pending(ctx context.Context, now time.Time, within time.Duration) ([]notify.Pending, error) {
	var out []notify.Pending
	f := store.IncidentFilter{Open: true, Limit: 1000, Sort: "+created"}
	for {
		page, err := p.cases.Incidents(ctx, f)
		if err != nil {
			return out, err
		}
		ids := make([]string, len(page.Items))
		for i, inc := range page.Items {
			ids[i] = inc.ID
		}
		filings, err := p.cases.Filings(ctx, "", ids...)
		if err != nil {
			return out, err
		}
		byInc := map[string][]clock.Filing{}
		for _, fl := range filings {
			byInc[fl.IncidentID] = append(byInc[fl.IncidentID], clock.Filing{Obligation: fl.Obligation, At: fl.At, Reference: fl.Reference})
		}
		for i := range page.Items {
			inc := &page.Items[i]
			if d := p.clock.Due(inc, byInc[inc.ID], now, within); len(d) > 0 {
				out = append(out, notify.Pending{Incident: *inc, Deadlines: d})
			}
		}
		if page.Next == "" {
			return out, nil
		}
		f.Cursor = page.Next
	}
}

// defaultSender signs reports until reports.sender is configured.
var defaultSender = report.Org{Name: "Trung tâm An ninh mạng tỉnh"}
