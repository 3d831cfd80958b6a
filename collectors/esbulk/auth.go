package esbulk

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
)

// authenticate returns the tenant of the request's API key: `Authorization:
// ApiKey base64(id:key)` or Basic auth with the id and key.
func (h *handler) authenticate(r *http.Request) (string, bool) {
	var id, key string
	auth := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(auth, " ")
	switch {
	case strings.EqualFold(scheme, "ApiKey"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return "", false
		}
		var ok bool
		if id, key, ok = strings.Cut(string(raw), ":"); !ok {
			return "", false
		}
	case strings.EqualFold(scheme, "Basic"):
		var ok bool
		if id, key, ok = r.BasicAuth(); !ok {
			return "", false
		}
	default:
		return "", false
	}
	k, ok := h.keys[id]
	if !ok {
		return "", false
	}
	want, err := hex.DecodeString(k.KeySHA256)
	if err != nil {
		return "", false
	}
	got := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return "", false
	}
	return k.Tenant, true
}
