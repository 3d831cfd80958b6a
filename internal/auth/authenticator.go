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
	"sync"
	"time"
)

// TokenLookup resolves API tokens issued by the user store (implemented by
// the SQLite case store). Its methods are called on the request path, may
// block on the database and must be safe for concurrent use.
type TokenLookup interface {
	// TokenPrincipal returns the principal of the token whose SHA-256 is
	// sum. An unknown, revoked or expired token, or one whose user is
	// disabled, gives an error wrapping ErrUnauthenticated; any other error
	// is a failure of the store.
	TokenPrincipal(ctx context.Context, sum [sha256.Size]byte) (Principal, error)
	// HasTokens reports whether at least one token is active: not revoked,
	// not expired, and its user not disabled.
	HasTokens(ctx context.Context) (bool, error)
	// UserDisabled reports whether a user matching the name, or linked to
	// the OIDC subject (when not ""), exists and is disabled.
	UserDisabled(ctx context.Context, name, oidcSubject string) (bool, error)
}

// DefaultCacheTTL is how long a store-issued token or an OIDC JWT, once
// found valid, is accepted without checking it again (a JWT never past its
// expiry), and how long the answer of TokenLookup.HasTokens is kept.
// Revoking a token, disabling a user or creating the first token takes
// effect within this bound.
const DefaultCacheTTL = 5 * time.Second

// maxBearerBytes bounds a bearer credential (a JWT is well under 8 KiB).
const maxBearerBytes = 16 << 10

// maxCached bounds the cache of valid store-issued tokens.
const maxCached = 4096

// anonymous is the principal of every request when nothing can authenticate
// anybody: local single-user mode, so it may do everything (admin,
// center-wide).
var anonymous = Principal{Name: "anonymous", Role: RoleAdmin}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithTokenLookup accepts the tokens issued by the user store, and lets OIDC
// logins of disabled users be refused.
func WithTokenLookup(l TokenLookup) Option { return func(a *Authenticator) { a.lookup = l } }

// WithCacheTTL sets the cache bound (DefaultCacheTTL when not given); 0 asks
// the store on every request.
func WithCacheTTL(d time.Duration) Option { return func(a *Authenticator) { a.ttl = max(d, 0) } }

// WithHTTPClient sets the client for OIDC discovery and key fetches
// (http.DefaultClient when not given).
func WithHTTPClient(c *http.Client) Option { return func(a *Authenticator) { a.client = c } }

// AllowAnonymous says whether a request may be anonymous when no credential
// exists anywhere (no configured token, no active store token, no OIDC).
// Default true, for a loopback listener; pass false on any other listener so
// that revoking the last token cannot open the server: requests are then
// refused until a token exists.
func AllowAnonymous(ok bool) Option { return func(a *Authenticator) { a.allowAnon = ok } }

// Authenticator checks bearer credentials. It is safe for concurrent use.
type Authenticator struct {
	tokens    []token
	lookup    TokenLookup
	oidc      *oidcVerifier
	client    *http.Client
	ttl       time.Duration
	allowAnon bool

	mu       sync.Mutex
	cache    map[[sha256.Size]byte]cached
	hasUntil time.Time // the cached answer of lookup.HasTokens is valid until then
	has      bool
}

type token struct {
	sum [sha256.Size]byte
	p   Principal
}

type cached struct {
	p     Principal
	until time.Time
}

// New loads the configured tokens (reading token files once). It does not
// contact the OIDC issuer: discovery happens at the first JWT presented (or
// at CheckOIDC) and is retried while it fails.
func New(c Config, opts ...Option) (*Authenticator, error) {
	a := &Authenticator{ttl: DefaultCacheTTL, allowAnon: true, cache: map[[sha256.Size]byte]cached{}}
	for _, o := range opts {
		o(a)
	}
	for i, t := range c.Tokens {
		role, ok := CanonicalRole(t.Role)
		if !ok {
			return nil, fmt.Errorf("tokens[%d].role: %q is not a role", i, t.Role)
		}
		tk := token{p: Principal{Name: t.Name, Tenant: t.Tenant, Role: role}}
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
			b, err := hex.DecodeString(t.TokenSHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("tokens[%d].token_sha256: must be 64 hex characters", i)
			}
			copy(tk.sum[:], b)
		}
		a.tokens = append(a.tokens, tk)
	}
	if c.OIDC != nil {
		if err := c.OIDC.Validate(); err != nil {
			return nil, fmt.Errorf("oidc: %w", err)
		}
		client := a.client
		if client == nil {
			client = http.DefaultClient
		}
		a.oidc = &oidcVerifier{cfg: c.OIDC.withDefaults(), client: client}
	}
	return a, nil
}

// Authenticate returns the caller of r, from its "Authorization: Bearer"
// credential: a configured token, then a store-issued token (TokenPrefix),
// then an OIDC JWT. Refusals wrap ErrUnauthenticated; other errors are
// failures of the store or the identity provider.
//
// When nothing could authenticate anybody (see AllowAnonymous), a request
// without a credential, or with one that is neither configured nor
// store-issued, is the anonymous principal: name "anonymous", role admin,
// center-wide (local single-user mode). A store-issued token is checked even
// then, so a revoked one is refused rather than ignored.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	ctx := r.Context()
	h := r.Header.Get("Authorization")
	secret := ""
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		secret = strings.TrimSpace(h[7:])
	}
	if secret == "" {
		return a.unknown(ctx)
	}
	if len(secret) > maxBearerBytes {
		return Principal{}, fmt.Errorf("%w: credential longer than %d bytes", ErrUnauthenticated, maxBearerBytes)
	}
	sum := sha256.Sum256([]byte(secret))
	match := -1
	for i, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			match = i
		}
	}
	if match >= 0 {
		return a.tokens[match].p, nil
	}
	switch {
	case a.lookup != nil && strings.HasPrefix(secret, TokenPrefix):
		return a.storeToken(ctx, sum)
	case a.oidc != nil && strings.Count(secret, ".") == 2:
		return a.oidcToken(ctx, secret, sum)
	}
	return a.unknown(ctx)
}

// unknown answers a request without a credential it recognises: anonymous
// when allowed, refused otherwise.
func (a *Authenticator) unknown(ctx context.Context) (Principal, error) {
	anon, err := a.anonymous(ctx)
	if err != nil {
		return Principal{}, err
	}
	if anon {
		return anonymous, nil
	}
	return Principal{}, ErrUnauthenticated
}

// storeToken looks a store-issued token up, through the cache.
func (a *Authenticator) storeToken(ctx context.Context, sum [sha256.Size]byte) (Principal, error) {
	now := time.Now()
	if p, ok := a.cached(sum, now); ok {
		return p, nil
	}
	p, err := a.lookup.TokenPrincipal(ctx, sum)
	if err != nil {
		a.forget(sum)
		if errors.Is(err, ErrUnauthenticated) {
			return Principal{}, err
		}
		return Principal{}, fmt.Errorf("checking API token: %w", err)
	}
	a.remember(sum, p, now.Add(a.ttl))
	return p, nil
}

// oidcToken verifies a JWT, through the cache (an entry lives at most until
// the token expires).
func (a *Authenticator) oidcToken(ctx context.Context, raw string, sum [sha256.Size]byte) (Principal, error) {
	now := time.Now()
	if p, ok := a.cached(sum, now); ok {
		return p, nil
	}
	p, subject, expiry, err := a.oidc.verify(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	if a.lookup != nil {
		disabled, err := a.lookup.UserDisabled(ctx, p.Name, subject)
		if err != nil {
			return Principal{}, fmt.Errorf("checking user %s: %w", p.Name, err)
		}
		if disabled {
			return Principal{}, fmt.Errorf("%w: user %s is disabled", ErrUnauthenticated, p.Name)
		}
	}
	until := now.Add(a.ttl)
	if expiry.Before(until) {
		until = expiry
	}
	a.remember(sum, p, until)
	return p, nil
}

func (a *Authenticator) cached(sum [sha256.Size]byte, now time.Time) (Principal, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cache[sum]
	if !ok || !now.Before(c.until) {
		return Principal{}, false
	}
	return c.p, true
}

func (a *Authenticator) forget(sum [sha256.Size]byte) {
	a.mu.Lock()
	delete(a.cache, sum)
	a.mu.Unlock()
}

// remember caches a valid credential's principal until the given time,
// keeping the cache bounded (expired entries go first, then everything).
func (a *Authenticator) remember(sum [sha256.Size]byte, p Principal, until time.Time) {
	if a.ttl <= 0 {
		return
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCached {
		for k, v := range a.cache {
			if !now.Before(v.until) {
				delete(a.cache, k)
			}
		}
		if len(a.cache) >= maxCached {
			clear(a.cache)
		}
	}
	a.cache[sum] = cached{p: p, until: until}
}

// anonymous reports whether the request is anonymous: allowed, no configured
// token, no OIDC, and no active store token (asked at most once per ttl).
func (a *Authenticator) anonymous(ctx context.Context) (bool, error) {
	if !a.allowAnon || len(a.tokens) > 0 || a.oidc != nil {
		return false, nil
	}
	if a.lookup == nil {
		return true, nil
	}
	now := time.Now()
	a.mu.Lock()
	if now.Before(a.hasUntil) {
		has := a.has
		a.mu.Unlock()
		return !has, nil
	}
	a.mu.Unlock()
	has, err := a.lookup.HasTokens(ctx)
	if err != nil {
		// Fail closed: a store that cannot answer does not open the server.
		return false, fmt.Errorf("checking for API tokens: %w", err)
	}
	a.mu.Lock()
	a.has, a.hasUntil = has, now.Add(a.ttl)
	a.mu.Unlock()
	return !has, nil
}

// CheckOIDC discovers the OIDC issuer now, so that a wrong issuer shows at
// start rather than at the first login. It returns nil when OIDC is not
// configured.
func (a *Authenticator) CheckOIDC(ctx context.Context) error {
	if a.oidc == nil {
		return nil
	}
	_, err := a.oidc.verifier(ctx, true)
	return err
}
