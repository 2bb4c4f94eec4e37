package ui_test

import (
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/schemakv/schemakv/ui"
)

// TestUI_Served checks that the node serves the embedded files under /ui/
// with their types and the content security policy, and sends / there.
func TestUI_Served(t *testing.T) {
	srv := startServer(t)
	for _, tc := range []struct {
		path, location string
		status         int
	}{
		{"/", "/ui/", http.StatusFound},
		{"/ui", "/ui/", http.StatusFound},
	} {
		res, _ := httpGet(t, srv, tc.path)
		if res.StatusCode != tc.status || res.Header.Get("Location") != tc.location {
			t.Errorf("GET %s = %d Location %q, want %d %q", tc.path, res.StatusCode, res.Header.Get("Location"), tc.status, tc.location)
		}
	}
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/ui/", "text/html", `<script type="module" src="app.js">`},
		{"/ui/app.js", "javascript", "function route()"},
		{"/ui/app.css", "text/css", ":root"},
		{"/ui/form.js", "javascript", "export class SchemaForm"},
	} {
		res, body := httpGet(t, srv, tc.path)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", tc.path, res.StatusCode)
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", tc.path)
		}
	}
	res, body := httpGet(t, srv, "/ui/missing.js")
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /ui/missing.js = %d %s, want 404", res.StatusCode, body)
	}
}

// TestUI_NoExternalRequests checks that no embedded file names a URL outside
// the server that serves it: no CDN scripts, styles or fonts.
func TestUI_NoExternalRequests(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(\s*['"]?(https?:|//)`)
	n := 0
	err := fs.WalkDir(ui.Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(ui.Files(), path)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers outside the server: %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d embedded files", n)
	}
}
