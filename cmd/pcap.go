package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap"
)

// pcapFlags are the decoding options shared by pcap decode and import.
type pcapFlags struct {
	seed           uint16
	hexID          bool
	maxFlows       int
	maxStreamBytes int
	maxStreamBuf   int
	maxReassembly  int
}

func (f *pcapFlags) add(fs *pflag.FlagSet) {
	fs.Uint16Var(&f.seed, "community-id-seed", 0, "Community ID seed")
	fs.BoolVar(&f.hexID, "community-id-hex", false, "Community ID as hex instead of base64")
	fs.IntVar(&f.maxFlows, "max-flows", pcap.DefaultMaxFlows, "flows tracked at once; the longest idle is reported early when full")
	fs.IntVar(&f.maxStreamBytes, "max-stream-bytes", pcap.DefaultMaxStreamBytes, "bytes inspected per TCP direction")
	fs.IntVar(&f.maxStreamBuf, "max-stream-buffer", pcap.DefaultMaxStreamBuffer, "bytes buffered per TCP direction for reassembly")
	fs.IntVar(&f.maxReassembly, "max-reassembly-bytes", pcap.DefaultMaxReassemblyBytes, "bytes buffered for all TCP streams together")
}

func (f *pcapFlags) options() pcap.Options {
	return pcap.Options{
		Source:             "pcap",
		MaxFlows:           f.maxFlows,
		CommunityID:        pcap.CommunityID{Seed: f.seed, Hex: f.hexID},
		MaxStreamBytes:     f.maxStreamBytes,
		MaxStreamBuffer:    f.maxStreamBuf,
		MaxReassemblyBytes: f.maxReassembly,
	}
}

// openCapture opens FILE, or standard input for "-"; size is -1 when
// unknown.
func openCapture(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return f, size, nil
}

// decodeNDJSON decodes a capture and writes its events to w as NDJSON.
func decodeNDJSON(ctx context.Context, in io.Reader, opts pcap.Options, w io.Writer) (pcap.Stats, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var line []byte
	st, err := pcap.ReadFile(ctx, in, opts, func(ev *event.Event) error {
		line = append(event.AppendJSON(line[:0], ev), '\n')
		_, err := bw.Write(line)
		return err
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return st, err
}

func newPcapCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "pcap",
		Short: "Turn packet captures into network events (flows, DNS, TLS, HTTP, SSH, logins)",
	}
	c.AddCommand(newPcapDecodeCmd(g), newPcapImportCmd(g))
	return c
}

func newPcapDecodeCmd(g *globals) *cobra.Command {
	var format string
	var stats bool
	var pf pcapFlags
	decode := &cobra.Command{
		Use:   "decode FILE",
		Short: "Decode a pcap or pcapng file offline and print its events",
		Long: `Read a pcap or pcapng file (gzip-compressed or not; "-" reads standard
input) and print its events as NDJSON, one event per line, in the same JSON
form the pipeline stores: flows ("flow": Community ID v1 in
network.community_id, packets and bytes per direction, Zeek-style conn_state
in zeek.connection.state), DNS messages ("dns"), and from reassembled TCP
streams TLS hellos ("network.tls": SNI, JA3, JA3S, JA4), HTTP/1.x exchanges
("network.http"), SSH banners ("network.ssh") and cleartext FTP and Telnet
logins ("network.ftp", "network.telnet"; user names only, never passwords).
Malformed packets are counted, not fatal; --stats prints the counters on
standard error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "ndjson" {
				return fmt.Errorf("pcap decode: unknown --format %q (supported: ndjson)", format)
			}
			in, _, err := openCapture(args[0])
			if err != nil {
				return fmt.Errorf("pcap decode: %w", err)
			}
			defer in.Close()
			st, err := decodeNDJSON(cmd.Context(), in, pf.options(), g.stdout)
			if stats {
				b, _ := json.Marshal(st)
				fmt.Fprintln(g.stderr, string(b))
			}
			if err != nil {
				return fmt.Errorf("pcap decode %s: %w", args[0], err)
			}
			return nil
		},
	}
	decode.Flags().StringVar(&format, "format", "ndjson", "output format: ndjson")
	decode.Flags().BoolVar(&stats, "stats", false, "print packet counters (JSON) on standard error")
	pf.add(decode.Flags())
	return decode
}

// errImportStopped unblocks the decoder when the upload ends first.
var errImportStopped = errors.New("upload stopped")

func newPcapImportCmd(g *globals) *cobra.Command {
	var server, tokenFile string
	var chunkLines, parallel int
	var quiet bool
	var pf pcapFlags
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Decode a capture and send its events to a running server",
		Long: `Decode a pcap or pcapng file ("-" for standard input) like "pcap decode"
and send the events to POST /api/v1/events of a running server, in chunks,
several in flight, the way "mangrove ingest" sends NDJSON: a chunk counts once
the server acknowledged it, unavailable answers are retried, and the
deterministic event IDs make a repeated import store nothing twice. The
progress bar follows the bytes of the capture read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(server, tokenFile)
			if err != nil {
				return err
			}
			f, size, err := openCapture(args[0])
			if err != nil {
				return fmt.Errorf("pcap import: %w", err)
			}
			defer f.Close()
			var in io.Reader = f
			var bar *progressbar.ProgressBar
			if !quiet {
				bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(g.stderr), progressbar.OptionShowBytes(true),
					progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionClearOnFinish())
				in = io.TeeReader(in, bar)
			}
			ctx := cmd.Context()
			start := time.Now()
			pr, pw := io.Pipe()
			type decoded struct {
				st  pcap.Stats
				err error
			}
			done := make(chan decoded, 1)
			go func() {
				st, err := decodeNDJSON(ctx, in, pf.options(), pw)
				pw.CloseWithError(err)
				done <- decoded{st, err}
			}()
			res, upErr := cl.ingest(ctx, pr, "", chunkLines, parallel)
			pr.CloseWithError(errImportStopped)
			dec := <-done
			if bar != nil {
				bar.Finish()
			}
			el := time.Since(start)
			fmt.Fprintf(g.stdout, "imported %d events (%d packets, %d flows), rejected %d, in %s\n",
				res.Accepted, dec.st.Packets, dec.st.Flows, res.Rejected, el.Round(time.Millisecond))
			for _, le := range res.Errors {
				fmt.Fprintf(g.stdout, "  event %d: %s\n", le.Line, le.Error)
			}
			if dec.err != nil && !errors.Is(dec.err, errImportStopped) {
				return fmt.Errorf("pcap import %s: decoding: %w", args[0], dec.err)
			}
			if upErr != nil {
				return fmt.Errorf("pcap import %s: sending: %w", args[0], upErr)
			}
			if res.Rejected > 0 {
				return fmt.Errorf("pcap import %s: the server rejected %d events", args[0], res.Rejected)
			}
			return nil
		},
	}
	addClientFlags(c, &server, &tokenFile)
	c.Flags().IntVar(&chunkLines, "chunk", 5000, "events per request")
	c.Flags().IntVar(&parallel, "parallel", 4, "requests in flight")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	pf.add(c.Flags())
	return c
}
