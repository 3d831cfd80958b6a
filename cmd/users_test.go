package cmd

import (
	"database/sql"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/store/sqlite"
)

// mustRun runs the command line and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, out, errs := runMain(t, args...)
	if code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out, errs
}

func TestUsersCommands(t *testing.T) {
	data := t.TempDir()
	t.Setenv("MANGROVE_CONFIG", "")

	// Listing before anything exists does not create a database.
	if code, _, errs := runMain(t, "users", "list", "--data", data); code == 0 || !strings.Contains(errs, "no case database") {
		t.Errorf("list on an empty data dir: %d %s", code, errs)
	}
	// An agency officer is bound to a tenant.
	code, out, errs := runMain(t, "users", "create", "--data", data, "--name", "officer-a", "--role", "agency_officer")
	if code == 0 || out != "" || !strings.Contains(errs, "role agency_officer requires a tenant") {
		t.Errorf("officer without tenant: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	for _, bad := range [][]string{
		{"--name", "x", "--role", "root"},
		{"--name", "two words", "--role", "analyst"},
		{"--role", "analyst"},
	} {
		if code, _, _ := runMain(t, append([]string{"users", "create", "--data", data}, bad...)...); code == 0 {
			t.Errorf("users create %v accepted", bad)
		}
	}

	out, _ = mustRun(t, "users", "create", "--data", data, "--name", "officer-a", "--role", "agency", "--tenant", "so-a")
	if out != "created user officer-a: role agency_officer, tenant so-a\n" {
		t.Errorf("create: %q", out)
	}
	mustRun(t, "users", "create", "--data", data, "--name", "lan.nguyen", "--role", "analyst", "--oidc-subject", "8f1c")
	if code, _, errs := runMain(t, "users", "create", "--data", data, "--name", "lan.nguyen", "--role", "auditor"); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate user: %d %s", code, errs)
	}
	mustRun(t, "users", "disable", "--data", data, "--name", "lan.nguyen")
	if code, _, errs := runMain(t, "users", "disable", "--data", data, "--name", "nobody"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("disable unknown: %d %s", code, errs)
	}

	out, _ = mustRun(t, "users", "list", "--data", data, "--format", "json")
	var users []auth.User
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(users) != 2 || users[0].Name != "lan.nguyen" || !users[0].Disabled || users[0].OIDCSubject != "8f1c" ||
		users[1].Role != auth.RoleAgencyOfficer || users[1].Tenant != "so-a" || users[1].Disabled {
		t.Errorf("users = %+v", users)
	}
	out, _ = mustRun(t, "users", "list", "--data", data)
	for _, want := range []string{"NAME", "lan.nguyen", "disabled", "(all)", "officer-a", "so-a", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("users list lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := runMain(t, "users", "list", "--data", data, "--format", "yaml"); code == 0 {
		t.Error("--format yaml accepted")
	}

	out, _ = mustRun(t, "users", "roles")
	for _, want := range []string{"agency_officer  events.read alerts.read incidents.read incidents.create incidents.comment reports.read metrics.read\n",
		"ingest          events.write\n", "users.admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("users roles lacks %q:\n%s", want, out)
		}
	}

	// MANGROVE_DATA finds the same database as --data.
	t.Setenv("MANGROVE_DATA", data)
	if out, _ := mustRun(t, "users", "list"); !strings.Contains(out, "officer-a") {
		t.Errorf("MANGROVE_DATA not used:\n%s", out)
	}

	// Every change is audited as the OS user, and the chain is whole.
	out, _ = mustRun(t, "audit", "verify")
	if !strings.Contains(out, "audit log intact: 3 entries") {
		t.Errorf("audit verify: %s", out)
	}
	st := openStore(t, data)
	st.AuditLog(t.Context(), func(e *audit.Entry) error {
		if !strings.HasPrefix(e.Actor, "cli:") || e.Actor == "cli:" {
			t.Errorf("actor %q", e.Actor)
		}
		return nil
	})
}

func openStore(t *testing.T, data string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(data, "mangrove.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestTokensCommands(t *testing.T) {
	data := t.TempDir()
	t.Setenv("MANGROVE_CONFIG", "")
	mustRun(t, "users", "create", "--data", data, "--name", "officer-a", "--role", "agency_officer", "--tenant", "so-a")
	mustRun(t, "users", "create", "--data", data, "--name", "lan", "--role", "analyst")

	// The server side: an authenticator over the same database, opened
	// before the tokens exist, as a running serve would be.
	st := openStore(t, data)
	authn, err := auth.New(auth.Config{DefaultTenant: "center"}, auth.WithTokenLookup(st), auth.WithCacheTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	try := func(token string) (auth.Principal, error) {
		r := httptest.NewRequest("GET", "/api/v1/incidents", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return authn.Authenticate(r)
	}
	if p, err := try(""); err != nil || p.Name != "anonymous" {
		t.Fatalf("no token anywhere yet: %+v, %v", p, err)
	}

	out, errs := mustRun(t, "tokens", "create", "--data", data, "--user", "officer-a", "--expires", "720h", "--description", "officer laptop")
	token := strings.TrimSuffix(out, "\n")
	if !strings.HasPrefix(token, auth.TokenPrefix) || strings.Contains(token, "\n") || !strings.Contains(errs, "cannot be shown again") {
		t.Fatalf("tokens create: stdout %q, stderr %q", out, errs)
	}
	p, err := try(token)
	if err != nil || p != (auth.Principal{Name: "officer-a", Tenant: "so-a", Role: auth.RoleAgencyOfficer}) {
		t.Fatalf("created token: %+v, %v", p, err)
	}
	if _, err := try(""); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("anonymous after the first token: %v", err)
	}

	// tokens list shows it, without the secret.
	out, _ = mustRun(t, "tokens", "list", "--data", data, "--user", "officer-a", "--format", "json")
	if strings.Contains(out, token) || strings.Contains(out, token[len(auth.TokenPrefix):]) {
		t.Fatal("tokens list shows the secret")
	}
	var toks []auth.APIToken
	if err := json.Unmarshal([]byte(out), &toks); err != nil || len(toks) != 1 || toks[0].Description != "officer laptop" || toks[0].LastUsed.IsZero() {
		t.Fatalf("tokens list = %+v, %v", toks, err)
	}

	// Revoked.
	mustRun(t, "tokens", "revoke", "--data", data, "--id", toks[0].ID)
	if _, err := try(token); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked token: %v", err)
	}
	out, _ = mustRun(t, "tokens", "list", "--data", data)
	if !strings.Contains(out, toks[0].ID) || !strings.Contains(out, "revoked") || !strings.Contains(out, "officer laptop") {
		t.Errorf("tokens list:\n%s", out)
	}

	// Expired: the token's expiry is moved into the past, as time would.
	out, _ = mustRun(t, "tokens", "create", "--data", data, "--user", "lan", "--expires", "1h")
	expiring := strings.TrimSpace(out)
	if _, err := try(expiring); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(data, "mangrove.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `UPDATE api_tokens SET expires = 1 WHERE user_name = 'lan'`); err != nil {
		t.Fatal(err)
	}
	if _, err := try(expiring); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}

	// Disabled user.
	out, _ = mustRun(t, "tokens", "create", "--data", data, "--user", "lan")
	lans := strings.TrimSpace(out)
	if p, err := try(lans); err != nil || p.Role != auth.RoleAnalyst || p.Tenant != "" {
		t.Fatalf("analyst token: %+v, %v", p, err)
	}
	mustRun(t, "users", "disable", "--data", data, "--name", "lan")
	if _, err := try(lans); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("token of a disabled user: %v", err)
	}
	// Nothing active is left, but other tokens exist: still no anonymous
	// access once AllowAnonymous(false), as on a non-loopback listener.
	strict, _ := auth.New(auth.Config{DefaultTenant: "center"}, auth.WithTokenLookup(st), auth.AllowAnonymous(false))
	if _, err := strict.Authenticate(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("strict authenticator without tokens: %v", err)
	}

	// Refused requests, with what was wrong.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--user", "officer-a", "--expires", "0s"}, "never expire"},
		{[]string{"--user", "officer-a", "--expires", "9000h"}, "exceeds the maximum"},
		{[]string{"--user", "nobody"}, "not found"},
		{[]string{"--user", "lan"}, "disabled"},
		{[]string{"--user", "officer-a", "--description", "bad\x07"}, "control characters"},
	} {
		code, out, errs := runMain(t, append([]string{"tokens", "create", "--data", data}, tt.args...)...)
		if code == 0 || out != "" || !strings.Contains(errs, tt.want) {
			t.Errorf("tokens create %v: exit %d, stdout %q, stderr %q; want %q", tt.args, code, out, errs, tt.want)
		}
	}
	if code, _, errs := runMain(t, "tokens", "revoke", "--data", data, "--id", "tok_nope"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("revoke unknown: %d %s", code, errs)
	}

	var actions []string
	st.AuditLog(t.Context(), func(e *audit.Entry) error {
		actions = append(actions, e.Action)
		return nil
	})
	want := "user.create user.create token.create token.revoke token.create token.create user.disable"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit actions = %s", got)
	}
}
