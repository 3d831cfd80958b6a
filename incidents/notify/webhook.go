package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Webhook headers.
const (
	// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" when
	// the webhook has a secret.
	SignatureHeader = "X-Mangrove-Signature"
	// KindHeader carries the notice kind.
	KindHeader = "X-Mangrove-Event"
)

// Webhook POSTs each notice as JSON to a URL. Attempts that fail with a
// network error, a timeout, 429 or 5xx are retried with exponential backoff
// (honoring Retry-After up to the backoff cap); other 4xx answers are
// permanent (ErrPermanent). Safe for concurrent use.
type Webhook struct {
	url        string
	secret     []byte
	client     *http.Client
	timeout    time.Duration
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
}

// WebhookOptions tune a Webhook; zero fields take the defaults.
type WebhookOptions struct {
	// Secret, if not empty, signs every body (SignatureHeader).
	Secret []byte
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// Attempts is the total number of tries (default 4).
	Attempts int
	// Backoff is the wait before the first retry, doubled after each
	// (default 1s), up to MaxBackoff (default 30s).
	Backoff, MaxBackoff time.Duration
	// Client sends the requests (default: a client without redirects).
	Client *http.Client
}

// Webhook defaults.
const (
	DefaultWebhookTimeout  = 10 * time.Second
	DefaultWebhookAttempts = 4
	DefaultBackoff         = time.Second
	DefaultMaxBackoff      = 30 * time.Second
)

// NewWebhook returns a Webhook posting to url (absolute http or https).
func NewWebhook(url string, o WebhookOptions) *Webhook {
	w := &Webhook{url: url, secret: bytes.Clone(o.Secret), client: o.Client, timeout: o.Timeout, attempts: o.Attempts,
		backoff: o.Backoff, maxBackoff: o.MaxBackoff}
	if w.client == nil {
		w.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if w.timeout <= 0 {
		w.timeout = DefaultWebhookTimeout
	}
	if w.attempts <= 0 {
		w.attempts = DefaultWebhookAttempts
	}
	if w.backoff <= 0 {
		w.backoff = DefaultBackoff
	}
	if w.maxBackoff <= 0 {
		w.maxBackoff = DefaultMaxBackoff
	}
	w.maxBackoff = max(w.maxBackoff, w.backoff)
	return w
}

// Sign returns the SignatureHeader value for body with secret; receivers
// compare it with hmac.Equal.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notify implements Notifier.
func (w *Webhook) Notify(ctx context.Context, n Notice) error {
	body, err := json.Marshal(&n)
	if err != nil {
		return fmt.Errorf("encoding notice: %w", err)
	}
	wait := w.backoff
	var last error
	for attempt := 1; ; attempt++ {
		retryAfter, err := w.post(ctx, body, n.Kind)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("attempt %d of %d: %w", attempt, w.attempts, err)
		if errors.Is(err, ErrPermanent) || attempt >= w.attempts || ctx.Err() != nil {
			return last
		}
		d := wait
		if retryAfter > 0 {
			d = min(retryAfter, w.maxBackoff)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %w)", last, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, w.maxBackoff)
	}
}

// post makes one attempt; it returns the server's Retry-After, if any.
func (w *Webhook) post(ctx context.Context, body []byte, kind string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: building request: %w", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mangrove-notify")
	req.Header.Set(KindHeader, kind)
	if len(w.secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(w.secret, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL is ours (config), but the error may quote it; never the
		// body or the secret.
		return 0, fmt.Errorf("posting notice: %w", err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return 0, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return 0, fmt.Errorf("%w: receiver answered %s", ErrPermanent, resp.Status)
	}
}

// retryAfter reads a Retry-After in seconds (the HTTP-date form is ignored).
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(v)
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}
