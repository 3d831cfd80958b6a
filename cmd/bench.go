package cmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/detections/engine"
	"github.com/mangrove-soc/mangrove/detections/rulepack"
	"github.com/mangrove-soc/mangrove/internal/bus"
	"github.com/mangrove-soc/mangrove/internal/search/local"
	"github.com/mangrove-soc/mangrove/internal/store/sqlite"
)

func newBenchCmd(g *globals) *cobra.Command {
	var n, batch, workers int
	var busType, sync, eventsFile string
	var noStore bool
	var ruleDirs []string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure whole-pipeline throughput in-process: bus → detection → incidents (+ event store)",
		Long: `Publish synthetic events (Sysmon process creations and SSH logins, 1 in 100
matching a built-in rule) through the real bus, detection engine with the
built-in rules, case store and event store, all in a temporary data directory,
and report events/s for each stage. Nothing is sent over HTTP: for the HTTP
path, run mangrove serve and mangrove ingest.

With --rules, the rule files and directories given are loaded too (a SigmaHQ
checkout, your own pack); with --events-file, the events are those of an
NDJSON file instead (Sysmon, Winlogbeat or ECS events), repeated until
--events are sent, each copy with its own event ID.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), g, benchOptions{n: n, batch: batch, workers: workers, bus: busType, sync: sync,
				store: !noStore, rules: ruleDirs, eventsFile: eventsFile})
		},
	}
	c.Flags().IntVar(&n, "events", 200000, "events to send")
	c.Flags().IntVar(&batch, "batch", 1000, "events per batch")
	c.Flags().IntVar(&workers, "workers", 2, "concurrent detection handlers")
	c.Flags().StringVar(&busType, "bus", "jetstream", "jetstream or memory")
	c.Flags().StringVar(&sync, "sync", "always", "JetStream fsync: always (every batch) or interval")
	c.Flags().BoolVar(&noStore, "no-event-store", false, "do not index events for search")
	c.Flags().StringArrayVar(&ruleDirs, "rules", nil, "rule file or directory tree to load besides the built-in rules (repeatable)")
	c.Flags().StringVar(&eventsFile, "events-file", "", "NDJSON file of events to send instead of the synthetic ones")
	return c
}

type benchOptions struct {
	n, batch, workers int
	bus, sync         string
	store             bool
	rules             []string
	eventsFile        string
}

// fileEvents reads the NDJSON events of path (at most maxBenchFileLines
// lines, each within the decoder's limits) and repeats them until there are
// n, each copy with its own ID (the bus drops a repeated ID as a
// duplicate). A line that does not decode is an error naming it.
func fileEvents(path string, n int) ([]event.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), event.DefaultLimits.MaxBytes+1)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			if len(lines) == maxBenchFileLines {
				return nil, fmt.Errorf("%s: more than %d events", path, maxBenchFileLines)
			}
			lines = append(lines, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no events", path)
	}
	var dec event.Decoder
	out := make([]event.Event, n)
	now := time.Now().UTC()
	for i := range out {
		line := lines[i%len(lines)]
		ev := event.Event{Tenant: "so-tttt", Source: "bench", Dataset: "bench", Time: now}
		if err := dec.Decode(line, &ev); err != nil {
			return nil, fmt.Errorf("%s: event %d: %w", path, i%len(lines)+1, err)
		}
		ev.ID = event.NewID(ev.Tenant, fmt.Appendf(line, "\n%d", i/len(lines)))
		out[i] = ev
	}
	return out, nil
}

// maxBenchFileLines bounds the events read from --events-file.
const maxBenchFileLines = 1 << 20

// benchEvents returns n synthetic events; every 100th is an encoded
// PowerShell process creation that the built-in rules detect.
func benchEvents(n int) []event.Event {
	var dec event.Decoder
	out := make([]event.Event, n)
	for i := range out {
		var line string
		switch {
		case i%100 == 0:
			line = fmt.Sprintf(`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws-%03d.so-tttt.local","Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","CommandLine":"powershell.exe -nop -w hidden -enc SQBFAFgA%d","User":"SOTTTT\\user%d"}`, i%500, i, i%50)
		case i%2 == 0:
			line = fmt.Sprintf(`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws-%03d.so-tttt.local","Image":"C:\\Windows\\System32\\svchost.exe","CommandLine":"C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule %d","User":"NT AUTHORITY\\SYSTEM"}`, i%500, i)
		default:
			line = fmt.Sprintf(`{"@timestamp":"2026-11-25T10:00:00Z","event.dataset":"syslog","host":{"name":"srv-%02d"},"process":{"name":"sshd","pid":%d},"message":"Accepted publickey for deploy from 10.10.%d.%d port 52200 ssh2"}`, i%40, 1000+i%30000, i%250, i%200)
		}
		ev := event.Event{Tenant: "so-tttt", Source: "bench", Dataset: "bench", Time: time.Now().UTC()}
		if err := dec.Decode([]byte(line), &ev); err != nil {
			panic(err) // the lines above are fixed and valid
		}
		ev.ID = event.NewID(ev.Tenant, []byte(line))
		out[i] = ev
	}
	return out
}

func runBench(ctx context.Context, g *globals, o benchOptions) error {
	dir, err := os.MkdirTemp("", "mangrove-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := zerolog.Nop()
	var b bus.Bus
	consumers := []string{consumerDetect}
	if o.store {
		consumers = append(consumers, consumerStore)
	}
	if o.bus == "memory" {
		if b, err = bus.NewMemory(bus.MemoryConfig{Consumers: consumers}); err != nil {
			return err
		}
	} else {
		cfg := bus.Config{StoreDir: filepath.Join(dir, "bus"), Sync: o.sync, Consumers: consumers}
		if b, err = bus.OpenJetStream(ctx, cfg, log); err != nil {
			return err
		}
	}
	defer b.Close()
	cases, err := sqlite.Open(ctx, filepath.Join(dir, "mangrove.db"))
	if err != nil {
		return err
	}
	defer cases.Close()
	rules, rep := rulepack.Load(ruleRegistry(), rulepack.Config{Dirs: o.rules})
	if len(o.rules) > 0 {
		fmt.Fprintf(g.stderr, "rules: %d loaded from %d files, %d files failed, %d unsupported documents (mangrove rules lint lists them)\n",
			rep.Rules, rep.Files, len(rep.Errors), rep.Unsupported)
	}
	eng := engine.New(engine.Config{Group: groupRules}, rules)

	var events []event.Event
	if o.eventsFile != "" {
		fmt.Fprintf(g.stderr, "reading %s...\n", o.eventsFile)
		if events, err = fileEvents(o.eventsFile, o.n); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stderr, "generating %d events...\n", o.n)
		events = benchEvents(o.n)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { eng.Run(runCtx, time.Second, nil) })

	var detected, stored atomic.Int64
	detectDone, storeDone := make(chan time.Time, 1), make(chan time.Time, 1)
	p := newPipeline(eng, cases, nil, log)
	mark := func(c *atomic.Int64, done chan time.Time, k int) {
		if c.Add(int64(k)) >= int64(o.n) {
			select {
			case done <- time.Now():
			default:
			}
		}
	}
	start := time.Now()
	wg.Go(func() {
		b.Consume(runCtx, consumerDetect, o.workers, func(ctx context.Context, evs []event.Event) error {
			if err := p.detect(ctx, evs); err != nil {
				return err
			}
			mark(&detected, detectDone, len(evs))
			return nil
		})
	})
	if o.store {
		es, err := local.Open(local.Config{Dir: filepath.Join(dir, "events"), Retention: 30 * 24 * time.Hour})
		if err != nil {
			return err
		}
		defer es.Close()
		wg.Go(func() {
			b.Consume(runCtx, consumerStore, 1, func(ctx context.Context, evs []event.Event) error {
				if err := es.Index(ctx, evs); err != nil {
					return err
				}
				mark(&stored, storeDone, len(evs))
				return nil
			})
		})
	}

	var acked sync.WaitGroup
	var pubErr atomic.Value
	for i := 0; i < len(events); i += o.batch {
		acked.Add(1)
		bt := event.NewBatch(events[i:min(i+o.batch, len(events))], func(err error) {
			if err != nil {
				pubErr.Store(err)
			}
			acked.Done()
		})
		if err := b.Publish(ctx, bt); err != nil {
			return err
		}
	}
	acked.Wait()
	pubEnd := time.Now()
	if err, _ := pubErr.Load().(error); err != nil {
		return err
	}
	report := func(stage string, end time.Time) {
		el := end.Sub(start)
		fmt.Fprintf(g.stdout, "%-28s %9d events in %8s  %10.0f events/s\n", stage, o.n, el.Round(time.Millisecond), float64(o.n)/el.Seconds())
	}
	fmt.Fprintf(g.stdout, "bus=%s sync=%s batch=%d workers=%d rules=%d\n", o.bus, o.sync, o.batch, o.workers, len(rules))
	report("published (acked by bus)", pubEnd)
	wait := func(done chan time.Time) (time.Time, error) {
		select {
		case t := <-done:
			return t, nil
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	t, err := wait(detectDone)
	if err != nil {
		return err
	}
	report("detected (alerts stored)", t)
	if o.store {
		if t, err = wait(storeDone); err != nil {
			return err
		}
		report("indexed (event store)", t)
	}
	fmt.Fprintf(g.stdout, "alerts: %d\n", eng.Stats().Alerts)
	return nil
}
