package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/pcap"
)

func newPcapCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "pcap",
		Short: "Turn packet captures into network events (flows, DNS)",
	}
	var format string
	var seed uint16
	var hexID, stats bool
	var maxFlows int
	decode := &cobra.Command{
		Use:   "decode FILE",
		Short: "Decode a pcap or pcapng file offline and print its events",
		Long: `Read a pcap or pcapng file (gzip-compressed or not; "-" reads standard
input) and print its flow and DNS events as NDJSON, one event per line, in the
same JSON form the pipeline stores. Flows carry the Community ID v1 hash
(network.community_id), packets and bytes per direction and a Zeek-style
conn_state (zeek.connection.state). Malformed packets are counted, not fatal;
--stats prints the counters on standard error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "ndjson" {
				return fmt.Errorf("pcap decode: unknown --format %q (supported: ndjson)", format)
			}
			in := os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("pcap decode: %w", err)
				}
				defer f.Close()
				in = f
			}
			w := bufio.NewWriterSize(g.stdout, 1<<16)
			var line []byte
			opts := pcap.Options{
				Source:      "pcap",
				MaxFlows:    maxFlows,
				CommunityID: pcap.CommunityID{Seed: seed, Hex: hexID},
			}
			st, err := pcap.ReadFile(cmd.Context(), in, opts, func(ev *event.Event) error {
				line = append(event.AppendJSON(line[:0], ev), '\n')
				_, err := w.Write(line)
				return err
			})
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
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
	decode.Flags().Uint16Var(&seed, "community-id-seed", 0, "Community ID seed")
	decode.Flags().BoolVar(&hexID, "community-id-hex", false, "Community ID as hex instead of base64")
	decode.Flags().BoolVar(&stats, "stats", false, "print packet counters (JSON) on standard error")
	decode.Flags().IntVar(&maxFlows, "max-flows", pcap.DefaultMaxFlows, "flows tracked at once; the longest idle is reported early when full")
	c.AddCommand(decode)
	return c
}
