package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/rulepack"
)

func newRulesCmd(g *globals) *cobra.Command {
	rules := &cobra.Command{Use: "rules", Short: "Check rule files and try them on events, offline"}
	rules.AddCommand(newRulesLintCmd(g), newRulesTestCmd(g))
	return rules
}

// lintFailure is one rule file, or one rule of a file, that did not load.
type lintFailure struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

type lintResult struct {
	Loaded int           `json:"loaded"`
	Failed []lintFailure `json:"failed"`
}

// loadRules loads every rule file under paths (files or directory trees)
// with the binary's rule kinds. A path that does not exist is a failure.
func loadRules(paths []string) ([]detections.Rule, rulepack.Report, []lintFailure) {
	var failed []lintFailure
	var dirs []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			failed = append(failed, lintFailure{File: p, Error: err.Error()})
			continue
		}
		dirs = append(dirs, p)
	}
	no := false
	rules, rep := rulepack.Load(ruleRegistry(), rulepack.Config{Builtin: &no, Dirs: dirs})
	for _, e := range append(append([]error(nil), rep.Errors...), rep.UnsupportedErrors...) {
		failed = append(failed, failureOf(e))
	}
	sort.SliceStable(failed, func(i, j int) bool { return failed[i].File < failed[j].File })
	return rules, rep, failed
}

// failureOf splits "path: reason" (the form rulepack and the kinds use) into
// the file and the reason.
func failureOf(e error) lintFailure {
	msg := e.Error()
	if file, reason, ok := strings.Cut(msg, ": "); ok && !strings.ContainsAny(file, "\n") {
		return lintFailure{File: file, Error: reason}
	}
	return lintFailure{Error: msg}
}

func newRulesLintCmd(g *globals) *cobra.Command {
	var (
		format  string
		verbose bool
	)
	c := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Load every rule file under the paths and report each that does not load, with the reason",
		Long: "Loads every rule file (Sigma .yml/.yaml, indicator sets .csv/.misp/.stix) under the given files\n" +
			"and directory trees with the rule kinds of this binary. Prints what loaded and, for each file or\n" +
			"rule that did not, the file and the reason. Exits 1 when anything failed.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, paths []string) error {
			if format != "text" && format != "json" {
				return exitError{2, fmt.Errorf("--format %q: want text or json", format)}
			}
			rules, rep, failed := loadRules(paths)
			res := lintResult{Loaded: rep.Rules, Failed: failed}
			if res.Failed == nil {
				res.Failed = []lintFailure{}
			}
			if format == "json" {
				enc := json.NewEncoder(g.stdout)
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				kinds := map[string]int{}
				for _, r := range rules {
					kinds[r.Meta().Kind]++
				}
				var parts []string
				for _, k := range sortedKeys(kinds) {
					parts = append(parts, fmt.Sprintf("%s %d", k, kinds[k]))
				}
				fmt.Fprintf(g.stdout, "loaded %d rules from %d files (%s); %d failed\n",
					rep.Rules, rep.Files, strings.Join(parts, ", "), len(failed))
				if verbose {
					for _, r := range rules {
						m := r.Meta()
						fmt.Fprintf(g.stdout, "ok %s: %s %s %q\n", m.Path, m.Kind, m.ID, m.Title)
					}
				}
				for _, f := range failed {
					fmt.Fprintf(g.stdout, "FAILED %s: %s\n", f.File, f.Error)
				}
			}
			if len(failed) > 0 {
				return exitError{1, fmt.Errorf("%d rule files or rules failed to load", len(failed))}
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "text format: also list every rule that loaded")
	return c
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// testAlert is one line of `rules test` output.
type testAlert struct {
	RuleID   string `json:"rule.id"`
	RuleName string `json:"rule.name"`
	Sequence int    `json:"event.sequence"`
	Severity string `json:"severity"`
	EventID  string `json:"event.id"`
}

// maxEventsFileEvents bounds the events one `rules test` run reads.
const maxEventsFileEvents = 10_000_000

// readEvents calls fn with each event of r, in order, with its 0-based
// sequence: NDJSON, a stream of (pretty-printed) objects, one object, or a
// JSON array of objects.
func readEvents(r io.Reader, fn func(seq int, ev *event.Event) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	dec := json.NewDecoder(br)
	var d event.Decoder
	var ev event.Event
	seq := 0
	one := func(raw json.RawMessage) error {
		if seq >= maxEventsFileEvents {
			return fmt.Errorf("more than %d events", maxEventsFileEvents)
		}
		ev = event.Event{ID: event.NewID("", raw)}
		if err := d.Decode(raw, &ev); err != nil {
			return fmt.Errorf("event %d: %w", seq, err)
		}
		if err := fn(seq, &ev); err != nil {
			return err
		}
		seq++
		return nil
	}
	// Peek at the first non-space byte: '[' is an array of events.
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.ContainsRune(" \t\r\n", rune(b[0])) {
			br.ReadByte()
			continue
		}
		if b[0] == '[' {
			if _, err := dec.Token(); err != nil {
				return err
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return fmt.Errorf("event %d: %w", seq, err)
				}
				if err := one(raw); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return fmt.Errorf("after event %d: %w", seq, err)
			}
			return nil
		}
		break
	}
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("event %d: %w", seq, err)
		}
		if err := one(raw); err != nil {
			return err
		}
	}
}

// runRules evaluates rules over the events of r in order, offline, and
// returns one testAlert per finding, ordered by event sequence and rule id. Stateful rules (detections.Ticker) are
// ticked a day after the last event so that pending windows close.
func runRules(ctx context.Context, rules []detections.Rule, r io.Reader) ([]testAlert, int, error) {
	metas := make([]detections.Meta, len(rules))
	for i, rl := range rules {
		metas[i] = rl.Meta()
	}
	var out []testAlert
	seqOf := map[string]int{}
	var last time.Time
	n := 0
	add := func(m *detections.Meta, seq int, f detections.Finding) {
		a := testAlert{RuleID: m.ID, RuleName: m.Title, Sequence: seq, Severity: m.Severity.String()}
		if len(f.Events) > 0 {
			a.EventID = f.Events[len(f.Events)-1].ID
		}
		out = append(out, a)
	}
	var evalErrs []error
	err := readEvents(r, func(seq int, ev *event.Event) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		n++
		seqOf[ev.ID] = seq
		if ev.Time.After(last) {
			last = ev.Time
		}
		for i, rl := range rules {
			if err := rl.Eval(ctx, ev, func(f detections.Finding) { add(&metas[i], seq, f) }); err != nil && len(evalErrs) < 10 {
				evalErrs = append(evalErrs, fmt.Errorf("rule %s on event %d: %w", metas[i].ID, seq, err))
			}
		}
		return nil
	})
	if err != nil {
		return out, n, err
	}
	for i, rl := range rules {
		t, ok := rl.(detections.Ticker)
		if !ok {
			continue
		}
		_ = t.Tick(ctx, last.Add(24*time.Hour), func(f detections.Finding) {
			seq := -1
			if len(f.Events) > 0 {
				if s, ok := seqOf[f.Events[len(f.Events)-1].ID]; ok {
					seq = s
				}
			}
			add(&metas[i], seq, f)
		})
	}
	// Event order, then rule id: independent of the order rules load in.
	// Findings without a known event (-1) come last.
	key := func(a testAlert) int {
		if a.Sequence < 0 {
			return int(^uint(0) >> 1)
		}
		return a.Sequence
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ki, kj := key(out[i]), key(out[j]); ki != kj {
			return ki < kj
		}
		return out[i].RuleID < out[j].RuleID
	})
	return out, n, errors.Join(evalErrs...)
}

func newRulesTestCmd(g *globals) *cobra.Command {
	var (
		rulePaths  []string
		eventsPath string
		format     string
	)
	c := &cobra.Command{
		Use:   "test --rules PATH... --events FILE",
		Short: "Run rules over a file of events, offline, and print one line per alert",
		Long: "Runs the rules under the --rules files and directory trees over the events of --events (NDJSON,\n" +
			"a stream of JSON objects, one object, or a JSON array; - reads standard input) in order, without a\n" +
			"server, and prints one line per alert: rule.id, rule.name, event.sequence (0-based position of the\n" +
			"matched event), severity and event.id. --format ndjson prints each alert as a JSON object.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if format != "table" && format != "ndjson" {
				return exitError{2, fmt.Errorf("--format %q: want table or ndjson", format)}
			}
			if len(rulePaths) == 0 || eventsPath == "" {
				return exitError{2, errors.New("--rules and --events are required")}
			}
			rules, _, failed := loadRules(rulePaths)
			for _, f := range failed {
				fmt.Fprintf(g.stderr, "warning: rule not loaded: %s: %s\n", f.File, f.Error)
			}
			if len(rules) == 0 {
				return exitError{2, errors.New("no rules loaded")}
			}
			var in io.Reader = os.Stdin
			if eventsPath != "-" {
				f, err := os.Open(eventsPath)
				if err != nil {
					return exitError{2, err}
				}
				defer f.Close()
				in = f
			}
			alerts, n, err := runRules(c.Context(), rules, in)
			if err != nil && n == 0 {
				return exitError{2, fmt.Errorf("%s: %w", eventsPath, err)}
			}
			if err := printAlerts(g.stdout, format, alerts); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "%d alerts from %d events and %d rules\n", len(alerts), n, len(rules))
			if err != nil {
				return exitError{2, fmt.Errorf("%s: %w", eventsPath, err)}
			}
			return nil
		},
	}
	c.Flags().StringSliceVar(&rulePaths, "rules", nil, "rule files or directory trees (repeatable)")
	c.Flags().StringVar(&eventsPath, "events", "", "file of events (NDJSON, JSON objects or a JSON array); - for standard input")
	c.Flags().StringVar(&format, "format", "table", "output format: table or ndjson")
	return c
}

func printAlerts(w io.Writer, format string, alerts []testAlert) error {
	if format == "ndjson" {
		enc := json.NewEncoder(w)
		for _, a := range alerts {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT.SEQUENCE\tRULE.ID\tSEVERITY\tRULE.NAME\tEVENT.ID")
	for _, a := range alerts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", a.Sequence, a.RuleID, a.Severity, a.RuleName, a.EventID)
	}
	return tw.Flush()
}
