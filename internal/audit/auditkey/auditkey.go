// Package auditkey provides the ed25519 key that signs audit-log
// checkpoints (audit.Checkpoint): it creates the key on first use, loads it
// after, exports the public key as PEM for auditors, and adapts sigstore's
// signer and verifier to audit.Signer and audit.CheckpointVerifier.
//
// It is the only package under internal/audit that imports sigstore, so that
// package audit stays a standard-library leaf.
package auditkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/mangrove-soc/mangrove/internal/audit"
)

// File names inside the key directory.
const (
	PrivateFile = "audit-signing.key" // PKCS#8 PEM, mode 0600
	PublicFile  = "audit-signing.pub" // PKIX PEM, for auditors
)

// maxPEM bounds the key files read.
const maxPEM = 16 << 10

// Key is the checkpoint signing key. It implements audit.Signer and
// audit.CheckpointVerifier and is safe for concurrent use.
type Key struct {
	signer signature.Signer
	PublicKey
}

// PublicKey verifies checkpoints signed by one key. It implements
// audit.CheckpointVerifier.
type PublicKey struct {
	verifier signature.Verifier
	id       string
	pem      []byte
}

var (
	_ audit.Signer             = (*Key)(nil)
	_ audit.CheckpointVerifier = (*PublicKey)(nil)
	_ audit.CheckpointVerifier = Keyring(nil)
)

// LoadOrCreateKey returns the key in dir/audit-signing.key, creating dir
// (0700) and a new ed25519 key (0600) if there is none, and writes the public
// key to dir/audit-signing.pub if that file is absent. An existing private
// key readable by group or others is refused (except on Windows), as is a
// public key file that does not match the private key.
func LoadOrCreateKey(dir string) (*Key, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating audit key directory: %w", err)
	}
	path := filepath.Join(dir, PrivateFile)
	priv, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		priv, err = createPrivate(path)
	}
	if err != nil {
		return nil, err
	}
	k, err := newKey(priv)
	if err != nil {
		return nil, err
	}
	pubPath := filepath.Join(dir, PublicFile)
	switch have, err := readLimited(pubPath); {
	case errors.Is(err, fs.ErrNotExist):
		if err := writeNew(pubPath, k.pem, 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("writing audit public key: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("reading audit public key: %w", err)
	default:
		pk, err := ParsePublicKey(have)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pubPath, err)
		}
		if pk.id != k.id {
			return nil, fmt.Errorf("%s holds key %s but %s is key %s; remove the stale public key file", pubPath, pk.id, path, k.id)
		}
	}
	return k, nil
}

func readPrivate(path string) (ed25519.PrivateKey, error) {
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("audit signing key %s has mode %v; it must not be readable by group or others (chmod 600)", path, fi.Mode().Perm())
		}
	}
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	key, err := cryptoutils.UnmarshalPEMToPrivateKey(b, cryptoutils.SkipPassword)
	if err != nil {
		return nil, fmt.Errorf("decoding audit signing key %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit signing key %s is %T, want ed25519", path, key)
	}
	return priv, nil
}

func createPrivate(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating audit signing key: %w", err)
	}
	b, err := cryptoutils.MarshalPrivateKeyToPEM(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding audit signing key: %w", err)
	}
	if err := writeNew(path, b, 0o600); errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		return readPrivate(path)
	} else if err != nil {
		return nil, fmt.Errorf("writing audit signing key: %w", err)
	}
	return priv, nil
}

// writeNew writes b to path atomically, failing with fs.ErrExist if path
// exists: a temporary file is written and synced, then hard-linked.
func writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Link(tmp, path)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEM+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEM {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxPEM)
	}
	return b, nil
}

func newKey(priv ed25519.PrivateKey) (*Key, error) {
	s, err := signature.LoadED25519Signer(priv)
	if err != nil {
		return nil, fmt.Errorf("loading audit signing key: %w", err)
	}
	pub, err := publicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	return &Key{signer: s, PublicKey: *pub}, nil
}

func publicKey(pub ed25519.PublicKey) (*PublicKey, error) {
	v, err := signature.LoadED25519Verifier(pub)
	if err != nil {
		return nil, fmt.Errorf("loading audit public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding audit public key: %w", err)
	}
	pemBytes, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding audit public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{verifier: v, id: hex.EncodeToString(sum[:])[:16], pem: pemBytes}, nil
}

// ParsePublicKey reads a PEM public key as written to audit-signing.pub.
func ParsePublicKey(pemBytes []byte) (*PublicKey, error) {
	if len(pemBytes) > maxPEM {
		return nil, fmt.Errorf("audit public key larger than %d bytes", maxPEM)
	}
	key, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("decoding audit public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit public key is %T, want ed25519", key)
	}
	return publicKey(pub)
}

// LoadPublicKey reads the public key file at path (audit-signing.pub), for
// verifying a log with only the public key.
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit public key: %w", err)
	}
	pk, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pk, nil
}

// KeyID returns the key's ID: the first 16 hex digits of the SHA-256 of
// its PKIX (DER) public key.
func (p *PublicKey) KeyID() string { return p.id }

// PEM returns the public key as PEM.
func (p *PublicKey) PEM() []byte { return bytes.Clone(p.pem) }

// Verify implements audit.CheckpointVerifier: sig must be this key's
// signature of payload, and keyID this key's ID.
func (p *PublicKey) Verify(keyID string, payload, sig []byte) error {
	if keyID != p.id {
		return fmt.Errorf("unknown key %q (have %s)", keyID, p.id)
	}
	return p.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload))
}

// Sign implements audit.Signer.
func (k *Key) Sign(payload []byte) ([]byte, error) {
	return k.signer.SignMessage(bytes.NewReader(payload))
}

// Keyring verifies checkpoints signed by any of its keys (after a key
// rotation, old checkpoints keep verifying with the old public key).
type Keyring []*PublicKey

// Verify implements audit.CheckpointVerifier.
func (r Keyring) Verify(keyID string, payload, sig []byte) error {
	for _, k := range r {
		if k.id == keyID {
			return k.Verify(keyID, payload, sig)
		}
	}
	return fmt.Errorf("unknown key %q", keyID)
}
