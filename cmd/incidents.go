package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/internal/api"
)

// newIncidentsCmd is what an operator scripts against a running server:
// list, show, assign, transition, and the Vietnamese reports.
func newIncidentsCmd(g *globals) *cobra.Command {
	inc := &cobra.Command{Use: "incidents", Short: "Work with incidents on a running server"}
	var server, tokenFile, format string
	client := func() (*client, error) { return newClient(server, tokenFile) }
	flags := func(c *cobra.Command) *cobra.Command {
		addClientFlags(c, &server, &tokenFile)
		return c
	}

	var state, severity, assignee, text, sortBy, category string
	var open, all bool
	var limit int
	list := flags(&cobra.Command{
		Use:   "list",
		Short: "List incidents, most recently updated first",
		Example: `  mangrove incidents list --open --min-severity high
  mangrove incidents list --state new,triaged --sort priority --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"state": state, "min_severity": severity, "assignee": assignee, "q": text, "sort": sortBy, "category": category} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if open {
				q.Set("open", "true")
			}
			q.Set("limit", fmt.Sprint(min(limit, 1000)))
			var items []api.IncidentSummary
			for {
				var page api.IncidentPage
				if err := cl.getJSON(cmd.Context(), "/api/v1/incidents?"+q.Encode(), &page); err != nil {
					return err
				}
				items = append(items, page.Items...)
				if !all || page.Next == "" || len(items) >= limit {
					break
				}
				q.Set("cursor", page.Next)
			}
			if len(items) > limit {
				items = items[:limit]
			}
			if format == "json" {
				return writeJSONOut(g.stdout, items)
			}
			tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tSEVERITY\tPRIO\tTENANT\tALERTS\tASSIGNEE\tOVERDUE\tTITLE")
			for _, it := range items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", it.ID, it.State, it.Severity, it.Priority, it.Tenant, it.AlertCount,
					dash(it.Assignee), dash(strings.Join(it.Overdue, ",")), it.Title)
			}
			return tw.Flush()
		},
	})
	list.Flags().StringVar(&state, "state", "", "comma-separated states")
	list.Flags().BoolVar(&open, "open", false, "only incidents not closed or dismissed")
	list.Flags().StringVar(&severity, "min-severity", "", "informational, low, medium, high, critical")
	list.Flags().StringVar(&assignee, "assignee", "", "assigned to")
	list.Flags().StringVar(&category, "category", "", "national category (malware, ddos, web_defacement, phishing, intrusion, data_leak, …)")
	list.Flags().StringVar(&text, "q", "", "text in the title")
	list.Flags().StringVar(&sortBy, "sort", "", "updated (default), created, detected, priority, severity; + prefix for ascending")
	list.Flags().IntVar(&limit, "limit", 100, "incidents to print")
	list.Flags().BoolVar(&all, "all", false, "follow pages until --limit")
	list.Flags().StringVar(&format, "format", "table", "table or json")

	show := flags(&cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its alerts, tasks, observables, deadlines and timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			var d api.IncidentDetail
			if err := cl.getJSON(cmd.Context(), "/api/v1/incidents/"+url.PathEscape(args[0]), &d); err != nil {
				return err
			}
			if format == "json" {
				return writeJSONOut(g.stdout, d)
			}
			w := g.stdout
			fmt.Fprintf(w, "%s  %s\n", d.ID, d.Title)
			fmt.Fprintf(w, "  tenant %s · state %s · severity %s · priority %d · category %s · version %d\n", d.Tenant, d.State, d.Severity, d.Priority,
				dash(string(d.Category)), d.Version)
			fmt.Fprintf(w, "  assignee %s · team %s · alerts %d · detected %s\n", dash(d.Assignee), dash(d.Team), d.AlertCount, d.DetectedAt.Format(time.RFC3339))
			for _, s := range d.Systems {
				fmt.Fprintf(w, "  system %s (%s), level %d\n", s.ID, s.Name, s.Level)
			}
			if len(d.Deadlines) > 0 {
				fmt.Fprintln(w, "Deadlines:")
				for _, dl := range d.Deadlines {
					status := "due " + dl.Due.Format(time.RFC3339)
					switch {
					case dl.Met:
						status = "met"
					case dl.Overdue:
						status = "OVERDUE since " + dl.Due.Format(time.RFC3339)
					}
					fmt.Fprintf(w, "  %-34s %s  (%s)\n", dl.ID, status, dl.Basis)
				}
			}
			for _, t := range d.Tasks {
				fmt.Fprintf(w, "  task %s [%s] %s (%s)\n", t.ID, map[bool]string{true: "x", false: " "}[t.Done], t.Title, dash(t.Owner))
			}
			for _, o := range d.Observables {
				fmt.Fprintf(w, "  observable %s %s\n", o.Kind, o.Value)
			}
			fmt.Fprintf(w, "Next states for you: %v\n", d.NextStates)
			return nil
		},
	})
	show.Flags().StringVar(&format, "format", "text", "text or json")

	var team string
	assign := flags(&cobra.Command{
		Use:   "assign ID USER",
		Short: "Assign an incident to a person (and optionally a team)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			req := api.AssignRequest{Assignee: args[1]}
			if cmd.Flags().Changed("team") {
				req.Team = &team
			}
			return cl.postJSON(cmd.Context(), "/api/v1/incidents/"+url.PathEscape(args[0])+"/assign", req, g.stdout)
		},
	})
	assign.Flags().StringVar(&team, "team", "", "team")

	var reason, duplicateOf string
	transition := flags(&cobra.Command{
		Use:     "transition ID STATE",
		Short:   "Move an incident to another state (new, triaged, investigating, contained, eradicated, recovered, closed, false_positive, duplicate)",
		Example: "  mangrove incidents transition INC-0123456789abcdef contained --reason 'host isolated'",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			req := map[string]string{"state": args[1]}
			if reason != "" {
				req["reason"] = reason
			}
			if duplicateOf != "" {
				req["duplicate_of"] = duplicateOf
			}
			return cl.postJSON(cmd.Context(), "/api/v1/incidents/"+url.PathEscape(args[0])+"/transition", req, g.stdout)
		},
	})
	transition.Flags().StringVar(&reason, "reason", "", "why (kept in the timeline)")
	transition.Flags().StringVar(&duplicateOf, "duplicate-of", "", "the incident this one duplicates (state duplicate)")

	var out, kind string
	report := flags(&cobra.Command{
		Use:   "report ID",
		Short: "Write an incident's report to the authority, in Vietnamese, as HTML or PDF",
		Example: `  mangrove incidents report INC-0123456789abcdef --kind initial --format pdf -o bao-cao-ban-dau.pdf
  kinds: notice, initial, report_72h, closing, pdp_breach`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			resp, err := cl.do(cmd.Context(), "GET", "/api/v1/incidents/"+url.PathEscape(args[0])+"/reports/"+url.PathEscape(kind)+"?format="+url.QueryEscape(format), nil, "")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return apiError(resp)
			}
			w := g.stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			_, err = io.Copy(w, resp.Body)
			return err
		},
	})
	report.Flags().StringVar(&kind, "kind", "notice", "notice, initial, report_72h, closing or pdp_breach")
	report.Flags().StringVarP(&out, "output", "o", "", "file to write (default stdout)")
	report.Flags().StringVar(&format, "format", "html", "html or pdf")

	inc.AddCommand(list, show, assign, transition, report)
	return inc
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// getJSON GETs path and decodes a 200 answer into v.
func (c *client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, "GET", path, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("reading answer: %w", err)
	}
	return nil
}

// postJSON POSTs v and copies a 2xx answer to out.
func (c *client) postJSON(ctx context.Context, path string, v any, out io.Writer) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, "POST", path, bytes.NewReader(b), "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return apiError(resp)
	}
	_, err = io.Copy(out, resp.Body)
	return err
}
