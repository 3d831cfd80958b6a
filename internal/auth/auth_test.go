package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func authenticate(t *testing.T, a *Authenticator, header string) (Principal, error) {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	return a.Authenticate(r)
}

func TestAuthenticateConfigTokens(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(file, []byte("agency-secret-0123456789\n"), 0o600)
	sum := sha256.Sum256([]byte("analyst-secret-0123456789"))
	a, err := New(Config{DefaultTenant: "center", Tokens: []TokenConfig{
		{Name: "so-a-officer", Tenant: "so-a", Role: RoleAgency, TokenFile: file},
		{Name: "soc", Role: RoleAnalyst, TokenSHA256: hex.EncodeToString(sum[:])},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		header string
		want   Principal // zero: refused
	}{
		{"Bearer agency-secret-0123456789", Principal{Name: "so-a-officer", Tenant: "so-a", Role: RoleAgencyOfficer}},
		{"bearer analyst-secret-0123456789", Principal{Name: "soc", Role: RoleAnalyst}},
		{"Bearer wrong", Principal{}},
		{"Bearer " + TokenPrefix + "not-issued-without-a-store", Principal{}},
		{"agency-secret-0123456789", Principal{}},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", Principal{}},
		{"Bearer ", Principal{}},
		{"", Principal{}},
		{"Bearer " + strings.Repeat("a", maxBearerBytes+1), Principal{}},
	}
	for _, tt := range tests {
		p, err := authenticate(t, a, tt.header)
		if tt.want == (Principal{}) {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("%.40q: principal %+v, err = %v", tt.header, p, err)
			}
			continue
		}
		if err != nil || p != tt.want {
			t.Errorf("%.40q: principal %+v, %v", tt.header, p, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		c    Config
		want string
	}{
		{Config{Tokens: []TokenConfig{{Name: "x", Role: RoleAdmin, TokenFile: "/nonexistent/tok"}}}, "tokens[0].token_file"},
		{Config{Tokens: []TokenConfig{{Name: "x", Role: "root", TokenSHA256: strings.Repeat("a", 64)}}}, "tokens[0].role"},
		{Config{Tokens: []TokenConfig{{Name: "x", Role: RoleAdmin, TokenSHA256: "abc"}}}, "tokens[0].token_sha256"},
		{Config{OIDC: &OIDCConfig{Issuer: "http://idp.example.com"}}, "oidc: "},
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("tiny\n"), 0o600)
	tests = append(tests, struct {
		c    Config
		want string
	}{Config{Tokens: []TokenConfig{{Name: "x", Role: RoleAdmin, TokenFile: short}}}, "shorter than 16"})
	for _, tt := range tests {
		_, err := New(tt.c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.c, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	err := Config{
		Tokens: []TokenConfig{
			{Role: "root"},
			{Name: "x", Role: RoleAgency, TokenSHA256: "zz"},
			{Name: "x", Role: RoleAgencyOfficer, TokenFile: "f", TokenSHA256: strings.Repeat("0", 64)},
		},
		OIDC: &OIDCConfig{Issuer: "http://idp.example.com/realms/soc?x=1"},
	}.Validate()
	for _, want := range []string{
		"tokens[0].name: required", `tokens[0].role: "root" is not one of admin, analyst, responder, agency_officer, auditor, ingest`,
		"tokens[0]: exactly one", "tokens[1].tenant: required for role agency", "tokens[1].token_sha256",
		`tokens[2].name: "x" used twice`, "tokens[2].tenant: required for role agency_officer", "tokens[2]: exactly one",
		"default_tenant: required", "oidc.issuer:", "oidc.client_id: required",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	ok := Config{DefaultTenant: "center", Tokens: []TokenConfig{
		{Name: "a", Role: RoleAgency, Tenant: "so-a", TokenSHA256: strings.Repeat("0", 64)},
		{Name: "b", Role: RoleAuditor, TokenSHA256: strings.Repeat("1", 64)},
	}, OIDC: &OIDCConfig{Issuer: "https://idp.soc.example.vn/realms/soc", ClientID: "mangrove"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestOIDCConfigValidate(t *testing.T) {
	for issuer, ok := range map[string]bool{
		"https://idp.example.vn":            true,
		"http://127.0.0.1:5556/dex":         true,
		"http://localhost:8080/realms/soc":  true,
		"http://idp.example.vn":             false,
		"idp.example.vn":                    false,
		"https://idp.example.vn/#frag":      false,
		"ftp://idp.example.vn":              false,
		"https://idp.example.vn/?tenant=so": false,
	} {
		err := OIDCConfig{Issuer: issuer, ClientID: "mangrove"}.Validate()
		if (err == nil) != ok {
			t.Errorf("issuer %q: %v", issuer, err)
		}
	}
}

// fakeLookup is a TokenLookup over a map, counting calls.
type fakeLookup struct {
	mu       sync.Mutex
	tokens   map[[sha256.Size]byte]Principal
	revoked  map[[sha256.Size]byte]bool
	disabled map[string]bool
	err      error
	calls    int
}

func newFakeLookup() *fakeLookup {
	return &fakeLookup{tokens: map[[sha256.Size]byte]Principal{}, revoked: map[[sha256.Size]byte]bool{}, disabled: map[string]bool{}}
}

func (f *fakeLookup) add(secret string, p Principal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[sha256.Sum256([]byte(secret))] = p
}

func (f *fakeLookup) revoke(secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked[sha256.Sum256([]byte(secret))] = true
}

func (f *fakeLookup) TokenPrincipal(_ context.Context, sum [sha256.Size]byte) (Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return Principal{}, f.err
	}
	p, ok := f.tokens[sum]
	if !ok || f.revoked[sum] {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

func (f *fakeLookup) HasTokens(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return false, f.err
	}
	for sum := range f.tokens {
		if !f.revoked[sum] {
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeLookup) UserDisabled(_ context.Context, name, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.disabled[name], f.err
}

func TestAnonymous(t *testing.T) {
	anon := Principal{Name: "anonymous", Role: RoleAdmin}
	sum := strings.Repeat("0", 64)
	t.Run("nothing configured", func(t *testing.T) {
		a, _ := New(Config{DefaultTenant: "center"})
		for _, h := range []string{"", "Bearer anything"} {
			if p, err := authenticate(t, a, h); err != nil || p != anon {
				t.Errorf("%q: %+v, %v", h, p, err)
			}
		}
	})
	t.Run("not allowed", func(t *testing.T) {
		a, _ := New(Config{DefaultTenant: "center"}, AllowAnonymous(false))
		if _, err := authenticate(t, a, ""); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("config token", func(t *testing.T) {
		a, _ := New(Config{DefaultTenant: "center", Tokens: []TokenConfig{{Name: "x", Role: RoleAdmin, TokenSHA256: sum}}})
		if _, err := authenticate(t, a, ""); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("oidc", func(t *testing.T) {
		a, _ := New(Config{DefaultTenant: "center", OIDC: &OIDCConfig{Issuer: "https://idp.example.vn", ClientID: "m"}})
		if _, err := authenticate(t, a, ""); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("store tokens come and go", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newFakeLookup()
			a, _ := New(Config{DefaultTenant: "center"}, WithTokenLookup(l))
			if p, err := authenticate(t, a, ""); err != nil || p != anon {
				t.Fatalf("empty store: %+v, %v", p, err)
			}
			l.add(TokenPrefix+"first", Principal{Name: "lan", Role: RoleAnalyst})
			// The answer is cached for the TTL, then the first token ends
			// anonymous mode.
			if p, _ := authenticate(t, a, ""); p != anon {
				t.Fatalf("within the cache bound: %+v", p)
			}
			time.Sleep(DefaultCacheTTL)
			if _, err := authenticate(t, a, ""); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("after the first token: %v", err)
			}
			if p, err := authenticate(t, a, "Bearer "+TokenPrefix+"first"); err != nil || p.Name != "lan" {
				t.Fatalf("token: %+v, %v", p, err)
			}
			l.revoke(TokenPrefix + "first")
			time.Sleep(DefaultCacheTTL)
			if p, err := authenticate(t, a, ""); err != nil || p != anon {
				t.Fatalf("after the last revocation: %+v, %v", p, err)
			}
		})
	})
	t.Run("store failure fails closed", func(t *testing.T) {
		l := newFakeLookup()
		l.err = errors.New("disk I/O error")
		a, _ := New(Config{DefaultTenant: "center"}, WithTokenLookup(l))
		_, err := authenticate(t, a, "")
		if err == nil || errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "disk I/O error") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestStoreTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newFakeLookup()
		officer := Principal{Name: "officer-a", Tenant: "so-a", Role: RoleAgencyOfficer}
		l.add(TokenPrefix+"officer", officer)
		cfgSecret := "config-secret-0123456789"
		cfgSum := sha256.Sum256([]byte(cfgSecret))
		a, _ := New(Config{DefaultTenant: "center", Tokens: []TokenConfig{{Name: "soc", Role: RoleAnalyst, TokenSHA256: hex.EncodeToString(cfgSum[:])}}},
			WithTokenLookup(l))

		// Configured tokens and tokens without the prefix never reach the store.
		if p, err := authenticate(t, a, "Bearer "+cfgSecret); err != nil || p.Name != "soc" {
			t.Fatalf("config token: %+v, %v", p, err)
		}
		if _, err := authenticate(t, a, "Bearer opaque-but-not-ours"); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("foreign token: %v", err)
		}
		if l.calls != 0 {
			t.Fatalf("store asked %d times for tokens it did not issue", l.calls)
		}

		if p, err := authenticate(t, a, "Bearer "+TokenPrefix+"officer"); err != nil || p != officer {
			t.Fatalf("store token: %+v, %v", p, err)
		}
		if p, err := authenticate(t, a, "Bearer "+TokenPrefix+"officer"); err != nil || p != officer || l.calls != 1 {
			t.Fatalf("cached: %+v, %v, %d calls", p, err, l.calls)
		}
		// Revocation takes effect within the cache bound.
		l.revoke(TokenPrefix + "officer")
		time.Sleep(DefaultCacheTTL - time.Millisecond)
		if _, err := authenticate(t, a, "Bearer "+TokenPrefix+"officer"); err != nil {
			t.Fatalf("still cached: %v", err)
		}
		time.Sleep(time.Millisecond)
		if _, err := authenticate(t, a, "Bearer "+TokenPrefix+"officer"); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("after revocation: %v", err)
		}
		// Refusals are not cached.
		calls := l.calls
		authenticate(t, a, "Bearer "+TokenPrefix+"officer")
		if l.calls != calls+1 {
			t.Errorf("refusal was cached")
		}
		// A failing store is an error, not a refusal.
		l.err = errors.New("database is locked")
		_, err := authenticate(t, a, "Bearer "+TokenPrefix+"other")
		if err == nil || errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "checking API token") {
			t.Errorf("store failure: %v", err)
		}
	})
}

func TestCacheDisabled(t *testing.T) {
	l := newFakeLookup()
	l.add(TokenPrefix+"x", Principal{Name: "x", Role: RoleAdmin})
	a, _ := New(Config{DefaultTenant: "center"}, WithTokenLookup(l), WithCacheTTL(0))
	for range 3 {
		if _, err := authenticate(t, a, "Bearer "+TokenPrefix+"x"); err != nil {
			t.Fatal(err)
		}
	}
	if l.calls != 3 {
		t.Errorf("calls = %d, want 3", l.calls)
	}
}

func TestContext(t *testing.T) {
	p := Principal{Name: "lan", Role: RoleAnalyst}
	ctx := WithPrincipal(t.Context(), p)
	if got, ok := FromContext(ctx); !ok || got != p {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
	if _, ok := FromContext(t.Context()); ok {
		t.Error("principal in an empty context")
	}
	if p.Actor() != "user:lan" {
		t.Errorf("Actor = %q", p.Actor())
	}
}

func BenchmarkAuthenticateStoreTokenCached(b *testing.B) {
	l := newFakeLookup()
	l.add(TokenPrefix+"bench-token-0123456789", Principal{Name: "x", Role: RoleAnalyst})
	a, _ := New(Config{DefaultTenant: "center"}, WithTokenLookup(l), WithCacheTTL(time.Hour))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+TokenPrefix+"bench-token-0123456789")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
