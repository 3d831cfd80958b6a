// Package auth authenticates API callers and carries who they are, and which
// agency (tenant) they act for, in the request context. Every tenant-scoped
// query takes the tenant from the Principal, never from the request.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Roles.
const (
	RoleAnalyst = "analyst" // center staff: reads and triages every tenant when Tenant is ""
	RoleAgency  = "agency"  // an agency's officer: only its own tenant
	RoleIngest  = "ingest"  // a collector or shipper: may only send events
)

// Principal is an authenticated caller.
type Principal struct {
	Name   string
	Tenant string // "" means center-wide (all tenants)
	Role   string
}

// Actor is the audit log name of the principal.
func (p Principal) Actor() string { return "user:" + p.Name }

// CanRead reports whether the principal may read case data and events.
func (p Principal) CanRead() bool { return p.Role == RoleAnalyst || p.Role == RoleAgency }

// TokenConfig is one API token. The token itself is referenced, never inlined:
// either a file holding it or its SHA-256 in hex.
type TokenConfig struct {
	Name        string `yaml:"name"`
	Tenant      string `yaml:"tenant"`
	Role        string `yaml:"role"`
	TokenFile   string `yaml:"token_file"`
	TokenSHA256 string `yaml:"token_sha256"`
}

// Config lists the API tokens. With no tokens, every request is an anonymous
// center-wide analyst: only acceptable on a loopback listener, which the
// server's config validation enforces.
type Config struct {
	Tokens []TokenConfig `yaml:"tokens"`
	// DefaultTenant is the tenant of events sent by a center-wide caller.
	DefaultTenant string `yaml:"default_tenant"`
}

// Validate reports every problem at once, with its path.
func (c Config) Validate() error {
	var errs []error
	names := map[string]bool{}
	for i, t := range c.Tokens {
		p := fmt.Sprintf("tokens[%d]", i)
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: required", p))
		} else if names[t.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q used twice", p, t.Name))
		}
		names[t.Name] = true
		switch t.Role {
		case RoleAnalyst, RoleIngest:
		case RoleAgency:
			if t.Tenant == "" {
				errs = append(errs, fmt.Errorf("%s.tenant: required for role agency", p))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.role: %q is not one of analyst, agency, ingest", p, t.Role))
		}
		if (t.TokenFile == "") == (t.TokenSHA256 == "") {
			errs = append(errs, fmt.Errorf("%s: exactly one of token_file and token_sha256 is required", p))
		}
		if t.TokenSHA256 != "" {
			if b, err := hex.DecodeString(t.TokenSHA256); err != nil || len(b) != sha256.Size {
				errs = append(errs, fmt.Errorf("%s.token_sha256: must be 64 hex characters", p))
			}
		}
	}
	if c.DefaultTenant == "" {
		errs = append(errs, errors.New("default_tenant: required"))
	}
	return errors.Join(errs...)
}

// Authenticator checks bearer tokens.
type Authenticator struct {
	anonymous bool
	tokens    []token
}

type token struct {
	sum [sha256.Size]byte
	p   Principal
}

// New loads the tokens (reading token files once).
func New(c Config) (*Authenticator, error) {
	a := &Authenticator{anonymous: len(c.Tokens) == 0}
	for i, t := range c.Tokens {
		var tk token
		tk.p = Principal{Name: t.Name, Tenant: t.Tenant, Role: t.Role}
		if t.TokenFile != "" {
			b, err := os.ReadFile(t.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("tokens[%d].token_file: %w", i, err)
			}
			secret := strings.TrimSpace(string(b))
			if len(secret) < 16 {
				return nil, fmt.Errorf("tokens[%d].token_file: token shorter than 16 characters", i)
			}
			tk.sum = sha256.Sum256([]byte(secret))
		} else {
			b, _ := hex.DecodeString(t.TokenSHA256)
			copy(tk.sum[:], b)
		}
		a.tokens = append(a.tokens, tk)
	}
	return a, nil
}

// ErrUnauthenticated means no valid credentials were presented.
var ErrUnauthenticated = errors.New("missing or invalid bearer token")

// Authenticate returns the caller of r.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	if a.anonymous {
		return Principal{Name: "anonymous", Role: RoleAnalyst}, nil
	}
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return Principal{}, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(secret))
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			return t.p, nil
		}
	}
	return Principal{}, ErrUnauthenticated
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
