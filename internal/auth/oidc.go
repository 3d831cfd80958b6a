package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCConfig accepts bearer JWTs (ID or JWT access tokens) of one OpenID
// Connect issuer. The signature is checked against the issuer's JWKS (found
// by discovery at /.well-known/openid-configuration), and the issuer,
// audience and expiry claims are checked. The principal comes from three
// claims the identity provider must set for Mangrove users.
type OIDCConfig struct {
	// Issuer is the issuer URL, exactly as in the tokens' "iss" claim;
	// https, or http only on a loopback host.
	Issuer string `yaml:"issuer"`
	// ClientID is the audience the tokens must carry in "aud".
	ClientID string `yaml:"client_id"`
	// RoleClaim holds the Mangrove role: a string, or a list of strings of
	// which exactly one is a Mangrove role; default "mangrove_role". A token
	// without a known role is refused.
	RoleClaim string `yaml:"role_claim"`
	// TenantClaim holds the tenant; required for agency_officer, optional
	// for center roles (absent = all tenants); default "mangrove_tenant".
	TenantClaim string `yaml:"tenant_claim"`
	// UsernameClaim holds the user name (the audit actor); default
	// "preferred_username".
	UsernameClaim string `yaml:"username_claim"`
}

// Validate reports every problem at once.
func (c OIDCConfig) Validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("issuer: required"))
	} else if u, err := url.Parse(c.Issuer); err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("issuer: %q is not an absolute URL without query", c.Issuer))
	} else if u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname())) {
		errs = append(errs, fmt.Errorf("issuer: %q must use https (http only on a loopback host)", c.Issuer))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id: required"))
	}
	return errors.Join(errs...)
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (c OIDCConfig) withDefaults() OIDCConfig {
	if c.RoleClaim == "" {
		c.RoleClaim = "mangrove_role"
	}
	if c.TenantClaim == "" {
		c.TenantClaim = "mangrove_tenant"
	}
	if c.UsernameClaim == "" {
		c.UsernameClaim = "preferred_username"
	}
	return c
}

// discoveryRetry is how long a failed discovery is remembered before the
// next JWT tries again; it keeps a down identity provider from being asked
// at every request.
const discoveryRetry = 10 * time.Second

// oidcVerifier verifies JWTs of one issuer; discovery is lazy.
type oidcVerifier struct {
	cfg    OIDCConfig
	client *http.Client

	mu      sync.Mutex
	v       *oidc.IDTokenVerifier
	failed  time.Time // when discovery last failed
	lastErr error
}

// verifier returns the token verifier, discovering the issuer when needed.
// force ignores the retry delay.
func (o *oidcVerifier) verifier(ctx context.Context, force bool) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.v != nil {
		return o.v, nil
	}
	if !force && !o.failed.IsZero() && time.Since(o.failed) < discoveryRetry {
		return nil, o.lastErr
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, o.client), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, o.cfg.Issuer)
	if err != nil {
		o.failed, o.lastErr = time.Now(), fmt.Errorf("discovering OIDC issuer %s: %w", o.cfg.Issuer, err)
		return nil, o.lastErr
	}
	o.v = p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID})
	return o.v, nil
}

// verify checks a JWT and maps its claims; it returns the principal, the
// token's subject and its expiry.
func (o *oidcVerifier) verify(ctx context.Context, raw string) (Principal, string, time.Time, error) {
	var none time.Time
	v, err := o.verifier(ctx, false)
	if err != nil {
		return Principal{}, "", none, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return Principal{}, "", none, fmt.Errorf("%w: OIDC token expired at %s", ErrUnauthenticated, exp.Expiry.UTC().Format(time.RFC3339))
		}
		return Principal{}, "", none, fmt.Errorf("%w: OIDC token not accepted: %v", ErrUnauthenticated, err)
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, "", none, fmt.Errorf("%w: reading OIDC claims: %v", ErrUnauthenticated, err)
	}
	p, err := principalFromClaims(o.cfg, claims)
	if err != nil {
		return Principal{}, "", none, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return p, tok.Subject, tok.Expiry, nil
}

// principalFromClaims maps verified claims to a principal (cfg has its
// defaults applied).
func principalFromClaims(cfg OIDCConfig, claims map[string]json.RawMessage) (Principal, error) {
	var p Principal
	name, err := stringClaim(claims, cfg.UsernameClaim)
	if err != nil {
		return p, err
	}
	if err := checkName("claim "+cfg.UsernameClaim, name, false); err != nil {
		return p, err
	}
	role, err := roleClaim(claims, cfg.RoleClaim)
	if err != nil {
		return p, err
	}
	tenant, err := stringClaim(claims, cfg.TenantClaim)
	if err != nil && !errors.Is(err, errNoClaim) {
		return p, err
	}
	if err := checkName("claim "+cfg.TenantClaim, tenant, true); err != nil {
		return p, err
	}
	if role == RoleAgencyOfficer && tenant == "" {
		return p, fmt.Errorf("claim %s: required for role %s", cfg.TenantClaim, role)
	}
	return Principal{Name: name, Tenant: tenant, Role: role}, nil
}

var errNoClaim = errors.New("missing claim")

func stringClaim(claims map[string]json.RawMessage, name string) (string, error) {
	raw, ok := claims[name]
	if !ok || string(raw) == "null" {
		return "", fmt.Errorf("claim %s: %w", name, errNoClaim)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("claim %s: not a string", name)
	}
	if s == "" {
		return "", fmt.Errorf("claim %s: %w", name, errNoClaim)
	}
	return s, nil
}

// roleClaim reads a role: a string naming a role, or a list of strings of
// which exactly one names a role (identity providers often put unrelated
// groups in the same list).
func roleClaim(claims map[string]json.RawMessage, name string) (string, error) {
	raw, ok := claims[name]
	if !ok || string(raw) == "null" {
		return "", fmt.Errorf("claim %s: %w: no Mangrove role", name, errNoClaim)
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		r, ok := CanonicalRole(one)
		if !ok {
			return "", fmt.Errorf("claim %s: %q is not a Mangrove role", name, one)
		}
		return r, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", fmt.Errorf("claim %s: neither a string nor a list of strings", name)
	}
	found := ""
	for _, s := range list {
		if r, ok := CanonicalRole(s); ok {
			if found != "" && found != r {
				return "", fmt.Errorf("claim %s: more than one Mangrove role (%s, %s)", name, found, r)
			}
			found = r
		}
	}
	if found == "" {
		return "", fmt.Errorf("claim %s: no Mangrove role in the list", name)
	}
	return found, nil
}
