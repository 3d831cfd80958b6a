// Package auth authenticates API callers and carries who they are, which role
// they hold and which agency (tenant) they act for, in the request context.
// Every tenant-scoped query takes the tenant from the Principal, never from
// the request.
//
// Callers are recognised, in this order, by an API token listed in the
// configuration, by an API token issued from the user store (`mangrove tokens
// create`, see TokenLookup), or by an OpenID Connect bearer token (JWT) of
// the configured issuer. What a principal may do is decided in one place, the
// role → permission table of Permissions, through Principal.Can.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Roles. Center roles (admin, analyst, responder, auditor) act on every
// tenant when Principal.Tenant is "", or on the one tenant it names.
const (
	RoleAdmin         = "admin"          // everything, including users and tokens
	RoleAnalyst       = "analyst"        // center staff: triage and investigation, everything but user administration
	RoleResponder     = "responder"      // rapid-response team member: works incidents and alerts
	RoleAgencyOfficer = "agency_officer" // an agency's officer: reads and reports for its own tenant only
	RoleAuditor       = "auditor"        // read-only on every tenant, including the audit log
	RoleIngest        = "ingest"         // a collector or shipper: may only send events

	// RoleAgency is the former name of RoleAgencyOfficer, still accepted in
	// configuration files; principals always carry the canonical name.
	RoleAgency = "agency"
)

// Roles lists the canonical role names.
var Roles = []string{RoleAdmin, RoleAnalyst, RoleResponder, RoleAgencyOfficer, RoleAuditor, RoleIngest}

// CanonicalRole returns the canonical name of a role name (mapping the alias
// "agency" to "agency_officer"), or false when the name is not a role.
func CanonicalRole(name string) (string, bool) {
	if name == RoleAgency {
		return RoleAgencyOfficer, true
	}
	if _, ok := rolePermissions[name]; ok {
		return name, true
	}
	return "", false
}

// CheckScope reports a problem with a role and tenant pair: the role must be
// known (aliases allowed) and an agency officer is bound to exactly one tenant.
func CheckScope(role, tenant string) error {
	r, ok := CanonicalRole(role)
	if !ok {
		return fmt.Errorf("role %q is not one of %s", role, joinRoles())
	}
	if r == RoleAgencyOfficer && tenant == "" {
		return errors.New("role agency_officer requires a tenant")
	}
	return checkName("tenant", tenant, true)
}

func joinRoles() string {
	s := ""
	for i, r := range Roles {
		if i > 0 {
			s += ", "
		}
		s += r
	}
	return s
}

// Principal is an authenticated caller.
type Principal struct {
	Name   string
	Tenant string // "" means center-wide (all tenants)
	Role   string // canonical role name
}

// Actor is the audit log name of the principal.
func (p Principal) Actor() string { return "user:" + p.Name }

// CanRead reports whether the principal may read case data and events:
// events, alerts and incidents (within its tenant, if it has one).
func (p Principal) CanRead() bool {
	return p.Can(PermEventsRead) && p.Can(PermAlertsRead) && p.Can(PermIncidentsRead)
}

// TokenConfig is one API token. The token itself is referenced, never inlined:
// either a file holding it or its SHA-256 in hex.
type TokenConfig struct {
	Name        string `yaml:"name"`
	Tenant      string `yaml:"tenant"`
	Role        string `yaml:"role"`
	TokenFile   string `yaml:"token_file"`
	TokenSHA256 string `yaml:"token_sha256"`
}

// Config is the authentication configuration.
//
// With no token here, no active token in the user store and no OIDC issuer,
// every request is the anonymous principal (see Anonymous): only acceptable on
// a loopback listener, which the server enforces.
type Config struct {
	Tokens []TokenConfig `yaml:"tokens"`
	// DefaultTenant is the tenant of events sent by a center-wide caller.
	DefaultTenant string `yaml:"default_tenant"`
	// OIDC, when set, accepts bearer JWTs of one OpenID Connect issuer.
	OIDC *OIDCConfig `yaml:"oidc"`
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
		if r, ok := CanonicalRole(t.Role); !ok {
			errs = append(errs, fmt.Errorf("%s.role: %q is not one of %s (or the alias agency)", p, t.Role, joinRoles()))
		} else if r == RoleAgencyOfficer && t.Tenant == "" {
			errs = append(errs, fmt.Errorf("%s.tenant: required for role %s", p, t.Role))
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
	if c.OIDC != nil {
		for _, e := range unjoin(c.OIDC.Validate()) {
			errs = append(errs, fmt.Errorf("oidc.%w", e))
		}
	}
	return errors.Join(errs...)
}

// unjoin splits an errors.Join result into its parts (nil gives none).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ErrUnauthenticated means no valid credentials were presented. Errors of
// Authenticate and of TokenLookup that refuse a credential wrap it.
var ErrUnauthenticated = errors.New("missing or invalid bearer token")

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
