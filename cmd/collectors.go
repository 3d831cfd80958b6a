package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/collectors"
)

func newCollectorsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "collectors",
		Short: "Inspect the collectors of a running server",
	}
	var server, tokenFile string
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Per collector: messages in, parse errors, drops, lag, last seen",
		Long: `Read the running server's /metrics and print, for every collector, the
messages received, the parse errors, the messages lost, the lag and when the
last message arrived (the mangrove_collector_* series).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(server, tokenFile)
			if err != nil {
				return err
			}
			rows, err := cl.collectorStatus(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return printCollectorStatus(g.stdout, rows, time.Now())
		},
	}
	addClientFlags(status, &server, &tokenFile)
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	c.AddCommand(status)
	return c
}

// collectorStatus is one collector's line of `collectors status`.
type collectorStatus struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	In          float64   `json:"messages_in"`
	ParseErrors float64   `json:"parse_errors"`
	Dropped     float64   `json:"dropped"`
	Bytes       float64   `json:"bytes"`
	LagSeconds  float64   `json:"lag_seconds"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
}

func (c *client) collectorStatus(ctx context.Context) ([]collectorStatus, error) {
	resp, err := c.do(ctx, http.MethodGet, "/metrics", nil, "")
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, apiError(resp)
	}
	return parseCollectorStatus(io.LimitReader(resp.Body, 64<<20))
}

// parseCollectorStatus reads the Prometheus text format and groups the
// mangrove_collector_* series by (type, collector).
func parseCollectorStatus(r io.Reader) ([]collectorStatus, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing metrics: %w", err)
	}
	byKey := map[[2]string]*collectorStatus{}
	set := func(name string, apply func(s *collectorStatus, v float64)) {
		fam, ok := fams[name]
		if !ok {
			return
		}
		for _, m := range fam.GetMetric() {
			var typ, col string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case collectors.LabelType:
					typ = l.GetValue()
				case collectors.LabelCollector:
					col = l.GetValue()
				}
			}
			k := [2]string{typ, col}
			s := byKey[k]
			if s == nil {
				s = &collectorStatus{Name: col, Type: typ}
				byKey[k] = s
			}
			apply(s, metricValue(m))
		}
	}
	set(collectors.MetricIn, func(s *collectorStatus, v float64) { s.In = v })
	set(collectors.MetricParseErrors, func(s *collectorStatus, v float64) { s.ParseErrors = v })
	set(collectors.MetricDropped, func(s *collectorStatus, v float64) { s.Dropped = v })
	set(collectors.MetricBytes, func(s *collectorStatus, v float64) { s.Bytes = v })
	set(collectors.MetricLag, func(s *collectorStatus, v float64) { s.LagSeconds = v })
	set(collectors.MetricLastSeen, func(s *collectorStatus, v float64) {
		if v > 0 {
			sec, frac := math.Modf(v)
			s.LastSeen = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		}
	})
	out := make([]collectorStatus, 0, len(byKey))
	for _, s := range byKey {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Type < out[j].Type
	})
	return out, nil
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func printCollectorStatus(w io.Writer, rows []collectorStatus, now time.Time) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no collectors report metrics")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COLLECTOR\tTYPE\tIN\tPARSE ERRORS\tDROPPED\tLAG\tLAST SEEN")
	for _, r := range rows {
		last := "never"
		if !r.LastSeen.IsZero() {
			last = fmt.Sprintf("%s ago (%s)", now.Sub(r.LastSeen).Round(time.Second), r.LastSeen.Format(time.RFC3339))
		}
		lag := time.Duration(r.LagSeconds * float64(time.Second)).Round(time.Millisecond)
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%s\t%s\n", r.Name, r.Type, r.In, r.ParseErrors, r.Dropped, lag, last)
	}
	return tw.Flush()
}
