package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testIssuer is an OpenID Connect provider in the test: discovery document
// and JWKS of one RSA key, and a signer for tokens.
type testIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ti := &testIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                ti.srv.URL,
			"authorization_endpoint":                ti.srv.URL + "/auth",
			"token_endpoint":                        ti.srv.URL + "/token",
			"jwks_uri":                              ti.srv.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "k1", Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	return ti
}

// sign returns a compact JWT of claims signed with key under key id k1.
func sign(t testing.TB, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestOIDC(t *testing.T) {
	ti := newTestIssuer(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	l := newFakeLookup()
	l.disabled["mai.tran"] = true
	a, err := New(Config{DefaultTenant: "center", OIDC: &OIDCConfig{Issuer: ti.srv.URL, ClientID: "mangrove"}},
		WithTokenLookup(l), WithHTTPClient(ti.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckOIDC(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := func(edit func(c map[string]any)) map[string]any {
		c := map[string]any{
			"iss": ti.srv.URL, "aud": "mangrove", "sub": "8f1c", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
			"preferred_username": "lan.nguyen", "mangrove_role": "analyst",
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	tests := []struct {
		name   string
		token  string
		want   Principal // zero: refused
		reason string    // substring of the refusal
	}{
		{"valid", sign(t, ti.key, base(nil)), Principal{Name: "lan.nguyen", Role: RoleAnalyst}, ""},
		{"scoped center role", sign(t, ti.key, base(func(c map[string]any) { c["mangrove_tenant"] = "so-a"; c["mangrove_role"] = "responder" })),
			Principal{Name: "lan.nguyen", Tenant: "so-a", Role: RoleResponder}, ""},
		{"agency officer", sign(t, ti.key, base(func(c map[string]any) { c["mangrove_tenant"] = "so-a"; c["mangrove_role"] = "agency" })),
			Principal{Name: "lan.nguyen", Tenant: "so-a", Role: RoleAgencyOfficer}, ""},
		{"role in a list", sign(t, ti.key, base(func(c map[string]any) { c["mangrove_role"] = []string{"offline_access", "auditor"} })),
			Principal{Name: "lan.nguyen", Role: RoleAuditor}, ""},
		{"audience list", sign(t, ti.key, base(func(c map[string]any) { c["aud"] = []string{"grafana", "mangrove"} })),
			Principal{Name: "lan.nguyen", Role: RoleAnalyst}, ""},
		{"expired", sign(t, ti.key, base(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), Principal{}, "expired"},
		{"wrong audience", sign(t, ti.key, base(func(c map[string]any) { c["aud"] = "grafana" })), Principal{}, "audience"},
		{"wrong issuer", sign(t, ti.key, base(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), Principal{}, "issued by a different provider"},
		{"bad signature", sign(t, other, base(nil)), Principal{}, "signature"},
		{"tampered payload", tamper(sign(t, ti.key, base(nil))), Principal{}, "signature"},
		{"missing role", sign(t, ti.key, base(func(c map[string]any) { delete(c, "mangrove_role") })), Principal{}, "mangrove_role"},
		{"unknown role", sign(t, ti.key, base(func(c map[string]any) { c["mangrove_role"] = "root" })), Principal{}, `"root" is not a Mangrove role`},
		{"two roles", sign(t, ti.key, base(func(c map[string]any) { c["mangrove_role"] = []string{"admin", "auditor"} })), Principal{}, "more than one"},
		{"role not a string", sign(t, ti.key, base(func(c map[string]any) { c["mangrove_role"] = 7 })), Principal{}, "neither a string"},
		{"officer without tenant", sign(t, ti.key, base(func(c map[string]any) { c["mangrove_role"] = "agency_officer" })), Principal{}, "mangrove_tenant: required"},
		{"missing username", sign(t, ti.key, base(func(c map[string]any) { delete(c, "preferred_username") })), Principal{}, "preferred_username"},
		{"bad username", sign(t, ti.key, base(func(c map[string]any) { c["preferred_username"] = "lan nguyen" })), Principal{}, "preferred_username"},
		{"disabled user", sign(t, ti.key, base(func(c map[string]any) { c["preferred_username"] = "mai.tran" })), Principal{}, "disabled"},
		{"not a JWT", "a.b.c", Principal{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := authenticate(t, a, "Bearer "+tt.token)
			if tt.want != (Principal{}) {
				if err != nil || p != tt.want {
					t.Fatalf("principal %+v, %v; want %+v", p, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("principal %+v, err %v; want a refusal with %q", p, err, tt.reason)
			}
		})
	}
}

// tamper changes the payload of a compact JWT, keeping its signature.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	payload := []byte(parts[1])
	if payload[2] == 'A' {
		payload[2] = 'B'
	} else {
		payload[2] = 'A'
	}
	return parts[0] + "." + string(payload) + "." + parts[2]
}

func TestOIDCIssuerDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	a, err := New(Config{DefaultTenant: "center", OIDC: &OIDCConfig{Issuer: srv.URL, ClientID: "mangrove"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckOIDC(t.Context()); err == nil || !strings.Contains(err.Error(), "discovering OIDC issuer") {
		t.Errorf("CheckOIDC = %v", err)
	}
	// A JWT while the issuer is down is an error (not a login), and no
	// anonymous access is granted.
	_, err = authenticate(t, a, "Bearer x.y.z")
	if err == nil || !strings.Contains(err.Error(), "discovering OIDC issuer") {
		t.Errorf("Authenticate = %v", err)
	}
	if _, err := authenticate(t, a, ""); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("no credential: %v", err)
	}
}

func TestPrincipalFromClaims(t *testing.T) {
	cfg := OIDCConfig{RoleClaim: "groups", TenantClaim: "agency", UsernameClaim: "email"}
	tests := []struct {
		claims string
		want   Principal
		err    string
	}{
		{`{"email":"a@soc.vn","groups":"admin"}`, Principal{Name: "a@soc.vn", Role: RoleAdmin}, ""},
		{`{"email":"a@soc.vn","groups":["x","agency_officer"],"agency":"so-b"}`, Principal{Name: "a@soc.vn", Role: RoleAgencyOfficer, Tenant: "so-b"}, ""},
		{`{"email":"a@soc.vn","groups":["admin","admin"]}`, Principal{Name: "a@soc.vn", Role: RoleAdmin}, ""},
		{`{"email":"a@soc.vn","groups":[]}`, Principal{}, "no Mangrove role"},
		{`{"email":"a@soc.vn","groups":null}`, Principal{}, "missing claim"},
		{`{"email":"a@soc.vn","groups":"admin","agency":5}`, Principal{}, "agency: not a string"},
		{`{"email":"a@soc.vn","groups":"admin","agency":"so b"}`, Principal{}, "claim agency"},
		{`{"email":"","groups":"admin"}`, Principal{}, "claim email"},
		{`{"email":["a"],"groups":"admin"}`, Principal{}, "claim email: not a string"},
	}
	for _, tt := range tests {
		var claims map[string]json.RawMessage
		if err := json.Unmarshal([]byte(tt.claims), &claims); err != nil {
			t.Fatal(err)
		}
		p, err := principalFromClaims(cfg, claims)
		if tt.err == "" {
			if err != nil || p != tt.want {
				t.Errorf("%s: %+v, %v", tt.claims, p, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %+v, %v; want %q", tt.claims, p, err, tt.err)
		}
	}
}

func FuzzPrincipalFromClaims(f *testing.F) {
	f.Add([]byte(`{"preferred_username":"lan","mangrove_role":"analyst"}`))
	f.Add([]byte(`{"preferred_username":"o","mangrove_role":["x","agency"],"mangrove_tenant":"so-a"}`))
	f.Add([]byte(`{"preferred_username":null,"mangrove_role":{}}`))
	cfg := OIDCConfig{}.withDefaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		var claims map[string]json.RawMessage
		if json.Unmarshal(data, &claims) != nil {
			return
		}
		p, err := principalFromClaims(cfg, claims)
		if err != nil {
			return
		}
		if _, ok := CanonicalRole(p.Role); !ok || p.Role == RoleAgency || p.Name == "" {
			t.Fatalf("accepted %+v from %s", p, data)
		}
		if p.Role == RoleAgencyOfficer && p.Tenant == "" {
			t.Fatalf("agency officer without tenant from %s", data)
		}
	})
}

func BenchmarkAuthenticateOIDC(b *testing.B) {
	ti := newTestIssuer(b)
	raw := sign(b, ti.key, map[string]any{"iss": ti.srv.URL, "aud": "mangrove", "sub": "s", "exp": time.Now().Add(time.Hour).Unix(),
		"preferred_username": "lan", "mangrove_role": "analyst"})
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"verify", 0}, {"cached", DefaultCacheTTL}} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := New(Config{DefaultTenant: "center", OIDC: &OIDCConfig{Issuer: ti.srv.URL, ClientID: "mangrove"}},
				WithTokenLookup(newFakeLookup()), WithHTTPClient(ti.srv.Client()), WithCacheTTL(bc.ttl))
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+raw)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestOIDCCache: a verified JWT is remembered for the cache bound, never
// past its expiry, and a disabled user is refused within the bound.
func TestOIDCCache(t *testing.T) {
	ti := newTestIssuer(t)
	l := newFakeLookup()
	a, err := New(Config{DefaultTenant: "center", OIDC: &OIDCConfig{Issuer: ti.srv.URL, ClientID: "mangrove"}},
		WithTokenLookup(l), WithHTTPClient(ti.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	claims := func(name string, exp time.Time) map[string]any {
		return map[string]any{"iss": ti.srv.URL, "aud": "mangrove", "sub": name, "exp": exp.Unix(),
			"preferred_username": name, "mangrove_role": "responder"}
	}
	// Discovery and the key set are fetched outside the bubble, for real.
	if _, err := authenticate(t, a, "Bearer "+sign(t, ti.key, claims("warm", time.Now().Add(time.Hour)))); err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		long := "Bearer " + sign(t, ti.key, claims("lan", now.Add(time.Hour)))
		short := "Bearer " + sign(t, ti.key, claims("mai", now.Add(2*time.Second)))
		for _, h := range []string{long, short} {
			if _, err := authenticate(t, a, h); err != nil {
				t.Fatal(err)
			}
		}
		l.mu.Lock()
		l.disabled["lan"] = true
		l.mu.Unlock()
		time.Sleep(3 * time.Second)
		if _, err := authenticate(t, a, long); err != nil {
			t.Errorf("within the cache bound: %v", err)
		}
		if _, err := authenticate(t, a, short); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("cached past its expiry: %v", err)
		}
		time.Sleep(DefaultCacheTTL)
		if _, err := authenticate(t, a, long); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "disabled") {
			t.Errorf("disabled user after the cache bound: %v", err)
		}
	})
}
