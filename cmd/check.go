package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/detections/rulepack"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/store/sqlite"
)

func newCheckCmd(g *globals) *cobra.Command {
	check := &cobra.Command{Use: "check", Short: "Check configuration and rules without starting"}
	check.AddCommand(&cobra.Command{
		Use:   "config",
		Short: "Load and validate the configuration (the same path as serve) and every rule pack",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g.configPath, os.Getenv)
			if err != nil {
				return exitError{2, fmt.Errorf("configuration is invalid:\n%w", err)}
			}
			_, rep := rulepack.Load(ruleRegistry(), cfg.Detections.Rules)
			fmt.Fprintf(g.stdout, "configuration ok: data in %s, HTTP on %s, bus %s\n", cfg.DataDir, cfg.HTTP.Addr, cfg.Bus.Type)
			fmt.Fprintf(g.stdout, "rules: %d loaded from %d files, %d disabled, %d files with errors\n", rep.Rules, rep.Files, rep.Disabled, len(rep.Errors))
			for _, e := range rep.Errors {
				fmt.Fprintf(g.stdout, "  %v\n", e)
			}
			if len(rep.Errors) > 0 {
				return exitError{2, fmt.Errorf("%d rule files have errors", len(rep.Errors))}
			}
			return nil
		},
	})
	return check
}

func newAuditCmd(g *globals) *cobra.Command {
	a := &cobra.Command{Use: "audit", Short: "Work with the hash-chained audit log"}
	a.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Check every entry of the audit log against its hash chain",
		Long: `Read the audit log from the data directory (safe while the server runs) and
check that no entry was changed, removed or reordered. Exits 1 at the first broken
link, naming the entry.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g.configPath, os.Getenv)
			if err != nil {
				return exitError{2, err}
			}
			path := filepath.Join(cfg.DataDir, "mangrove.db")
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("no case database at %s: %w", path, err)
			}
			st, err := sqlite.Open(c.Context(), path)
			if err != nil {
				return err
			}
			defer st.Close()
			v := audit.NewVerifier()
			if err := st.AuditLog(c.Context(), v.Check); err != nil {
				return fmt.Errorf("audit log broken after %d good entries: %w", v.Count(), err)
			}
			fmt.Fprintf(g.stdout, "audit log intact: %d entries, head %s\n", v.Count(), v.Head())
			return nil
		},
	})
	return a
}
