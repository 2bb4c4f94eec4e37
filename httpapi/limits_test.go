package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/httpapi"
)

// smallLimits make every limit cheap to reach.
var smallLimits = httpapi.Limits{
	MaxBodyBytes:   1024,
	MaxValueBytes:  128,
	MaxSchemaBytes: 256,
	MaxBatchOps:    3,
	MaxJSONDepth:   5,
	MaxListLimit:   3,
	MaxReasonBytes: 16,
}

// TestLimits_Small runs each limit at its boundary on a node with small
// limits: exactly at the limit is accepted, one over is rejected with the
// limit's code and changes nothing.
func TestLimits_Small(t *testing.T) {
	t.Parallel()
	base := mustStartNodeWith(t, smallLimits)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "str", `{"type":"string"}`)
	mustRegisterSchema(t, base, "app", "any", `{}`)
	url := base + "/v1/namespaces/app/configs/k"
	keys := []string{"app/k"}

	// reject sends a request that must fail and checks that it changed
	// nothing.
	reject := func(t *testing.T, method, u string, body any, headers map[string]string, status int, code string) {
		t.Helper()
		before := takeSnapshot(t, base, []string{"app"}, keys)
		st, _, resp := doJSON(t, method, u, body, headers)
		wantError(t, method+" "+u, st, resp, status, code)
		before.wantSame(t, takeSnapshot(t, base, []string{"app"}, keys), false)
	}
	accept := func(t *testing.T, method, u string, body any, headers map[string]string) map[string]any {
		t.Helper()
		st, _, resp := doJSON(t, method, u, body, headers)
		if st != http.StatusOK && st != http.StatusCreated {
			t.Fatalf("%s %s: status %d %s, want accepted", method, u, st, mustJSON(t, resp))
		}
		return resp
	}

	t.Run("body", func(t *testing.T) {
		at := padTo(`{"schema":"str","value":"body"}`, 1024)
		accept(t, http.MethodPut, url, at, nil)
		accept(t, http.MethodPut, url, strings.NewReader(at), nil) // chunked
		reject(t, http.MethodPut, url, at+" ", nil, http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge)
		reject(t, http.MethodPut, url, strings.NewReader(at+" "), nil, http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge)
		reject(t, http.MethodPost, base+"/v1/batch", padTo(`{"ops":[]}`, 1025), nil, http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge)
	})
	t.Run("value", func(t *testing.T) {
		at := `"` + strings.Repeat("v", 126) + `"`
		resp := accept(t, http.MethodPut, url, `{"schema":"str","value":`+at+`}`, nil)
		if e := decodeAs[api.ConfigEntry](t, resp); string(e.Value) != at {
			t.Fatalf("stored value %s, want %s", e.Value, at)
		}
		over := `"` + strings.Repeat("v", 127) + `"`
		reject(t, http.MethodPut, url, `{"schema":"str","value":`+over+`}`, nil, http.StatusRequestEntityTooLarge, api.CodeValueTooLarge)
		// In a batch the limit applies per value.
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/batch", `{"ops":[{"op":"put","namespace":"app","key":"k","schema":"str","value":`+over+`}]}`, nil)
		e := wantError(t, "batch with a value over the limit", st, body, http.StatusRequestEntityTooLarge, api.CodeBatchFailed)
		if len(e.Items) != 1 || e.Items[0].Code != api.CodeValueTooLarge {
			t.Fatalf("items = %+v, want one value_too_large", e.Items)
		}
	})
	t.Run("schema", func(t *testing.T) {
		at := padSchema(256)
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/big", `{"schema":`+at+`}`, nil)
		wantStatus(t, "schema at the limit", st, body, http.StatusCreated)
		reject(t, http.MethodPost, base+"/v1/namespaces/app/schemas/big", `{"schema":`+padSchema(257)+`}`, nil, http.StatusRequestEntityTooLarge, api.CodeSchemaTooLarge)
	})
	t.Run("batch operations", func(t *testing.T) {
		ops := func(n int) string {
			var parts []string
			for i := range n {
				parts = append(parts, fmt.Sprintf(`{"op":"put","namespace":"app","key":"b%d","schema":"any","value":%d}`, i, i))
			}
			return `{"ops":[` + strings.Join(parts, ",") + `]}`
		}
		resp := accept(t, http.MethodPost, base+"/v1/batch", ops(3), nil)
		if r := decodeAs[api.BatchResult](t, resp); len(r.Results) != 3 {
			t.Fatalf("batch of 3 = %+v", r)
		}
		reject(t, http.MethodPost, base+"/v1/batch", ops(4), nil, http.StatusRequestEntityTooLarge, api.CodeBatchTooLarge)
	})
	t.Run("depth", func(t *testing.T) {
		// The body is one level: a value nested 4 deep makes 5.
		accept(t, http.MethodPut, url, `{"schema":"any","value":`+nested(4)+`}`, nil)
		reject(t, http.MethodPut, url, `{"schema":"any","value":`+nested(5)+`}`, nil, http.StatusBadRequest, api.CodeJSONTooDeep)
		reject(t, http.MethodPut, url, `{"schema":"any","value":{"a":{"b":{"c":{"d":{}}}}}}`, nil, http.StatusBadRequest, api.CodeJSONTooDeep)
		// Brackets inside strings do not count.
		accept(t, http.MethodPut, url, `{"schema":"any","value":["[[[[[[{{{{{{\"]"]}`, nil)
	})
	t.Run("reason", func(t *testing.T) {
		at := strings.Repeat("r", 16)
		accept(t, http.MethodPut, url, `{"schema":"any","value":1,"reason":"`+at+`"}`, nil)
		accept(t, http.MethodPut, url, `{"schema":"any","value":2}`, map[string]string{httpapi.HeaderReason: at})
		reject(t, http.MethodPut, url, `{"schema":"any","value":3,"reason":"`+at+`r"}`, nil, http.StatusBadRequest, api.CodeBadRequest)
		reject(t, http.MethodPut, url, `{"schema":"any","value":3}`, map[string]string{httpapi.HeaderReason: at + "r"}, http.StatusBadRequest, api.CodeBadRequest)
		reject(t, http.MethodDelete, url, nil, map[string]string{httpapi.HeaderReason: at + "r"}, http.StatusBadRequest, api.CodeBadRequest)
	})
	t.Run("list limit", func(t *testing.T) {
		for i := range 7 {
			mustPutConfig(t, base, "app", fmt.Sprintf("list/%d", i), "any", `{}`, nil)
		}
		for _, c := range []struct {
			query string
			want  int
		}{{"&limit=2", 2}, {"&limit=3", 3}, {"&limit=4", 3}, {"&limit=1000000", 3}} {
			st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs?prefix=list/"+c.query, nil, nil)
			wantStatus(t, "list"+c.query, st, body, http.StatusOK)
			if l := decodeAs[api.ConfigList](t, body); len(l.Items) != c.want || l.Next == "" {
				t.Fatalf("list%s: %d items, next %q; want %d and a next", c.query, len(l.Items), l.Next, c.want)
			}
		}
		keys, _ := listAllKeys(t, base, "app", "list/", 1000)
		if len(keys) != 7 {
			t.Fatalf("paging with a capped limit listed %v, want 7 keys", keys)
		}
	})
}

// TestLimits_DefaultPageSizeRespectsMaxListLimit: a list without ?limit=
// uses the default page size (100), which must still be capped by
// Limits.MaxListLimit ("page size of lists; larger requests are capped").
func TestLimits_DefaultPageSizeRespectsMaxListLimit(t *testing.T) {
	t.Parallel()
	base := mustStartNodeWith(t, smallLimits)
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "any", `{}`)
	for i := range 5 {
		mustPutConfig(t, base, "app", "k", "any", fmt.Sprint(i), nil)
		mustPutConfig(t, base, "app", fmt.Sprintf("list/%d", i), "any", `{}`, nil)
	}
	st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs", nil, nil)
	wantStatus(t, "list without limit", st, body, http.StatusOK)
	if l := decodeAs[api.ConfigList](t, body); len(l.Items) > smallLimits.MaxListLimit {
		t.Errorf("list without limit: %d items, more than MaxListLimit %d", len(l.Items), smallLimits.MaxListLimit)
	}
	st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/history/k", nil, nil)
	wantStatus(t, "history without limit", st, body, http.StatusOK)
	if h := decodeAs[api.History](t, body); len(h.Items) > smallLimits.MaxListLimit {
		t.Errorf("history without limit: %d events, more than MaxListLimit %d", len(h.Items), smallLimits.MaxListLimit)
	}
}

// TestLimits_DefaultBoundaries checks the documented default limits at their
// boundaries: a 4 MiB body carrying a 512 KiB value is accepted, one byte
// more of either is not.
func TestLimits_DefaultBoundaries(t *testing.T) {
	t.Parallel()
	base := mustStartNode(t)
	l := httpapi.DefaultLimits()
	if l.MaxBodyBytes != 4<<20 || l.MaxValueBytes != 512<<10 || l.MaxSchemaBytes != 256<<10 ||
		l.MaxBatchOps != 1000 || l.MaxJSONDepth != 64 || l.MaxReasonBytes != 1024 {
		t.Fatalf("DefaultLimits() = %+v, not the documented defaults", l)
	}
	mustCreateNamespace(t, base, "app")
	mustRegisterSchema(t, base, "app", "str", `{"type":"string"}`)
	mustRegisterSchema(t, base, "app", "any", `{}`)
	mustRegisterSchema(t, base, "app", "svc", svcSchema)
	url := base + "/v1/namespaces/app/configs/big"
	keys := []string{"app/big"}

	valueAt := `"` + strings.Repeat("v", 512<<10-2) + `"`
	bodyAt := padTo(`{"schema":"str","value":`+valueAt+`}`, 4<<20)
	t.Run("body and value at the limit", func(t *testing.T) {
		st, _, body := doJSON(t, http.MethodPut, url, bodyAt, nil)
		wantStatus(t, "4 MiB body with a 512 KiB value", st, body, http.StatusCreated)
		if e := decodeAs[api.ConfigEntry](t, body); len(e.Value) != 512<<10 {
			t.Fatalf("stored value of %d bytes, want %d", len(e.Value), 512<<10)
		}
		st, _, body = doJSON(t, http.MethodGet, url, nil, nil)
		wantStatus(t, "get the 512 KiB value", st, body, http.StatusOK)
		if e := decodeAs[api.ConfigEntry](t, body); string(e.Value) != valueAt {
			t.Fatalf("read back %d bytes, want the %d written", len(e.Value), len(valueAt))
		}
		st, _, body = doJSON(t, http.MethodPut, url, strings.NewReader(bodyAt), nil)
		wantStatus(t, "4 MiB chunked body", st, body, http.StatusOK)
	})
	t.Run("body over the limit", func(t *testing.T) {
		before := takeSnapshot(t, base, []string{"app"}, keys)
		st, _, body := doJSON(t, http.MethodPut, url, bodyAt+" ", nil)
		wantError(t, "4 MiB + 1 body", st, body, http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge)
		st, _, body = doJSON(t, http.MethodPut, url, io.MultiReader(strings.NewReader(bodyAt), strings.NewReader(" ")), nil)
		wantError(t, "4 MiB + 1 chunked body", st, body, http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge)
		before.wantSame(t, takeSnapshot(t, base, []string{"app"}, keys), false)
	})
	t.Run("value over the limit", func(t *testing.T) {
		before := takeSnapshot(t, base, []string{"app"}, keys)
		over := `"` + strings.Repeat("w", 512<<10-1) + `"`
		st, _, body := doJSON(t, http.MethodPut, url, `{"schema":"str","value":`+over+`}`, nil)
		wantError(t, "512 KiB + 1 value", st, body, http.StatusRequestEntityTooLarge, api.CodeValueTooLarge)
		before.wantSame(t, takeSnapshot(t, base, []string{"app"}, keys), false)
	})
	t.Run("schema", func(t *testing.T) {
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/big", `{"schema":`+padSchema(256<<10)+`}`, nil)
		wantStatus(t, "256 KiB schema", st, body, http.StatusCreated)
		st, _, body = doJSON(t, http.MethodPost, base+"/v1/namespaces/app/schemas/big", `{"schema":`+padSchema(256<<10+1)+`}`, nil)
		wantError(t, "256 KiB + 1 schema", st, body, http.StatusRequestEntityTooLarge, api.CodeSchemaTooLarge)
	})
	t.Run("depth", func(t *testing.T) {
		st, _, body := doJSON(t, http.MethodPut, url, `{"schema":"any","value":`+nested(63)+`}`, nil)
		wantStatus(t, "body 64 deep", st, body, http.StatusOK)
		st, _, body = doJSON(t, http.MethodPut, url, `{"schema":"any","value":`+nested(64)+`}`, nil)
		wantError(t, "body 65 deep", st, body, http.StatusBadRequest, api.CodeJSONTooDeep)
	})
	t.Run("key", func(t *testing.T) {
		k := strings.Repeat("k", 510) + "/x" // 512 bytes
		mustPutConfig(t, base, "app", k, "any", `{}`, nil)
		st, _, body := doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs/"+k, nil, nil)
		wantStatus(t, "get a 512-byte key", st, body, http.StatusOK)
		st, _, body = doJSON(t, http.MethodGet, base+"/v1/namespaces/app/configs/"+k+"x", nil, nil)
		wantError(t, "get a 513-byte key", st, body, http.StatusBadRequest, api.CodeKeyTooLong)
	})
	t.Run("names", func(t *testing.T) {
		mustCreateNamespace(t, base, strings.Repeat("n", 63))
		st, _, body := doJSON(t, http.MethodPut, base+"/v1/namespaces/"+strings.Repeat("n", 64), nil, nil)
		wantError(t, "64-character namespace", st, body, http.StatusBadRequest, api.CodeInvalidName)
	})
	t.Run("reason", func(t *testing.T) {
		st, _, body := doJSON(t, http.MethodPut, url, `{"schema":"any","value":1,"reason":"`+strings.Repeat("r", 1024)+`"}`, nil)
		wantStatus(t, "1024-byte reason", st, body, http.StatusOK)
		st, _, body = doJSON(t, http.MethodPut, url, `{"schema":"any","value":1,"reason":"`+strings.Repeat("r", 1025)+`"}`, nil)
		wantError(t, "1025-byte reason", st, body, http.StatusBadRequest, api.CodeBadRequest)
	})
	t.Run("batch of 1000 operations", func(t *testing.T) {
		st, _, body := doJSON(t, http.MethodPost, base+"/v1/batch", batchOfPuts("app", 1000), nil)
		wantStatus(t, "batch of 1000", st, body, http.StatusOK)
		r := decodeAs[api.BatchResult](t, body)
		if len(r.Results) != 1000 {
			t.Fatalf("batch of 1000: %d results", len(r.Results))
		}
		for i, res := range r.Results {
			if res.ModifyRevision != r.Revision || res.Key != fmt.Sprintf("batch/k%04d", i) {
				t.Fatalf("result %d = %+v, want batch/k%04d at %d", i, res, i, r.Revision)
			}
		}
		keys, _ := listAllKeys(t, base, "app", "batch/", 1000)
		if len(keys) != 1000 {
			t.Fatalf("listed %d batch keys, want 1000", len(keys))
		}
		st, _, body = doJSON(t, http.MethodPost, base+"/v1/batch", batchOfPuts("app", 1001), nil)
		wantError(t, "batch of 1001", st, body, http.StatusRequestEntityTooLarge, api.CodeBatchTooLarge)
	})
}

// padTo pads a JSON text with trailing spaces to exactly n bytes.
func padTo(s string, n int) string {
	if len(s) > n {
		panic(fmt.Sprintf("padTo: %d bytes already over %d", len(s), n))
	}
	return s + strings.Repeat(" ", n-len(s))
}

// padSchema returns a string schema of exactly n bytes.
func padSchema(n int) string {
	head, tail := `{"type":"string","description":"`, `"}`
	return head + strings.Repeat("d", n-len(head)-len(tail)) + tail
}
