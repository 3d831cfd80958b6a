package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/store/sqlite"
)

// The users and tokens commands manage the user store in the case database
// of the data directory (the one serve uses; safe while serve runs: SQLite
// WAL and a busy timeout). Every change is audited with the actor
// "cli:<OS user>".

// userStoreFlags are the flags shared by the users and tokens commands.
type userStoreFlags struct {
	dataDir string
}

func (f *userStoreFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.dataDir, "data", "", "data directory holding mangrove.db; default: data_dir of the configuration ($MANGROVE_DATA)")
}

// open opens the case database as serve does. With create false, a missing
// database is an error rather than a new empty one.
func (f *userStoreFlags) open(ctx context.Context, g *globals, create bool) (*sqlite.Store, error) {
	cfg, err := loadConfig(g.configPath, os.Getenv)
	if err != nil {
		return nil, exitError{2, fmt.Errorf("configuration is invalid:\n%w", err)}
	}
	dir := cfg.DataDir
	if f.dataDir != "" {
		dir = f.dataDir
	}
	path := filepath.Join(dir, "mangrove.db")
	if create {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no case database at %s: %w", path, err)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("opening case store: %w", err)
	}
	return st, nil
}

// cliActor is the audit actor of a command-line change: "cli:<OS user>".
func cliActor() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}

// checkListFormat validates a --format value.
func checkListFormat(f string) error {
	if f != "text" && f != "json" {
		return exitError{2, fmt.Errorf("--format: %q is not one of text, json", f)}
	}
	return nil
}

func writeListJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newUsersCmd(g *globals) *cobra.Command {
	var f userStoreFlags
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage users (people and machines) of the API",
		Long: `Manage the users whose API tokens and OIDC logins the server accepts.

Roles: admin, analyst, responder, agency_officer (needs --tenant), auditor,
ingest. Center roles without --tenant act on every tenant.`,
	}
	f.register(cmd)

	var u auth.User
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user",
		Example: `  mangrove users create --name lan.nguyen --role analyst
  mangrove users create --name officer-so-a --role agency_officer --tenant so-a`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := u.Validate(); err != nil {
				return exitError{2, fmt.Errorf("invalid user (check --name, --role, --tenant):\n%w", err)}
			}
			st, err := f.open(c.Context(), g, true)
			if err != nil {
				return err
			}
			defer st.Close()
			created, err := st.CreateUser(c.Context(), u, cliActor())
			if err != nil {
				return err
			}
			scope := "all tenants"
			if created.Tenant != "" {
				scope = "tenant " + created.Tenant
			}
			fmt.Fprintf(g.stdout, "created user %s: role %s, %s\n", created.Name, created.Role, scope)
			return nil
		},
	}
	create.Flags().StringVar(&u.Name, "name", "", "user name (letters, digits, . _ - @)")
	create.Flags().StringVar(&u.Role, "role", "", "role: admin, analyst, responder, agency_officer, auditor, ingest")
	create.Flags().StringVar(&u.Tenant, "tenant", "", "tenant the user is bound to; required for agency_officer")
	create.Flags().StringVar(&u.OIDCSubject, "oidc-subject", "", "link the user's OIDC identity (its \"sub\" claim)")
	create.MarkFlagRequired("name")
	create.MarkFlagRequired("role")

	var format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkListFormat(format); err != nil {
				return err
			}
			st, err := f.open(c.Context(), g, false)
			if err != nil {
				return err
			}
			defer st.Close()
			users, err := st.Users(c.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				return writeListJSON(g.stdout, users)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tTENANT\tSTATUS\tCREATED\tOIDC SUBJECT")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, orText(u.Tenant, "(all)"), userStatus(u.Disabled),
					u.Created.Local().Format(time.DateTime), orText(u.OIDCSubject, "-"))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&format, "format", "text", "output format: text or json")

	var name string
	disable := &cobra.Command{
		Use:   "disable",
		Short: "Disable a user: its tokens and OIDC logins are refused from then on",
		Long: `Disable a user. Its API tokens and OIDC logins are refused within a few
seconds (the server caches a valid token for at most 5 s). A disabled user is
kept for the audit trail; its name cannot be reused.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := f.open(c.Context(), g, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.DisableUser(c.Context(), name, cliActor()); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "disabled user %s\n", name)
			return nil
		},
	}
	disable.Flags().StringVar(&name, "name", "", "user name")
	disable.MarkFlagRequired("name")

	roles := &cobra.Command{
		Use:   "roles",
		Short: "Print every role with its permissions",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROLE\tPERMISSIONS")
			for _, r := range auth.Roles {
				perms := auth.Permissions(r)
				names := make([]string, len(perms))
				for i, p := range perms {
					names[i] = string(p)
				}
				fmt.Fprintf(tw, "%s\t%s\n", r, strings.Join(names, " "))
			}
			return tw.Flush()
		},
	}

	cmd.AddCommand(create, list, disable, roles)
	return cmd
}

func newTokensCmd(g *globals) *cobra.Command {
	var f userStoreFlags
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Issue, list and revoke API tokens of users",
	}
	f.register(cmd)

	var userName, description string
	var expires time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Issue an API token; prints only the token on stdout",
		Long: fmt.Sprintf(`Issue an API token to an enabled user and print it, alone, on stdout, so
that scripts can capture it. It is shown only this once: only its SHA-256 is
stored. Every token expires (default %s, at most %s); the server accepts it as
"Authorization: Bearer <token>".`, auth.DefaultTokenTTL, auth.MaxTokenTTL),
		Example: `  TOKEN=$(mangrove tokens create --user shipper-so-b --expires 720h --description "syslog relay")`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := errors.Join(auth.CheckTokenTTL(expires), auth.CheckDescription(description)); err != nil {
				return exitError{2, err}
			}
			st, err := f.open(c.Context(), g, false)
			if err != nil {
				return err
			}
			defer st.Close()
			secret, tok, err := st.CreateToken(c.Context(), userName, expires, description, cliActor())
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, secret)
			fmt.Fprintf(g.stderr, "token %s for user %s, expires %s; it cannot be shown again\n",
				tok.ID, tok.User, tok.Expires.Format(time.RFC3339))
			return nil
		},
	}
	create.Flags().StringVar(&userName, "user", "", "user the token acts as")
	create.Flags().DurationVar(&expires, "expires", auth.DefaultTokenTTL, "lifetime of the token (at most 8784h)")
	create.Flags().StringVar(&description, "description", "", "what the token is for (shown by tokens list)")
	create.MarkFlagRequired("user")

	var id string
	revoke := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a token by id (see tokens list)",
		Long: `Revoke a token. The server refuses it within a few seconds (it caches a
valid token for at most 5 s).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := f.open(c.Context(), g, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.RevokeToken(c.Context(), id, cliActor()); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "revoked token %s\n", id)
			return nil
		},
	}
	revoke.Flags().StringVar(&id, "id", "", "token id (tok_...)")
	revoke.MarkFlagRequired("id")

	var listUser, format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkListFormat(format); err != nil {
				return err
			}
			st, err := f.open(c.Context(), g, false)
			if err != nil {
				return err
			}
			defer st.Close()
			toks, err := st.Tokens(c.Context(), listUser)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeListJSON(g.stdout, toks)
			}
			now := time.Now()
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tSTATUS\tCREATED\tEXPIRES\tLAST USED\tDESCRIPTION")
			for _, t := range toks {
				state := "active"
				switch {
				case !t.Revoked.IsZero():
					state = "revoked"
				case !now.Before(t.Expires):
					state = "expired"
				}
				last := "-"
				if !t.LastUsed.IsZero() {
					last = t.LastUsed.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, state, t.Created.Local().Format(time.DateTime),
					t.Expires.Local().Format(time.DateTime), last, orText(t.Description, "-"))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "only this user's tokens")
	list.Flags().StringVar(&format, "format", "text", "output format: text or json")

	cmd.AddCommand(create, revoke, list)
	return cmd
}

func orText(s, dash string) string {
	if s == "" {
		return dash
	}
	return s
}

func userStatus(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "active"
}
