package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mangrove-soc/mangrove/internal/audit"
	"github.com/mangrove-soc/mangrove/internal/auth"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// The user store: users, the API tokens issued to them, and the lookup the
// Authenticator uses (Store implements auth.TokenLookup). Every change is
// audited (user.create, user.disable, token.create, token.revoke); audit
// details never hold a token secret or its hash.

// lastUsedEvery is how often TokenPrincipal records a token's last use.
const lastUsedEvery = time.Minute

// CreateUser stores a new, enabled user and returns it with its times set.
// The role may be an alias; it is stored canonical. An invalid user gives an
// error listing every problem; an existing name or OIDC subject gives
// store.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u auth.User, actor string) (auth.User, error) {
	if err := u.Validate(); err != nil {
		return auth.User{}, err
	}
	u.Role, _ = auth.CanonicalRole(u.Role)
	u.Disabled = false
	now := s.now().UTC()
	u.Created, u.Updated = now, now
	var subject any
	if u.OIDCSubject != "" {
		subject = u.OIDCSubject
	}
	err := s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = ? OR (oidc_subject IS NOT NULL AND oidc_subject = ?)`,
			u.Name, subject).Scan(&n); err != nil {
			return fmt.Errorf("checking user %s: %w", u.Name, err)
		}
		if n > 0 {
			return fmt.Errorf("user %s (or its OIDC subject) already exists: %w", u.Name, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (name, role, tenant, disabled, created, updated, oidc_subject) VALUES (?, ?, ?, 0, ?, ?, ?)`,
			u.Name, u.Role, u.Tenant, now.UnixNano(), now.UnixNano(), subject); err != nil {
			return fmt.Errorf("storing user %s: %w", u.Name, err)
		}
		detail, _ := json.Marshal(map[string]string{"role": u.Role, "tenant": u.Tenant, "oidc_subject": u.OIDCSubject})
		return au.append(ctx, audit.Entry{Actor: actor, Tenant: u.Tenant, Action: "user.create",
			ObjectType: "user", ObjectID: u.Name, Detail: detail})
	})
	if err != nil {
		return auth.User{}, err
	}
	return u, nil
}

const userColumns = `name, role, tenant, disabled, created, updated, COALESCE(oidc_subject, '')`

func scanUser(row rowScanner) (auth.User, error) {
	var u auth.User
	var created, updated int64
	if err := row.Scan(&u.Name, &u.Role, &u.Tenant, &u.Disabled, &created, &updated, &u.OIDCSubject); err != nil {
		return u, err
	}
	u.Created, u.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return u, nil
}

// Users lists every user by name.
func (s *Store) Users(ctx context.Context) ([]auth.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	out := []auth.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// User returns one user, or store.ErrNotFound.
func (s *Store) User(ctx context.Context, name string) (auth.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("reading user %s: %w", name, err)
	}
	return u, nil
}

// DisableUser disables a user: its tokens and OIDC logins are refused from
// then on (within the Authenticator's cache bound). Disabling is final for
// the name; a disabled user is kept for the audit trail. Unknown users give
// store.ErrNotFound; disabling a disabled user changes nothing and is not
// audited again.
func (s *Store) DisableUser(ctx context.Context, name, actor string) error {
	return s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", name, store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("reading user %s: %w", name, err)
		}
		if u.Disabled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = 1, updated = ? WHERE name = ?`, s.now().UnixNano(), name); err != nil {
			return fmt.Errorf("disabling user %s: %w", name, err)
		}
		detail, _ := json.Marshal(map[string]string{"role": u.Role, "tenant": u.Tenant})
		return au.append(ctx, audit.Entry{Actor: actor, Tenant: u.Tenant, Action: "user.disable",
			ObjectType: "user", ObjectID: name, Detail: detail})
	})
}

// CreateToken issues a token to an enabled user, valid for ttl (see
// auth.CheckTokenTTL: every token expires, at most after auth.MaxTokenTTL).
// It returns the secret, which is not kept and cannot be shown again, and
// the stored description of the token.
func (s *Store) CreateToken(ctx context.Context, user string, ttl time.Duration, description, actor string) (string, auth.APIToken, error) {
	if err := errors.Join(auth.CheckTokenTTL(ttl), auth.CheckDescription(description)); err != nil {
		return "", auth.APIToken{}, err
	}
	secret, sum, err := auth.NewTokenSecret()
	if err != nil {
		return "", auth.APIToken{}, err
	}
	id, err := auth.NewTokenID()
	if err != nil {
		return "", auth.APIToken{}, err
	}
	now := s.now().UTC()
	t := auth.APIToken{ID: id, User: user, Description: description, Created: now, Expires: now.Add(ttl)}
	err = s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, user))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", user, store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("reading user %s: %w", user, err)
		}
		if u.Disabled {
			return fmt.Errorf("user %s is disabled: %w", user, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (id, user_name, sha256, created, expires, description) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, user, sum[:], t.Created.UnixNano(), t.Expires.UnixNano(), description); err != nil {
			return fmt.Errorf("storing token: %w", err)
		}
		detail, _ := json.Marshal(map[string]string{"user": user, "expires": t.Expires.Format(time.RFC3339), "description": description})
		return au.append(ctx, audit.Entry{Actor: actor, Tenant: u.Tenant, Action: "token.create",
			ObjectType: "api_token", ObjectID: t.ID, Detail: detail})
	})
	if err != nil {
		return "", auth.APIToken{}, err
	}
	return secret, t, nil
}

// RevokeToken revokes a token by id. Unknown ids give store.ErrNotFound;
// revoking a revoked token changes nothing and is not audited again.
func (s *Store) RevokeToken(ctx context.Context, id, actor string) error {
	return s.writeTx(ctx, func(tx *sql.Tx, au *auditor) error {
		var user, tenant string
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT t.user_name, u.tenant, t.revoked FROM api_tokens t JOIN users u ON u.name = t.user_name WHERE t.id = ?`, id).
			Scan(&user, &tenant, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("token %s: %w", id, store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("reading token %s: %w", id, err)
		}
		if revoked != 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked = ? WHERE id = ?`, s.now().UnixNano(), id); err != nil {
			return fmt.Errorf("revoking token %s: %w", id, err)
		}
		detail, _ := json.Marshal(map[string]string{"user": user})
		return au.append(ctx, audit.Entry{Actor: actor, Tenant: tenant, Action: "token.revoke",
			ObjectType: "api_token", ObjectID: id, Detail: detail})
	})
}

// Tokens lists the tokens of a user (all users when user is ""), newest
// first, revoked and expired ones included. Secrets are never returned.
func (s *Store) Tokens(ctx context.Context, user string) ([]auth.APIToken, error) {
	q := `SELECT id, user_name, description, created, expires, revoked, COALESCE(last_used, 0) FROM api_tokens`
	var args []any
	if user != "" {
		q += ` WHERE user_name = ?`
		args = append(args, user)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY created DESC, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	out := []auth.APIToken{}
	for rows.Next() {
		var t auth.APIToken
		var created, expires, revoked, lastUsed int64
		if err := rows.Scan(&t.ID, &t.User, &t.Description, &created, &expires, &revoked, &lastUsed); err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		t.Created, t.Expires = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
		t.Revoked, t.LastUsed = unixOrZero(revoked), unixOrZero(lastUsed)
		out = append(out, t)
	}
	return out, rows.Err()
}

func unixOrZero(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// TokenPrincipal implements auth.TokenLookup: the principal of the token
// whose SHA-256 is sum. Unknown, revoked and expired tokens and disabled
// users give errors wrapping auth.ErrUnauthenticated. It records the token's
// last use at most once a minute; that bookkeeping is best effort and never
// fails the lookup.
func (s *Store) TokenPrincipal(ctx context.Context, sum [sha256.Size]byte) (auth.Principal, error) {
	var id, name, role, tenant string
	var expires, revoked, lastUsed int64
	var disabled bool
	err := s.r.QueryRowContext(ctx, `SELECT t.id, t.expires, t.revoked, COALESCE(t.last_used, 0), u.name, u.role, u.tenant, u.disabled
		FROM api_tokens t JOIN users u ON u.name = t.user_name WHERE t.sha256 = ?`, sum[:]).
		Scan(&id, &expires, &revoked, &lastUsed, &name, &role, &tenant, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Principal{}, auth.ErrUnauthenticated
	} else if err != nil {
		return auth.Principal{}, fmt.Errorf("looking up token: %w", err)
	}
	now := s.now()
	switch {
	case revoked != 0:
		return auth.Principal{}, fmt.Errorf("%w: token %s is revoked", auth.ErrUnauthenticated, id)
	case now.UnixNano() >= expires:
		return auth.Principal{}, fmt.Errorf("%w: token %s expired at %s", auth.ErrUnauthenticated, id, time.Unix(0, expires).UTC().Format(time.RFC3339))
	case disabled:
		return auth.Principal{}, fmt.Errorf("%w: user %s is disabled", auth.ErrUnauthenticated, name)
	}
	if now.UnixNano()-lastUsed >= int64(lastUsedEvery) {
		// Not audited and not under the write lock: metadata only.
		_, _ = s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, now.UnixNano(), id)
	}
	return auth.Principal{Name: name, Tenant: tenant, Role: role}, nil
}

// HasTokens implements auth.TokenLookup: whether any token is active (not
// revoked, not expired, its user enabled).
func (s *Store) HasTokens(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_tokens t JOIN users u ON u.name = t.user_name
		WHERE t.revoked = 0 AND t.expires > ? AND u.disabled = 0)`, s.now().UnixNano()).Scan(&ok); err != nil {
		return false, fmt.Errorf("checking for active tokens: %w", err)
	}
	return ok, nil
}

// UserDisabled implements auth.TokenLookup: whether a user named name, or
// linked to oidcSubject (when not ""), exists and is disabled.
func (s *Store) UserDisabled(ctx context.Context, name, oidcSubject string) (bool, error) {
	q := `SELECT EXISTS (SELECT 1 FROM users WHERE disabled = 1 AND (name = ?`
	args := []any{name}
	if oidcSubject != "" {
		q += ` OR oidc_subject = ?`
		args = append(args, oidcSubject)
	}
	var ok bool
	if err := s.r.QueryRowContext(ctx, q+`))`, args...).Scan(&ok); err != nil {
		return false, fmt.Errorf("checking user %s: %w", name, err)
	}
	return ok, nil
}
