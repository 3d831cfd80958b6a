package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
)

// BenchmarkTailOpenSSH reads a file of 100,000 sshd lines from the start,
// parsing each, with a publisher that acknowledges at once; it reports
// lines/s end to end (read, split, parse, ID, batch, commit).
func BenchmarkTailOpenSSH(b *testing.B) {
	const n = 100000
	dir := b.TempDir()
	log := filepath.Join(dir, "auth.log")
	f, err := os.Create(log)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		fmt.Fprintf(f, "Nov 25 10:00:01 web1 sshd[%d]: Failed password for invalid user admin%d from 203.0.113.%d port %d ssh2\n", 1000+i%5000, i%100, i%250, 1024+i%60000)
	}
	f.Close()
	st, _ := os.Stat(log)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		var got atomic.Int64
		ctx, cancel := context.WithCancel(b.Context())
		p := publisherFunc(func(batch *event.Batch) {
			if got.Add(int64(len(batch.Events))) >= n {
				cancel()
			}
			batch.Done(nil)
		})
		s := testSpec(log)
		s.Parser = "openssh"
		s.BatchSize = 1024
		col, err := s.Build("bench", collectors.Env{DataDir: b.TempDir(), Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		if err := col.Run(ctx, p); err != nil {
			b.Fatal(err)
		}
		if got.Load() != n {
			b.Fatalf("%d lines, want %d", got.Load(), n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
}
