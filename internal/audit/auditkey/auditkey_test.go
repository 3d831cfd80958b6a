package auditkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/internal/audit"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1.KeyID()) != 16 {
		t.Fatalf("key id %q", k1.KeyID())
	}
	priv, err := os.ReadFile(filepath.Join(dir, PrivateFile))
	if err != nil || !strings.Contains(string(priv), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("private key file: %v\n%s", err, priv)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, PrivateFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("private key mode = %v, %v", fi.Mode().Perm(), err)
		}
	}
	// Loaded again: the same key.
	k2, err := LoadOrCreateKey(dir)
	if err != nil || k2.KeyID() != k1.KeyID() {
		t.Fatalf("reload: %v, id %s vs %s", err, k2.KeyID(), k1.KeyID())
	}
	// An auditor with only the public key verifies what the key signs.
	pub, err := LoadPublicKey(filepath.Join(dir, PublicFile))
	if err != nil || pub.KeyID() != k1.KeyID() {
		t.Fatalf("public key: %v", err)
	}
	cp, err := audit.NewCheckpoint(k2, 7, strings.Repeat("ab", 32), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Verify(pub); err != nil {
		t.Fatalf("verify with public key: %v", err)
	}
	if err := (Keyring{pub}).Verify(cp.KeyID, cp.Payload(), cp.Signature); err != nil {
		t.Fatalf("keyring: %v", err)
	}
	cp.Seq++
	if err := cp.Verify(pub); err == nil {
		t.Fatal("changed checkpoint verified")
	}
	if err := pub.Verify("0000000000000000", cp.Payload(), cp.Signature); err == nil {
		t.Fatal("unknown key id accepted")
	}
	if err := (Keyring{}).Verify(cp.KeyID, cp.Payload(), cp.Signature); err == nil {
		t.Fatal("empty keyring accepted")
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"private key readable by others", func(t *testing.T, dir string) {
			if runtime.GOOS == "windows" {
				t.Skip("no POSIX modes")
			}
			if err := os.Chmod(filepath.Join(dir, PrivateFile), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "chmod 600"},
		{"garbage private key", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, PrivateFile), "not a key", 0o600)
		}, "decoding audit signing key"},
		{"public key of another key", func(t *testing.T, dir string) {
			other, err := LoadOrCreateKey(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, PublicFile), string(other.PEM()), 0o644)
		}, "remove the stale public key file"},
		{"huge private key", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, PrivateFile), strings.Repeat("A", maxPEM+1), 0o600)
		}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreateKey(dir); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)
			if _, err := LoadOrCreateKey(dir); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParsePublicKeyRejectsOtherKeys(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p256 := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if _, err := ParsePublicKey(p256); err == nil || !strings.Contains(err.Error(), "want ed25519") {
		t.Fatalf("P-256 key: %v", err)
	}
	if _, err := ParsePublicKey([]byte("junk")); err == nil {
		t.Fatal("accepted junk")
	}
}

func write(t *testing.T, path, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

func FuzzParsePublicKey(f *testing.F) {
	k, err := LoadOrCreateKey(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.PEM())
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pk, err := ParsePublicKey(data)
		if err != nil {
			return
		}
		// A parsed key round-trips to the same ID.
		again, err := ParsePublicKey(pk.PEM())
		if err != nil || again.KeyID() != pk.KeyID() {
			t.Fatalf("round trip: %v", err)
		}
	})
}
