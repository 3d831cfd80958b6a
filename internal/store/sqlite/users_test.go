package sqlite

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/store"
)

func openUsers(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mangrove.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestUsers(t *testing.T) {
	s, _ := openUsers(t)
	ctx := t.Context()
	u, err := s.CreateUser(ctx, auth.User{Name: "officer-a", Role: auth.RoleAgency, Tenant: "so-a", OIDCSubject: "sub-1"}, "cli:root")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != auth.RoleAgencyOfficer || u.Created.IsZero() || u.Disabled {
		t.Errorf("created %+v", u)
	}
	if _, err := s.CreateUser(ctx, auth.User{Name: "lan", Role: auth.RoleAnalyst}, "cli:root"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		u    auth.User
		want error
		text string
	}{
		{auth.User{Name: "officer-a", Role: auth.RoleAnalyst}, store.ErrConflict, "already exists"},
		{auth.User{Name: "other", Role: auth.RoleAnalyst, OIDCSubject: "sub-1"}, store.ErrConflict, "already exists"},
		{auth.User{Name: "officer-b", Role: auth.RoleAgencyOfficer}, nil, "requires a tenant"},
		{auth.User{Name: "x y", Role: "root"}, nil, "role"},
	}
	for _, tt := range tests {
		_, err := s.CreateUser(ctx, tt.u, "cli:root")
		if err == nil || !strings.Contains(err.Error(), tt.text) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("CreateUser(%+v) = %v", tt.u, err)
		}
	}
	list, err := s.Users(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "lan" || list[1].OIDCSubject != "sub-1" || list[1].Tenant != "so-a" {
		t.Fatalf("Users = %+v, %v", list, err)
	}

	if err := s.DisableUser(ctx, "lan", "cli:root"); err != nil {
		t.Fatal(err)
	}
	if err := s.DisableUser(ctx, "lan", "cli:root"); err != nil {
		t.Fatalf("disabling again: %v", err)
	}
	if err := s.DisableUser(ctx, "nobody", "cli:root"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("disabling an unknown user: %v", err)
	}
	if got, err := s.User(ctx, "lan"); err != nil || !got.Disabled || got.Updated.Before(got.Created) {
		t.Errorf("User(lan) = %+v, %v", got, err)
	}
	if _, err := s.User(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("User(nobody) = %v", err)
	}
	for _, tt := range []struct {
		name, subject string
		want          bool
	}{{"lan", "", true}, {"officer-a", "", false}, {"someone", "", false}, {"someone", "sub-1", false}} {
		if got, err := s.UserDisabled(ctx, tt.name, tt.subject); err != nil || got != tt.want {
			t.Errorf("UserDisabled(%s, %s) = %v, %v", tt.name, tt.subject, got, err)
		}
	}
	if err := s.DisableUser(ctx, "officer-a", "cli:root"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserDisabled(ctx, "renamed-in-idp", "sub-1"); !got {
		t.Error("a disabled user is not found by its OIDC subject")
	}

	var actions []string
	if err := s.AuditLog(ctx, func(e *audit.Entry) error {
		actions = append(actions, e.Action+" "+e.ObjectID+" "+e.Actor)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"user.create officer-a cli:root", "user.create lan cli:root", "user.disable lan cli:root", "user.disable officer-a cli:root"}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Errorf("audit = %q", actions)
	}
	verify(t, s)
}

func TestTokens(t *testing.T) {
	s, _ := openUsers(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	for _, u := range []auth.User{{Name: "shipper-b", Role: auth.RoleIngest, Tenant: "so-b"}, {Name: "lan", Role: auth.RoleAnalyst}} {
		if _, err := s.CreateUser(ctx, u, "cli:root"); err != nil {
			t.Fatal(err)
		}
	}
	if has, err := s.HasTokens(ctx); err != nil || has {
		t.Fatalf("HasTokens with none = %v, %v", has, err)
	}

	secret, tok, err := s.CreateToken(ctx, "shipper-b", 48*time.Hour, "syslog relay at So B", "cli:root")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, auth.TokenPrefix) || tok.User != "shipper-b" || !tok.Expires.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("CreateToken = %q, %+v", secret, tok)
	}
	sum := sha256.Sum256([]byte(secret))
	p, err := s.TokenPrincipal(ctx, sum)
	if err != nil || p != (auth.Principal{Name: "shipper-b", Tenant: "so-b", Role: auth.RoleIngest}) {
		t.Fatalf("TokenPrincipal = %+v, %v", p, err)
	}
	if has, _ := s.HasTokens(ctx); !has {
		t.Error("HasTokens = false with an active token")
	}
	if _, err := s.TokenPrincipal(ctx, sha256.Sum256([]byte(secret+"x"))); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("unknown token: %v", err)
	}

	// Refused requests.
	for _, tt := range []struct {
		user string
		ttl  time.Duration
		want string
	}{
		{"nobody", time.Hour, "not found"},
		{"lan", 0, "never expire"},
		{"lan", 367 * 24 * time.Hour, "exceeds the maximum"},
	} {
		if _, _, err := s.CreateToken(ctx, tt.user, tt.ttl, "", "cli:root"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CreateToken(%s, %s) = %v, want %q", tt.user, tt.ttl, err, tt.want)
		}
	}

	// last_used is recorded.
	list, err := s.Tokens(ctx, "shipper-b")
	if err != nil || len(list) != 1 || list[0].ID != tok.ID || !list[0].LastUsed.Equal(now) || list[0].Description != "syslog relay at So B" {
		t.Fatalf("Tokens = %+v, %v", list, err)
	}

	// Expiry.
	now = now.Add(48 * time.Hour)
	if _, err := s.TokenPrincipal(ctx, sum); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}
	if has, _ := s.HasTokens(ctx); has {
		t.Error("HasTokens = true with only an expired token")
	}

	// Revocation.
	secret2, tok2, err := s.CreateToken(ctx, "lan", auth.DefaultTokenTTL, "", "user:admin")
	if err != nil {
		t.Fatal(err)
	}
	sum2 := sha256.Sum256([]byte(secret2))
	if _, err := s.TokenPrincipal(ctx, sum2); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tok2.ID, "user:admin"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tok2.ID, "user:admin"); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	if err := s.RevokeToken(ctx, "tok_0000000000000000", "user:admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking an unknown token: %v", err)
	}
	if _, err := s.TokenPrincipal(ctx, sum2); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked token: %v", err)
	}

	// Disabled user.
	secret3, _, err := s.CreateToken(ctx, "lan", time.Hour, "", "user:admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DisableUser(ctx, "lan", "user:admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenPrincipal(ctx, sha256.Sum256([]byte(secret3))); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("token of a disabled user: %v", err)
	}
	if has, _ := s.HasTokens(ctx); has {
		t.Error("HasTokens = true with only a disabled user's token")
	}
	if _, _, err := s.CreateToken(ctx, "lan", time.Hour, "", "user:admin"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("token for a disabled user: %v", err)
	}

	all, err := s.Tokens(ctx, "")
	revoked := 0
	for _, tk := range all {
		if !tk.Revoked.IsZero() {
			revoked++
			if tk.ID != tok2.ID || !tk.Revoked.Equal(now) {
				t.Errorf("revoked %+v", tk)
			}
		}
	}
	if err != nil || len(all) != 3 || revoked != 1 || all[2].ID != tok.ID {
		t.Errorf("Tokens(all) = %+v, %v", all, err)
	}

	// The audit log has every change and never a secret or its hash.
	var actions []string
	if err := s.AuditLog(ctx, func(e *audit.Entry) error {
		for _, sec := range []string{secret, secret2, secret3} {
			h := sha256.Sum256([]byte(sec))
			if strings.Contains(string(e.Detail), sec) || strings.Contains(string(e.Detail), hex.EncodeToString(h[:])) {
				t.Errorf("audit entry %d holds a token secret or hash: %s", e.Seq, e.Detail)
			}
		}
		actions = append(actions, e.Action)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "user.create user.create token.create token.create token.revoke token.create user.disable"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit actions = %s", got)
	}
	verify(t, s)
}

// TestUsersFromTwoProcesses writes through two stores on one file, as the
// CLI does while serve runs: the audit chain must stay whole.
func TestUsersFromTwoProcesses(t *testing.T) {
	serve, path := openUsers(t)
	cli, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := t.Context()
	if _, err := serve.CreateUser(ctx, auth.User{Name: "a", Role: auth.RoleAdmin}, "user:anonymous"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.CreateUser(ctx, auth.User{Name: "b", Role: auth.RoleAuditor}, "cli:root"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := serve.CreateToken(ctx, "b", time.Hour, "", "user:a"); err != nil {
		t.Fatal(err)
	}
	if n := verify(t, cli); n != 3 {
		t.Errorf("audit entries = %d, want 3", n)
	}
}

func BenchmarkTokenPrincipal(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "mangrove.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateUser(b.Context(), auth.User{Name: "x", Role: auth.RoleIngest, Tenant: "so-a"}, "bench"); err != nil {
		b.Fatal(err)
	}
	secret, _, err := s.CreateToken(b.Context(), "x", time.Hour, "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.TokenPrincipal(b.Context(), sum); err != nil {
			b.Fatal(err)
		}
	}
}
