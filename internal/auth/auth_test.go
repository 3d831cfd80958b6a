package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuthenticate(t *testing.T) {
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
		want   string
	}{
		{"Bearer agency-secret-0123456789", "so-a-officer"},
		{"Bearer analyst-secret-0123456789", "soc"},
		{"Bearer wrong", ""},
		{"agency-secret-0123456789", ""},
		{"", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		p, err := a.Authenticate(r)
		if tt.want == "" {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("%q: err = %v", tt.header, err)
			}
			continue
		}
		if err != nil || p.Name != tt.want {
			t.Errorf("%q: principal %+v, %v", tt.header, p, err)
		}
	}
}

func TestValidate(t *testing.T) {
	err := Config{Tokens: []TokenConfig{{Role: "root"}, {Name: "x", Role: RoleAgency, TokenSHA256: "zz"}}}.Validate()
	for _, want := range []string{"tokens[0].name", "tokens[0].role", "tokens[0]: exactly one", "tokens[1].tenant", "tokens[1].token_sha256", "default_tenant"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
