// Package cmd is the mangrove command line: the cobra commands, the
// composition of the configuration, and the wiring of every area into one
// running process. It holds no domain logic.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Version is set at build time with -ldflags "-X .../cmd.Version=v1.2.3";
// otherwise it comes from the module build info.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			fmt.Fprintln(stderr, "mangrove:", ee.err)
			return ee.code
		}
		fmt.Fprintln(stderr, "mangrove:", err)
		return 1
	}
	return 0
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

type globals struct {
	configPath string
	stdout     io.Writer
	stderr     io.Writer
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "mangrove",
		Short:         "Security-operations backend: events in, alerts and incidents out",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", os.Getenv("MANGROVE_CONFIG"), "configuration file (YAML); default: built-in defaults ($MANGROVE_CONFIG)")
	root.AddCommand(
		newServeCmd(g),
		newIngestCmd(g),
		newEventsCmd(g),
		newCheckCmd(g),
		newAuditCmd(g),
		newBenchCmd(g),
		newRulesCmd(g),
		newCollectorsCmd(g),
		newPcapCmd(g),
		newIncidentsCmd(g),
		newUsersCmd(g), newTokensCmd(g),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run:   func(c *cobra.Command, _ []string) { fmt.Fprintln(stdout, "mangrove", version()) },
		},
	)
	return root
}

// newLogger builds the root logger; components derive theirs with
// With().Str("component", ...).
func newLogger(c LogConfig, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	format := c.Format
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "console"
		}
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}
