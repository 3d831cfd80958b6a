package notify

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func testNotice() Notice {
	return Notice{
		Tenant: "so-a", IncidentID: "INC-0123456789abcdef", IncidentTitle: "Brute force on VPN (source.ip=203.0.113.7)",
		Kind: KindOverdue, DeadlineID: "vn-serious-initial", DeadlineName: "Initial notification of a serious incident",
		DeadlineNameVI: "Thông báo ban đầu sự cố nghiêm trọng", Due: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Basis: "Nghị định 85/2016/NĐ-CP", URL: "https://soc.example.gov.vn/incidents/INC-0123456789abcdef",
		Time: time.Date(2026, 11, 25, 12, 15, 0, 0, time.UTC),
	}
}

func TestWebhookSignedDelivery(t *testing.T) {
	secret := []byte("s3cret")
	var got Notice
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if sig := r.Header.Get(SignatureHeader); !hmac.Equal([]byte(sig), []byte(Sign(secret, body))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get(KindHeader) != KindOverdue {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil || raw["incident_id"] != "INC-0123456789abcdef" || raw["deadline_name_vi"] == nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		json.Unmarshal(body, &got)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	n := testNotice()
	if err := NewWebhook(srv.URL, WebhookOptions{Secret: secret}).Notify(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("received %+v\nwant %+v", got, n)
	}
	// The wrong secret is refused by the receiver, permanently.
	err := NewWebhook(srv.URL, WebhookOptions{Secret: []byte("guess")}).Notify(t.Context(), n)
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name      string
		answers   []int // status per attempt; the last repeats
		attempts  int
		wantCalls int32
		wantErr   string
		permanent bool
	}{
		{"503 then success", []int{503, 503, 200}, 4, 3, "", false},
		{"429 then success", []int{429, 202}, 4, 2, "", false},
		{"400 is permanent", []int{400}, 4, 1, "400 Bad Request", true},
		{"404 is permanent", []int{404}, 4, 1, "404", true},
		{"redirects are not followed", []int{302}, 4, 1, "302", true},
		{"gives up after the attempts", []int{500}, 3, 3, "attempt 3 of 3: receiver answered 500", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(calls.Add(1)) - 1
				code := tt.answers[min(i, len(tt.answers)-1)]
				if code == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(code)
			}))
			defer srv.Close()
			err := NewWebhook(srv.URL, WebhookOptions{Attempts: tt.attempts, Backoff: time.Millisecond}).Notify(t.Context(), testNotice())
			if calls.Load() != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls.Load(), tt.wantCalls)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			case err != nil && errors.Is(err, ErrPermanent) != tt.permanent:
				t.Fatalf("permanent = %v for %v", !tt.permanent, err)
			}
		})
	}
}

func TestWebhookTimeout(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	err := NewWebhook(srv.URL, WebhookOptions{Timeout: 50 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond}).Notify(t.Context(), testNotice())
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") || errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2 (a timeout is retried)", calls.Load())
	}
}

func TestWebhookStopsWhenCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := NewWebhook(srv.URL, WebhookOptions{Attempts: 10, Backoff: time.Hour}).Notify(ctx, testNotice())
	// A backoff of an hour would hang the test if ctx were not honored.
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestWebhookNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	err := NewWebhook(url, WebhookOptions{Attempts: 2, Backoff: time.Millisecond}).Notify(t.Context(), testNotice())
	if err == nil || errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "attempt 2 of 2") {
		t.Fatalf("err = %v", err)
	}
}
