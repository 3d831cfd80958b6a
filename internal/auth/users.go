package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode"
)

// User is a person or machine account of the user store. Its API tokens and
// OIDC logins act with its role and tenant.
type User struct {
	Name     string `json:"name"`
	Role     string `json:"role"`             // canonical role name
	Tenant   string `json:"tenant,omitempty"` // "" is center-wide; required for agency_officer
	Disabled bool   `json:"disabled"`
	// OIDCSubject is the "sub" claim of the user's OIDC identity, "" when
	// not linked. A disabled user refuses OIDC logins by name or by subject.
	OIDCSubject string    `json:"oidc_subject,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// Principal is the principal the user acts as.
func (u User) Principal() Principal { return Principal{Name: u.Name, Tenant: u.Tenant, Role: u.Role} }

// Validate reports every problem of a new user at once: the name and tenant
// must be identifiers, the role known, and an agency officer needs a tenant.
func (u User) Validate() error {
	var errs []error
	if err := checkName("name", u.Name, false); err != nil {
		errs = append(errs, err)
	}
	if err := CheckScope(u.Role, u.Tenant); err != nil {
		errs = append(errs, err)
	}
	if len(u.OIDCSubject) > 255 {
		errs = append(errs, errors.New("oidc_subject: longer than 255 bytes"))
	}
	return errors.Join(errs...)
}

// checkName checks a user or tenant name: 1 to 128 letters, digits and
// . _ - @, starting with a letter or digit ("" allowed when optional).
func checkName(what, s string, optional bool) error {
	if s == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("%s: required", what)
	}
	if len(s) > 128 {
		return fmt.Errorf("%s: longer than 128 bytes", what)
	}
	for i, r := range s {
		ok := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if !ok && i > 0 {
			ok = r == '.' || r == '_' || r == '-' || r == '@'
		}
		if !ok {
			return fmt.Errorf("%s: %q: use letters, digits and . _ - @, starting with a letter or digit", what, s)
		}
	}
	return nil
}

// APIToken is the stored description of an API token. The secret itself is
// shown once at creation and never stored; only its SHA-256 is.
type APIToken struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Revoked     time.Time `json:"revoked,omitzero"`   // zero while not revoked
	LastUsed    time.Time `json:"last_used,omitzero"` // zero when never used; updated at most once a minute
}

// Active reports whether the token is neither revoked nor expired at now.
func (t APIToken) Active(now time.Time) bool { return t.Revoked.IsZero() && now.Before(t.Expires) }

// Token lifetimes. Every issued token expires: a lifetime of 0 ("never") is
// refused for every role, people and machines alike, so that a forgotten
// token stops working within a year and is rotated.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 366 * 24 * time.Hour
)

// CheckTokenTTL reports whether d is an allowed token lifetime.
func CheckTokenTTL(d time.Duration) error {
	if d <= 0 {
		return errors.New("token lifetime must be positive: tokens that never expire are not issued")
	}
	if d < time.Minute {
		return errors.New("token lifetime must be at least 1m")
	}
	if d > MaxTokenTTL {
		return fmt.Errorf("token lifetime %s exceeds the maximum of %s (366 days)", d, MaxTokenTTL)
	}
	return nil
}

// MaxDescription bounds a token description.
const MaxDescription = 256

// CheckDescription reports whether s is an acceptable token description.
func CheckDescription(s string) error {
	if len(s) > MaxDescription {
		return fmt.Errorf("description: longer than %d bytes", MaxDescription)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errors.New("description: contains control characters")
		}
	}
	return nil
}

// TokenPrefix starts every token issued by the user store, which is how the
// Authenticator tells them from OIDC JWTs (and how secret scanners find them).
const TokenPrefix = "mgv_"

// NewTokenSecret returns a fresh token: TokenPrefix followed by 32 random
// bytes in unpadded base64url, and its SHA-256, which is what is stored.
func NewTokenSecret() (secret string, sum [sha256.Size]byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", sum, fmt.Errorf("generating token: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, sha256.Sum256([]byte(secret)), nil
}

// NewTokenID returns a random, public token identifier ("tok_" and 16 hex
// digits) used to list and revoke a token without knowing its secret.
func NewTokenID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating token id: %w", err)
	}
	return "tok_" + hex.EncodeToString(b[:]), nil
}
