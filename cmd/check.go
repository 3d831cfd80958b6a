package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/detections/rulepack"
	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/audit/auditkey"
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
	var pubPath, format string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log against its hash chain and its signed checkpoints",
		Long: `Read the audit log from the data directory (safe while the server runs) and check
that no entry was changed, removed or reordered, and that every signed checkpoint is
genuine and still matches the log (deleting the newest entries is caught by the last
checkpoint). Only the public key is needed (data/keys/audit-signing.pub, or --public-key).
Exits 1 naming the first broken or missing entry.`,
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
			if pubPath == "" {
				pubPath = filepath.Join(cfg.DataDir, "keys", auditkey.PublicFile)
			}
			st, err := sqlite.Open(c.Context(), path)
			if err != nil {
				return err
			}
			defer st.Close()
			var verifier audit.CheckpointVerifier
			pub, err := auditkey.LoadPublicKey(pubPath)
			switch {
			case err == nil:
				verifier = pub
			case errors.Is(err, fs.ErrNotExist):
				// No key yet (the server never ran here): only an empty
				// checkpoint table is acceptable.
				cps, cerr := st.Checkpoints(c.Context())
				if cerr != nil || len(cps) > 0 {
					return fmt.Errorf("audit public key: %w", err)
				}
				verifier = noKey{}
				fmt.Fprintln(g.stderr, "no audit signing key yet: checking the hash chain only")
			default:
				return fmt.Errorf("audit public key: %w", err)
			}
			rep, err := st.VerifyAudit(c.Context(), verifier)
			if err != nil {
				return err
			}
			if format == "json" {
				writeJSONOut(g.stdout, rep)
			} else if rep.Err() == nil {
				fmt.Fprintf(g.stdout, "audit log intact: %d entries, head %s; %d signed checkpoints verified, the last attests entry %d\n",
					rep.Entries, rep.LastGoodHash, rep.Checkpoints, rep.Attested)
			}
			if err := rep.Err(); err != nil {
				return exitError{1, fmt.Errorf("audit log broken: %w", err)}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&pubPath, "public-key", "", "the audit signing public key (default data/keys/audit-signing.pub)")
	verify.Flags().StringVar(&format, "format", "text", "text or json")
	a.AddCommand(verify)
	return a
}

// noKey verifies no checkpoint: used when there is no key and no checkpoint.
type noKey struct{}

func (noKey) Verify(string, []byte, []byte) error { return errors.New("no audit public key") }
