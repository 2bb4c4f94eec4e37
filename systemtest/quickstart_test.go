package systemtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// TestReadme_Quickstart runs the README's quickstart block verbatim against
// a server started the way `make run` starts it, and checks each step's
// output and the final state.
func TestReadme_Quickstart(t *testing.T) {
	bin := needBinary(t)
	script := readmeQuickstart(t, filepath.Join(moduleRoot, "README.md"))
	requireCurl(t, 7, 82) // --json
	for _, addr := range []string{"127.0.0.1:7400", "127.0.0.1:7401", "127.0.0.1:7402"} {
		if !portFree(addr) {
			t.Skipf("%s is in use: the quickstart needs the default ports (stop the local schemakv, e.g. `make run`)", addr)
		}
	}

	// The working directory of `make run`: bin/schemakv, and data/ created
	// by the server, which runs with no flags at all.
	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(work, "bin", "schemakv")); err != nil {
		t.Fatal(err)
	}
	// Like a user's first start: no token given, so the server generates
	// the bootstrap admin token into data/bootstrap-token.
	srv := startProcessEnv(t, work, filepath.Join(work, "data"), plainEnv(), "server")
	if srv.URL() != "http://127.0.0.1:7400" {
		t.Fatalf("default server listens on %s, want http://127.0.0.1:7400", srv.URL())
	}

	path := filepath.Join(work, "quickstart.sh")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", path)
	cmd.Dir = work
	// Loopback must not go through a proxy from the environment.
	cmd.Env = append(plainEnv(), "NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	t.Logf("quickstart output:\n%s", out.String())
	if err != nil {
		t.Fatalf("bash -euo pipefail <README quickstart>: %v (the output above ends at the failing command)", err)
	}

	output := out.String()
	const tk = `tk[0-9a-f]{16}`
	for _, c := range []struct{ step, pattern string }{
		{"namespace", `\{"name":"payments","description":"Payments team","create_revision":5,"modify_revision":5,"created_by":"token:bootstrap-admin:` + tk + `"`},
		{"schema version 1", `\{"namespace":"payments","name":"checkout","version":1,.*?"create_revision":6,`},
		{"entry by alice", `"key":"checkout/eu","value":\{"timeout_ms":2500,"retries":3,"currency":"EUR"\},"schema":"checkout","schema_version":1,"create_revision":9,"modify_revision":9,"version":1,"modified_by":"token:alice:` + tk + `",.*?"reason":"CR-1042"`},
		{"422 validation_failed", `\{"error":\{"code":"validation_failed",`},
		{"pointer /timeout_ms", `"pointer":"/timeout_ms"`},
		{"pointer /currency", `"pointer":"/currency"`},
		{"pointer /retry", `"pointer":"/retry"`},
		{"401 without a token", `\{"error":\{"code":"unauthenticated","message":"no credentials`},
		{"403 for bob", `\{"error":\{"code":"forbidden","message":"token:bob:` + tk + ` may not manage: no binding grants manage in namespace \\"billing\\""`},
		{"CAS write at revision 10", `"value":\{"timeout_ms":3000,"retries":3,"currency":"EUR"\},.*?"modify_revision":10,"version":2,"modified_by":"token:bob:` + tk + `"`},
		{"history: bob", `(?m)^10\s+put\s+2\s+checkout@1\s+token:bob:` + tk + `\s+.*CR-1043$`},
		{"history: alice", `(?m)^9\s+put\s+1\s+checkout@1\s+token:alice:` + tk + `\s+.*CR-1042$`},
		{"diff", `(?m)^replace\s+/timeout_ms\s+3000$`},
		{"rollback", `rolled back payments/checkout/eu to revision 9: now revision 11 \(version 3, schema checkout@1\)`},
		{"get after rollback", `(?s)Revision:\s+11 \(created 9\)\s+Version:\s+3\b.*"timeout_ms": 2500`},
		{"batch", `committed 2 operations at revision 12`},
		{"list: checkout/eu", `(?m)^checkout/eu\s+checkout@1\s+11\s+3\s`},
		{"list: checkout/uk", `(?m)^checkout/uk\s+checkout@1\s+12\s+1\s`},
		{"list: checkout/us", `(?m)^checkout/us\s+checkout@1\s+12\s+1\s`},
	} {
		if !regexp.MustCompile(c.pattern).MatchString(output) {
			t.Errorf("quickstart output lacks the %s step (no match for %s)", c.step, c.pattern)
		}
	}

	// The token file the quickstart read: the generated bootstrap admin
	// token, readable by its owner only.
	tokPath := filepath.Join(work, "data", "bootstrap-token")
	fi, err := os.Stat(tokPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want a 0600 file", tokPath, err, fi)
	}
	raw, err := os.ReadFile(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	admin := http.Header{"Authorization": {"Bearer " + strings.TrimSpace(string(raw))}}

	// The state the quickstart leaves behind, read over HTTP.
	var e api.ConfigEntry
	mustDoHeader(t, http.MethodGet, srv.URL()+"/v1/namespaces/payments/configs/checkout/eu", admin, &e)
	if !jsonEqual(e.Value, []byte(`{"timeout_ms": 2500, "retries": 3, "currency": "EUR"}`)) || e.Version != 3 || e.ModifyRevision != 11 {
		t.Errorf("checkout/eu after the quickstart = %s, version %d, revision %d; want the rolled-back value (timeout_ms 2500) at version 3, revision 11",
			e.Value, e.Version, e.ModifyRevision)
	}
	var list api.ConfigList
	mustDoHeader(t, http.MethodGet, srv.URL()+"/v1/namespaces/payments/configs?prefix=checkout/", admin, &list)
	var keys []string
	for _, it := range list.Items {
		keys = append(keys, it.Key)
	}
	if got := strings.Join(keys, " "); got != "checkout/eu checkout/uk checkout/us" {
		t.Errorf("payments configs = %q, want checkout/eu checkout/uk checkout/us", got)
	}
	// The README calls the invalid write's answer HTTP 422; curl -s does not
	// print the status, so send the same request once more.
	ctx2, cancel2 := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel2()
	status, _, body, err := doHTTP(ctx2, http.MethodPut, srv.URL()+"/v1/namespaces/payments/configs/checkout/eu",
		`{"value": {"timeout_ms": 0, "currency": "JPY", "retry": 3}}`, admin)
	if err != nil || status != http.StatusUnprocessableEntity {
		t.Errorf("invalid write: status %d, err %v, body %s; want 422", status, err, body)
	}
}

// readmeQuickstart returns the fenced sh block between the quickstart
// markers of the README at path.
func readmeQuickstart(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- quickstart:begin -->", "<!-- quickstart:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no %s ... %s section", path, begin, end)
	}
	section := strings.TrimSpace(s[i+len(begin) : j])
	const fence = "```"
	if !strings.HasPrefix(section, fence+"sh\n") || !strings.HasSuffix(section, "\n"+fence) || strings.Count(section, fence) != 2 {
		t.Fatalf("%s: the quickstart section must be exactly one ```sh block:\n%s", path, section)
	}
	return strings.TrimSuffix(strings.TrimPrefix(section, fence+"sh\n"), fence)
}

// requireCurl fails the test unless curl major.minor or newer is on PATH.
func requireCurl(t *testing.T, major, minor int) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("the README quickstart needs curl >= %d.%d (for --json) on PATH: %v", major, minor, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", "--version").Output()
	if err != nil {
		t.Fatalf("curl --version: %v", err)
	}
	m := regexp.MustCompile(`^curl (\d+)\.(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("curl --version: unrecognised output %q", out)
	}
	maj, _ := strconv.Atoi(string(m[1]))
	mnr, _ := strconv.Atoi(string(m[2]))
	if maj < major || (maj == major && mnr < minor) {
		t.Fatalf("the README quickstart needs curl >= %d.%d (for --json); found %d.%d", major, minor, maj, mnr)
	}
}

// mustDoHeader is a GET with the given headers that must answer 200 with
// JSON decoded into out.
func mustDoHeader(t *testing.T, method, url string, hdr http.Header, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	status, _, b, err := doHTTP(ctx, method, url, nil, hdr)
	if err != nil || status != http.StatusOK {
		t.Fatalf("%s %s: status %d, err %v, body %s", method, url, status, err, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: decode: %v in %s", method, url, err, b)
	}
}
