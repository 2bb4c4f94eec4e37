package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
)

// TestResponses_JSONNotHTMLEscapedWithNewline checks the bytes of bodies,
// not just their JSON value: "<", ">" and "&" come back as sent (a stored
// value byte for byte, an escape the caller wrote stays as written), and
// every body, success or error, is application/json ending in a newline.
func TestResponses_JSONNotHTMLEscapedWithNewline(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "any", `{}`)
	ns := base + "/v1/namespaces/app"

	// Compact, so the stored text is exactly what was sent.
	v1 := `{"html":"<a&b>","escaped":"\u003c\u0026","arr":["x>y"]}`
	v2 := `{"html":"<c&d>","more":"&"}`
	check := func(what string, st int, body []byte, wantSt int, want ...string) {
		t.Helper()
		if st != wantSt {
			t.Fatalf("%s: status %d, want %d; body %s", what, st, wantSt, body)
		}
		if !bytes.HasSuffix(body, []byte("\n")) || bytes.HasSuffix(body, []byte("\n\n")) {
			t.Errorf("%s: body %q does not end in one newline", what, body)
		}
		for _, w := range want {
			if !bytes.Contains(body, []byte(w)) {
				t.Errorf("%s: body %s lacks %s", what, body, w)
			}
		}
		if bytes.Contains(body, []byte(`\u003ca`)) || bytes.Contains(body, []byte(`\u0026b`)) {
			t.Errorf("%s: body %s is HTML-escaped", what, body)
		}
	}
	// History events are stored by package store as JSON it encodes itself,
	// so their bytes (and a rollback's value, taken from history) are store's
	// business: here they only need to hold the same JSON value.
	checkHistory := func(what string, st int, body []byte, wantSt int, values ...string) {
		t.Helper()
		if st != wantSt {
			t.Fatalf("%s: status %d, want %d; body %s", what, st, wantSt, body)
		}
		if !bytes.HasSuffix(body, []byte("\n")) || bytes.HasSuffix(body, []byte("\n\n")) {
			t.Errorf("%s: body %q does not end in one newline", what, body)
		}
		raw := map[string]json.RawMessage{}
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var vals []json.RawMessage
		if items, ok := raw["items"]; ok {
			var evs []struct{ Value json.RawMessage }
			_ = json.Unmarshal(items, &evs)
			for _, e := range evs {
				vals = append(vals, e.Value)
			}
		} else {
			vals = append(vals, raw["value"])
		}
		if len(vals) != len(values) {
			t.Fatalf("%s: %d values, want %d", what, len(vals), len(values))
		}
		for i, v := range values {
			if !sameJSON(t, vals[i], v) {
				t.Errorf("%s: value %s, want %s", what, vals[i], v)
			}
		}
	}

	st, _, body := doRaw(t, http.MethodPut, ns+"/configs/k", `{"schema":"any","value":`+v1+`}`, nil)
	check("put", st, body, http.StatusCreated, `"value":`+v1)
	first := decodeAs[api.ConfigEntry](t, decodeRaw(t, body))
	st, _, body = doRaw(t, http.MethodGet, ns+"/configs/k", "", nil)
	check("get", st, body, http.StatusOK, `"value":`+v1)
	st, _, body = doRaw(t, http.MethodPut, ns+"/configs/k", `{"value":`+v2+`}`, nil)
	check("put again", st, body, http.StatusOK, `"value":`+v2)
	st, _, body = doRaw(t, http.MethodGet, ns+"/configs?prefix=k", "", nil)
	check("list", st, body, http.StatusOK, `"value":`+v2)
	st, _, body = doRaw(t, http.MethodGet, ns+"/history/k", "", nil)
	checkHistory("history", st, body, http.StatusOK, v2, v1)
	// The patch is built here, so its values are not escaped.
	st, _, body = doRaw(t, http.MethodGet, ns+"/diff/k?from="+strconv.FormatUint(first.ModifyRevision, 10), "", nil)
	if d := decodeAs[api.Diff](t, decodeRaw(t, body)); st != http.StatusOK || !sameJSON(t, d.From.Value, v1) || !sameJSON(t, d.To.Value, v2) {
		t.Fatalf("diff: status %d, body %s", st, body)
	}
	if !bytes.Contains(body, []byte(`"patch":[{"op":"remove","path":"/arr"},{"op":"remove","path":"/escaped"},{"op":"replace","path":"/html","value":"<c&d>"},{"op":"add","path":"/more","value":"&"}]`)) {
		t.Errorf("diff: body %s lacks the unescaped patch", body)
	}
	if !bytes.HasSuffix(body, []byte("}\n")) {
		t.Errorf("diff: body %q does not end in a newline", body)
	}
	st, _, body = doRaw(t, http.MethodPost, ns+"/rollback/k", fmt.Sprintf(`{"revision":%d}`, first.ModifyRevision), nil)
	checkHistory("rollback", st, body, http.StatusOK, v1)
	st, _, body = doRaw(t, http.MethodPost, base+"/v1/batch",
		`{"ops":[{"op":"put","namespace":"app","key":"b","schema":"any","value":`+v2+`}]}`, nil)
	check("batch", st, body, http.StatusOK)
	st, _, body = doRaw(t, http.MethodGet, ns+"/configs/b", "", nil)
	check("get batch write", st, body, http.StatusOK, `"value":`+v2)
	st, _, body = doRaw(t, http.MethodPost, ns+"/schemas/s", `{"schema":{"description":"a<b & c>d"}}`, nil)
	check("register schema", st, body, http.StatusCreated, `"a<b & c>d"`)
	st, _, body = doRaw(t, http.MethodGet, ns+"/schemas/s", "", nil)
	check("get schema", st, body, http.StatusOK, `"a<b & c>d"`)
	for _, p := range []string{"/v1/health", "/v1/ready", "/v1/namespaces", "/v1/namespaces/app", "/v1/namespaces/app/schemas"} {
		st, _, body = doRaw(t, http.MethodGet, base+p, "", nil)
		check("GET "+p, st, body, http.StatusOK)
	}

	// Error bodies.
	st, _, body = doRaw(t, http.MethodGet, base+"/v1/<&>", "", nil)
	check("no route", st, body, http.StatusNotFound, `"code":"route_not_found"`, "/v1/<&>")
	st, _, body = doRaw(t, http.MethodPatch, ns+"/configs/k", "{}", nil)
	check("no method", st, body, http.StatusMethodNotAllowed, `"code":"method_not_allowed"`)
	st, _, body = doRaw(t, http.MethodGet, ns+"/configs/missing", "", nil)
	check("missing config", st, body, http.StatusNotFound, `"code":"config_not_found"`)
	st, _, body = doRaw(t, http.MethodPut, ns+"/configs/k", `{"value":`+v1+`}`, map[string]string{"If-None-Match": "*"})
	check("revision mismatch", st, body, http.StatusPreconditionFailed, `"code":"revision_mismatch"`)
	st, _, body = doRaw(t, http.MethodPost, base+"/v1/batch",
		`{"ops":[{"op":"check","namespace":"app","key":"k","revision":0},{"op":"upsert","namespace":"app","key":"<&>"}]}`, nil)
	check("batch failed", st, body, http.StatusBadRequest, `"code":"batch_failed"`, `"invalid key: \"<&>\"`)
}

// TestResponses_HeadLikeGet checks that the GET routes answer HEAD with the
// status and headers of GET and no body.
func TestResponses_HeadLikeGet(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "any", `{}`)
	e := mustPutConfig(t, base, "app", "k", "any", `{"a":1}`, nil)
	cfg := base + "/v1/namespaces/app/configs/k"

	for _, c := range []struct {
		name, url string
		status    int
	}{
		{"health", base + "/v1/health", http.StatusOK},
		{"ready", base + "/v1/ready", http.StatusOK},
		{"config", cfg, http.StatusOK},
		{"missing config", base + "/v1/namespaces/app/configs/missing", http.StatusNotFound},
		{"namespaces", base + "/v1/namespaces", http.StatusOK},
		{"history", base + "/v1/namespaces/app/history/k", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, h, body := doRaw(t, http.MethodHead, c.url, "", nil)
			if st != c.status || len(body) != 0 {
				t.Fatalf("HEAD: status %d, %d body bytes; want %d and none", st, len(body), c.status)
			}
			if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Fatalf("HEAD: content type %q", ct)
			}
		})
	}

	// A config's HEAD carries what its GET does: ETag, index, length.
	_, gh, gbody := doRaw(t, http.MethodGet, cfg+"?consistency=stale", "", nil)
	_, hh, _ := doRaw(t, http.MethodHead, cfg+"?consistency=stale", "", nil)
	wantETag(t, "HEAD config", hh, e.ModifyRevision)
	if hh.Get("Content-Length") != strconv.Itoa(len(gbody)) || hh.Get(httpapi.HeaderIndex) != gh.Get(httpapi.HeaderIndex) {
		t.Fatalf("HEAD config: Content-Length %q, index %q; GET has %d bytes at index %q",
			hh.Get("Content-Length"), hh.Get(httpapi.HeaderIndex), len(gbody), gh.Get(httpapi.HeaderIndex))
	}
}

// doRaw sends a request with an optional body (Content-Type
// application/json) and returns the status, headers and body bytes. A body
// that is not empty must be application/json; charset=utf-8.
func doRaw(t *testing.T, method, url, body string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	if ct := resp.Header.Get("Content-Type"); len(raw) > 0 && ct != "application/json; charset=utf-8" {
		t.Fatalf("%s %s: status %d, content type %q, want application/json; charset=utf-8", method, url, resp.StatusCode, ct)
	}
	return resp.StatusCode, resp.Header, raw
}

// decodeRaw decodes a raw JSON object body as doJSON does.
func decodeRaw(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return out
}
