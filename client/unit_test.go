package client_test

// These tests cover what a real server cannot produce (a proxy's non-JSON
// error page, a hung connection) and checks made before any request is sent.
// Everything else is tested against a real node in client_test.go.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

// unreachable is an address nothing listens on: a test that reaches the
// network fails with a transport error instead of the expected code.
const unreachable = "http://127.0.0.1:1"

func TestNew_Address(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "", want: "http://127.0.0.1:7400"},
		{in: "127.0.0.1:9000", want: "http://127.0.0.1:9000"},
		{in: "http://example.com/", want: "http://example.com"},
		{in: "https://example.com/prefix/", want: "https://example.com/prefix"},
		{in: "ftp://example.com", wantErr: true},
		{in: "http://", wantErr: true},
		{in: "http://example.com/?x=1", wantErr: true},
	}
	for _, tt := range tests {
		c, err := client.New(client.Config{Address: tt.in})
		if tt.wantErr {
			if err == nil {
				t.Errorf("New(%q): got address %q, want an error", tt.in, c.Address())
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tt.in, err)
			continue
		}
		if got := c.Address(); got != tt.want {
			t.Errorf("New(%q).Address() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDefaultConfig_Env(t *testing.T) {
	t.Setenv(client.EnvAddr, "http://10.0.0.1:7400")
	t.Setenv(client.EnvToken, "s3cret")
	t.Setenv(client.EnvPrincipal, "alice")
	cfg := client.DefaultConfig()
	if cfg.Address != "http://10.0.0.1:7400" || cfg.Token != "s3cret" || cfg.Principal != "alice" || cfg.Timeout != client.DefaultTimeout {
		t.Fatalf("DefaultConfig() = %+v", cfg)
	}

	t.Setenv(client.EnvAddr, "")
	if got := client.DefaultConfig().Address; got != client.DefaultAddress {
		t.Fatalf("DefaultConfig().Address without env = %q, want %q", got, client.DefaultAddress)
	}
}

func TestClient_NonJSONErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
	}))
	defer srv.Close()
	c := mustNewClient(t, client.Config{Address: srv.URL})

	_, _, err := c.Configs().Get(context.Background(), "payments", "checkout/flags", nil)
	var apiErr *api.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("Get: got %v (%T), want *api.Error", err, err)
	}
	if apiErr.Code != api.CodeInternal || !strings.Contains(apiErr.Message, "502") || !strings.Contains(apiErr.Message, "Bad Gateway") {
		t.Fatalf("Get: got %+v, want code %q with the status in the message", apiErr, api.CodeInternal)
	}
}

func TestClient_EmptyErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := mustNewClient(t, client.Config{Address: srv.URL})

	_, _, err := c.Health(context.Background(), nil)
	if !client.IsCode(err, api.CodeInternal) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Health: got %v, want %q mentioning 503", err, api.CodeInternal)
	}
}

func TestClient_JSONErrorOfOtherShape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`{"message":"upstream unavailable"}`))
	}))
	defer srv.Close()
	c := mustNewClient(t, client.Config{Address: srv.URL})

	_, _, err := c.Namespaces().List(context.Background(), nil)
	if !client.IsCode(err, api.CodeInternal) || !strings.Contains(err.Error(), "502") {
		t.Fatalf("List: got %v, want %q mentioning 502", err, api.CodeInternal)
	}
}

func TestClient_Timeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := mustNewClient(t, client.Config{Address: srv.URL, Timeout: 100 * time.Millisecond})

	start := time.Now()
	_, _, err := c.Health(context.Background(), nil)
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("Health: got %v, want a timeout error", err)
	}
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		t.Fatalf("Health: a transport timeout must not look like a server answer, got %+v", apiErr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Health took %v with a 100ms timeout", d)
	}
}

func TestClient_ContextCanceled(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := mustNewClient(t, client.Config{Address: srv.URL})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := c.Health(ctx, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Health: got %v, want context.DeadlineExceeded", err)
	}
}

func TestClient_InvalidKeyRefused(t *testing.T) {
	c := mustNewClient(t, client.Config{Address: unreachable})
	ctx := context.Background()
	for _, key := range []string{"", "/a", "a/", "a//b", "a/../b", "./a", ".."} {
		if _, _, err := c.Configs().Delete(ctx, "payments", key, nil); !client.IsCode(err, api.CodeInvalidKey) {
			t.Errorf("Delete(%q): got %v, want %q", key, err, api.CodeInvalidKey)
		}
	}
	for _, ns := range []string{"", "..", "a/configs/b"} {
		if _, _, err := c.Namespaces().Delete(ctx, ns, true, nil); !client.IsCode(err, api.CodeInvalidName) {
			t.Errorf("Namespaces().Delete(%q): got %v, want %q", ns, err, api.CodeInvalidName)
		}
	}
	if _, _, err := c.Schemas().Latest(ctx, "payments", "a/b", nil); !client.IsCode(err, api.CodeInvalidName) {
		t.Errorf("Schemas().Latest(a/b): got %v, want %q", err, api.CodeInvalidName)
	}
}

func TestClient_IfMatchUnsupported(t *testing.T) {
	c := mustNewClient(t, client.Config{Address: unreachable})
	opts := &client.WriteOptions{IfMatch: client.Revision(3)}
	_, _, err := c.Namespaces().Create(context.Background(), "payments", api.CreateNamespaceRequest{}, opts)
	if err == nil || !strings.Contains(err.Error(), "IfMatch") {
		t.Fatalf("Create with IfMatch: got %v, want an IfMatch error before sending", err)
	}
}

func TestIsCode_Wrapped(t *testing.T) {
	err := fmt.Errorf("loading flags: %w", &api.Error{Code: api.CodeConfigNotFound, Message: "no such key"})
	if !client.IsCode(err, api.CodeConfigNotFound) {
		t.Fatalf("IsCode(%v, %q) = false", err, api.CodeConfigNotFound)
	}
	if client.IsCode(err, api.CodeNamespaceNotFound) || client.IsCode(errors.New("x"), api.CodeInternal) || client.IsCode(nil, "") {
		t.Fatal("IsCode matched a different code or a non-API error")
	}
}

func mustNewClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

// TestClient_TokenHeader checks the bearer token on the wire: a server
// without authentication (as in the real-node tests) ignores it.
func TestClient_TokenHeader(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	c := mustNewClient(t, client.Config{Address: srv.URL, Token: "s3cret"})

	if _, _, err := c.Health(context.Background(), nil); err != nil {
		t.Fatalf("Health: %v", err)
	}
	if h := <-got; h != "Bearer s3cret" {
		t.Fatalf("Authorization = %q, want %q", h, "Bearer s3cret")
	}
}

func TestClient_ReasonWithNewline(t *testing.T) {
	c := mustNewClient(t, client.Config{Address: unreachable})
	_, _, err := c.Configs().Delete(context.Background(), "payments", "k", &client.WriteOptions{Reason: "line one\nline two"})
	if err == nil || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("Delete with a multi-line reason: got %v, want a reason error before sending", err)
	}
}
