package node_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/gitops"
	"github.com/schemakv/schemakv/gitops/layout"
	"github.com/schemakv/schemakv/node"
)

// Imports of a tar of the GitOps layout (POST /v1/imports?format=tar), on
// real nodes through real HTTP.

// tarMember is one member of a test archive; a zero Typeflag is a regular
// file.
type tarMember struct {
	name     string
	body     string
	typeflag byte
	linkname string
}

// buildTar writes the members in order.
func buildTar(t testing.TB, members []tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Typeflag: m.typeflag, Linkname: m.linkname, Mode: 0o644, ModTime: time.Unix(1700000000, 0)}
		switch h.Typeflag {
		case 0:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(m.body))
		case tar.TypeDir:
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := io.WriteString(tw, m.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sSchemaYAML is the schema setup registers as s@1, written as a file.
const sSchemaYAML = "# the schema of app\ntype: object\nproperties:\n  n: {type: integer}\n"

// validConfigs returns n config files for app, keys t/<i>, n = i.
func validConfigs(n int) []tarMember {
	var ms []tarMember
	for i := 0; i < n; i++ {
		ms = append(ms, tarMember{name: fmt.Sprintf("namespaces/app/configs/t/%04d.yaml", i),
			body: fmt.Sprintf("# config %d\nschema: s@1\nvalue:\n  n: %d\n", i, i)})
	}
	return ms
}

func postTar(t testing.TB, base, query string, body []byte) (int, api.ImportJob, api.ErrorBody) {
	t.Helper()
	var raw json.RawMessage
	st := rawCall(t, http.MethodPost, base+"/v1/imports?"+query, "application/x-tar", bytes.NewReader(body), &raw)
	var j api.ImportJob
	var e api.ErrorBody
	if st == http.StatusAccepted {
		_ = json.Unmarshal(raw, &j)
	} else {
		_ = json.Unmarshal(raw, &e)
	}
	return st, j, e
}

// errorsByFile indexes a job's failures by file.
func errorsByFile(j api.ImportJob) map[string]api.ImportError {
	out := map[string]api.ImportError{}
	for _, e := range j.Errors {
		out[e.File] = e
	}
	return out
}

func TestImportTar_AtomicAndBestEffort(t *testing.T) {
	tc := startClusterWith(t, 1, unpaced)
	base := tc.url(0)
	setup(t, base)
	const valid = 40
	members := []tarMember{
		{name: "./", typeflag: tar.TypeDir},
		{name: "./README.md", body: "not part of the layout"},
		{name: "./.git/HEAD", body: "ref: refs/heads/main\n"},
		{name: "./namespaces/", typeflag: tar.TypeDir},
		{name: "./namespaces/app/namespace.yaml", body: "description: the app\n"},
		{name: "./namespaces/app/schemas/s/v1.yaml", body: sSchemaYAML},
		{name: "./namespaces/app/configs/.gitkeep", body: ""},
	}
	members = append(members, validConfigs(valid)...)
	invalid := map[string]struct {
		body, code string
		line       int
	}{
		"namespaces/app/configs/bad/type.yaml":    {"schema: s@1\nvalue:\n  n: not a number\n", api.CodeValidationFailed, 3},
		"namespaces/app/configs/bad/syntax.yaml":  {"schema: s@1\nvalue:\n  n: [1, 2\n", api.CodeInvalidImport, 3},
		"namespaces/app/configs/bad/field.yaml":   {"schema: s@1\nvalue: {n: 1}\nkey: other\n", api.CodeInvalidImport, 3},
		"namespaces/app/configs/bad/noschema.yml": {"# pinned to a version the server lacks\nschema: s@9\nvalue: {n: 1}\n", api.CodeSchemaNotFound, 2},
		"namespaces/app/configs/bad/closed.json":  {"{\n  \"schema\": \"s@1\",\n  \"value\": {\n    \"n\": 1,\n    \"extra\": true\n  }\n}\n", api.CodeValidationFailed, 5},
	}
	for _, name := range sortedNames(invalid) {
		members = append(members, tarMember{name: name, body: invalid[name].body})
	}
	archive := buildTar(t, members)
	check := func(j api.ImportJob) {
		t.Helper()
		if j.Received != valid+int64(len(invalid)) || j.Failed != int64(len(invalid)) || j.Format != api.ImportTar {
			t.Fatalf("job = format %s received %d failed %d (%s): %+v", j.Format, j.Received, j.Failed, j.Message, j.Errors)
		}
		got := errorsByFile(j)
		for name, want := range invalid {
			e, ok := got[name]
			if !ok || e.Code != want.code || e.Line != want.line || e.Namespace != "app" || e.Key == "" {
				t.Errorf("failure of %s = %+v; want code %s at line %d", name, e, want.code, want.line)
			}
		}
		if e := got["namespaces/app/configs/bad/type.yaml"]; len(e.Details) == 0 || e.Details[0].Pointer != "/n" || e.Key != "bad/type" {
			t.Errorf("validation failure lacks its pointer: %+v", e)
		}
	}

	st, j, e := postTar(t, base, "mode=atomic&reason=tar", archive)
	if st != http.StatusAccepted {
		t.Fatalf("POST: %d %+v", st, e.Error)
	}
	j = waitJob(t, base, j.ID)
	check(j)
	if j.State != api.ImportFailed || j.Applied != 0 || configCount(t, base) != 0 {
		t.Fatalf("atomic job = %s applied %d, %d configs visible", j.State, j.Applied, configCount(t, base))
	}

	st, j, e = postTar(t, base, "mode=best-effort&reason=tar", archive)
	if st != http.StatusAccepted {
		t.Fatalf("POST: %d %+v", st, e.Error)
	}
	j = waitJob(t, base, j.ID)
	check(j)
	if j.State != api.ImportPartial || j.Applied != valid || configCount(t, base) != valid {
		t.Fatalf("best-effort job = %s applied %d, %d configs; want %d", j.State, j.Applied, configCount(t, base), valid)
	}
	v := tc.nodes[0].Store().View()
	for i := 0; i < valid; i++ {
		e, ok := v.Config("app", fmt.Sprintf("t/%04d", i))
		if !ok || string(e.Value) != fmt.Sprintf(`{"n":%d}`, i) || e.SchemaVersion != 1 || e.Reason != "tar" {
			t.Fatalf("t/%04d = %+v, %v", i, e, ok)
		}
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A schema file that is not the registered version fails the import, and
// members an import refuses are failures naming their paths.
func TestImportTar_SchemaFilesAndRefusedMembers(t *testing.T) {
	tc := startClusterWith(t, 1, unpaced)
	base := tc.url(0)
	setup(t, base)

	differs := buildTar(t, append([]tarMember{
		{name: "namespaces/app/schemas/s/v1.yaml", body: "type: object\nproperties:\n  n: {type: string}\n"},
		{name: "namespaces/app/schemas/s/v2.json", body: `{"type": "object"}`},
	}, validConfigs(5)...))
	st, j, e := postTar(t, base, "", differs)
	if st != http.StatusAccepted {
		t.Fatalf("POST: %d %+v", st, e.Error)
	}
	j = waitJob(t, base, j.ID)
	got := errorsByFile(j)
	if j.State != api.ImportFailed || j.Applied != 0 || j.Failed != 2 || configCount(t, base) != 0 ||
		got["namespaces/app/schemas/s/v1.yaml"].Code != api.CodeSchemaConflict ||
		got["namespaces/app/schemas/s/v2.json"].Code != api.CodeSchemaNotFound {
		t.Fatalf("job = %s applied %d failed %d: %+v", j.State, j.Applied, j.Failed, j.Errors)
	}
	if m := got["namespaces/app/schemas/s/v1.yaml"].Message; !strings.Contains(m, "differs from version 1 of app/s on the server") {
		t.Fatalf("message = %q", m)
	}

	refused := buildTar(t, append([]tarMember{
		{name: "namespaces/app/configs/link.yaml", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"},
		{name: "namespaces/app/configs/hard.yaml", typeflag: tar.TypeLink, linkname: "namespaces/app/configs/t/0000.yaml"},
		{name: "namespaces/app/configs/dev.yaml", typeflag: tar.TypeChar},
		{name: "../../etc/cron.d/x.yaml", body: "schema: s@1\nvalue: {n: 1}\n"},
		{name: "/namespaces/app/configs/abs.yaml", body: "schema: s@1\nvalue: {n: 1}\n"},
		{name: "namespaces/app/configs/../../../x.yaml", body: "schema: s@1\nvalue: {n: 1}\n"},
		{name: "namespaces/app/oops.txt", body: "x"},
		{name: "namespaces/app/config/a.yaml", body: "schema: s@1\nvalue: {n: 1}\n"},
		{name: "namespaces/app/config/b.yaml", body: "schema: s@1\nvalue: {n: 1}\n"},
		{name: "namespaces/app/configs/t/0001.json", body: `{"schema": "s@1", "value": {"n": 1}}`},
		{name: "README.md", typeflag: tar.TypeSymlink, linkname: "docs/README.md"},
	}, validConfigs(3)...))
	st, j, e = postTar(t, base, "mode=best-effort", refused)
	if st != http.StatusAccepted {
		t.Fatalf("POST: %d %+v", st, e.Error)
	}
	j = waitJob(t, base, j.ID)
	got = errorsByFile(j)
	for file, msg := range map[string]string{
		"namespaces/app/configs/link.yaml":       "a symbolic link",
		"namespaces/app/configs/hard.yaml":       "a hard link",
		"namespaces/app/configs/dev.yaml":        "a character device",
		"../../etc/cron.d/x.yaml":                "leaves the archive's root",
		"/namespaces/app/configs/abs.yaml":       "is absolute",
		"namespaces/app/configs/../../../x.yaml": "leaves the archive's root",
		"namespaces/app/oops.txt":                "unexpected here",
		"namespaces/app/config":                  "unexpected here",
		"namespaces/app/configs/t/0001.yaml":     `key "t/0001" is also namespaces/app/configs/t/0001.json`,
	} {
		if e, ok := got[file]; !ok || !strings.Contains(e.Message, msg) {
			t.Errorf("failure of %s = %+v, want %q", file, e, msg)
		}
	}
	// One failure for the misplaced directory, none for the symlink
	// outside namespaces/ (skipped like any file there).
	// Applied: t/0000, t/0002 and t/0001 from its .json (the first of the
	// two files giving that key).
	if j.Failed != 9 || len(j.Errors) != 9 || j.Applied != 3 || j.State != api.ImportPartial {
		t.Fatalf("job = %s failed %d applied %d: %+v", j.State, j.Failed, j.Applied, j.Errors)
	}
}

// Malformed archives get a clear 400 and the one-request job fails; the
// per-file and entry limits are entry failures or a 413, never a 5xx.
func TestImportTar_MalformedAndLimits(t *testing.T) {
	cfg := clusterConfig(t, "n1", 1, nil)
	cfg.Limits.MaxValueBytes = 1024 // one tar file: 1 KiB + 64 KiB
	cfg.Limits.Imports.MaxEntries = 20
	cfg.Limits.Imports.MaxBytes = 100 << 10
	unpaced(&cfg)
	tc := &testCluster{t: t, cfgs: []node.Config{cfg}, nodes: make([]*node.Node, 1)}
	tc.start(0)
	t.Cleanup(tc.closeAll)
	tc.waitLeader()
	base := tc.url(0)
	setup(t, base)

	good := buildTar(t, validConfigs(3))
	for _, tt := range []struct {
		name, query, ctype string
		body               []byte
		status             int
		code, msg          string
	}{
		{"not a tar", "format=tar", "", []byte(strings.Repeat("garbage ", 200)), 400, api.CodeInvalidImport, "not a valid tar archive"},
		// Cut inside the first file's data (one that ends in its padding
		// is as good as whole: the padding holds nothing).
		{"truncated", "", "application/x-tar", good[:530], 400, api.CodeInvalidImport, "truncated"},
		{"gzip without its format", "", "", gzipped(t, good), 400, api.CodeInvalidImport, "format=tar.gz"},
		{"not gzip", "format=tar.gz", "", good, 400, api.CodeInvalidImport, "not a gzip stream"},
		{"wrong root", "format=tar", "", buildTar(t, []tarMember{{name: "repo/namespaces/app/configs/a.yaml", body: "schema: s@1\nvalue: {n: 1}\n"}}), 400, api.CodeInvalidImport, "no namespaces/ directory at its root"},
		{"too many entries", "format=tar", "", buildTar(t, validConfigs(21)), 413, api.CodeImportTooLarge, "more than 20 entries"},
		// The byte limit holds at the member's header (nothing of it
		// is read), and for a tar.gz on the decompressed stream too.
		{"too many bytes", "format=tar", "", buildTar(t, []tarMember{{name: "namespaces/app/configs/a.yaml", body: strings.Repeat("#", 120<<10)}}), 413, api.CodeImportTooLarge, "exceeds 102400 bytes (the tar's namespaces/app/configs/a.yaml of 122880 bytes starts at byte 512)"},
		{"too many bytes, decompressed", "format=tar.gz", "", gzipped(t, buildTar(t, []tarMember{{name: "namespaces/app/configs/a.yaml", body: strings.Repeat("#", 120<<10)}})), 413, api.CodeImportTooLarge, "exceeds 102400 bytes (the tar's namespaces/app/configs/a.yaml of 122880 bytes starts at byte 512)"},
	} {
		var e api.ErrorBody
		// Sent without a length (chunked), so that the server's own
		// reading meets the limits.
		st := rawCall(t, http.MethodPost, base+"/v1/imports?"+tt.query, tt.ctype, struct{ io.Reader }{bytes.NewReader(tt.body)}, &e)
		if st != tt.status || e.Error == nil || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.msg) {
			t.Errorf("%s: %d %+v; want %d %s %q", tt.name, st, e.Error, tt.status, tt.code, tt.msg)
		}
	}
	// The one-request jobs of those uploads ended as failed, saying why.
	var list api.ImportList
	rawCall(t, http.MethodGet, base+"/v1/imports", "", nil, &list)
	for _, j := range list.Items {
		if j.State != api.ImportFailed || j.Message == "" {
			t.Errorf("job %s after a malformed upload: %s %q", j.ID, j.State, j.Message)
		}
	}

	// A file over the per-file limit fails alone; a value over the value
	// limit in a file under it fails as the value.
	big := buildTar(t, append([]tarMember{
		{name: "namespaces/app/configs/huge.yaml", body: "schema: s@1\nvalue:\n  n: 1\n# " + strings.Repeat("x", 70<<10) + "\n"},
		{name: "namespaces/app/configs/big.yaml", body: "schema: s@1\nvalue:\n  n: 1\n  pad: " + strings.Repeat("y", 2000) + "\n"},
	}, validConfigs(2)...))
	st, j, e := postTar(t, base, "mode=best-effort", big)
	if st != http.StatusAccepted {
		t.Fatalf("POST: %d %+v", st, e.Error)
	}
	j = waitJob(t, base, j.ID)
	got := errorsByFile(j)
	if huge := got["namespaces/app/configs/huge.yaml"]; huge.Code != api.CodeValueTooLarge || !strings.Contains(huge.Message, "limit of 66560 bytes for one file") {
		t.Fatalf("huge.yaml: %+v", huge)
	}
	if b := got["namespaces/app/configs/big.yaml"]; b.Code != api.CodeValueTooLarge || b.Line != 3 {
		t.Fatalf("big.yaml: %+v", b)
	}
	if j.Applied != 2 || j.Failed != 2 {
		t.Fatalf("job = %s applied %d failed %d", j.State, j.Applied, j.Failed)
	}
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "a.tar")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gzip", "-n", p).CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v: %s", err, out)
	}
	gz, err := os.ReadFile(p + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	return gz
}

// A tar upload broken off resumes from the acknowledged offset, a tar
// header boundary, with every entry imported exactly once.
func TestImportTar_Resume(t *testing.T) {
	tc := startClusterWith(t, 3, func(c *node.Config) {
		unpaced(c)
		c.Limits.Imports.ChunkEntries = 10
	})
	base := tc.url(tc.follower())
	setup(t, base)
	const n = 200
	archive := buildTar(t, validConfigs(n))

	var j api.ImportJob
	if st := rawCall(t, http.MethodPost, base+"/v1/imports?mode=atomic&format=tar&reason=resume", "", nil, &j); st != http.StatusAccepted || j.Format != api.ImportTar {
		t.Fatalf("create: %d %+v", st, j)
	}
	// A part that ends inside a file's data: the complete files before it
	// are acknowledged, up to the header after the last one.
	// Each member is a header block and a data block: cut 20 bytes into
	// the data of member k; members 0..k-1 end at k*1024.
	k := len(archive) / 4 / 1024
	cut := k*1024 + 512 + 20
	if st := rawCall(t, http.MethodPut, base+"/v1/imports/"+j.ID+"/data?offset=0", "", bytes.NewReader(archive[:cut]), &j); st != http.StatusOK {
		t.Fatalf("part 1: %d %+v", st, j)
	}
	if j.Offset != int64(k*1024) || j.Received != int64(k) {
		t.Fatalf("acknowledged offset %d and %d entries after a part of %d bytes; want %d, %d", j.Offset, j.Received, cut, k*1024, k)
	}
	// A connection that breaks mid-request (the body is cut off with an
	// error once the server committed some of it): the driver keeps what
	// it committed; the client resumes from there.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v1/imports/%s/data?offset=%d&final=true", base, j.ID, j.Offset), pr)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			answered <- fmt.Errorf("a broken upload answered %d", resp.StatusCode)
			return
		}
		answered <- nil
	}()
	go func() { _, _ = pw.Write(archive[j.Offset : len(archive)*3/4]) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var cur api.ImportJob
		rawCall(t, http.MethodGet, base+"/v1/imports/"+j.ID, "", nil, &cur)
		if cur.Offset > j.Offset+10*1024 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second part committed nothing within 30s: %+v", cur)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = pw.CloseWithError(fmt.Errorf("network gone"))
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	// The request's failure reaches the driver a little later: poll until
	// the job's driver let go of it (a PUT is refused while one runs).
	var cur api.ImportJob
	deadline = time.Now().Add(30 * time.Second)
	for {
		rawCall(t, http.MethodGet, base+"/v1/imports/"+j.ID, "", nil, &cur)
		if cur.State != api.ImportRunning || cur.Offset%512 != 0 || cur.Offset < j.Offset {
			t.Fatalf("after the break: %+v", cur)
		}
		var e api.ErrorBody
		// The same node: its driver of the broken request is then
		// surely gone when the resume is accepted.
		url := fmt.Sprintf("%s/v1/imports/%s/data?offset=%d&final=true", base, j.ID, cur.Offset)
		st := rawCall(t, http.MethodPut, url, "", bytes.NewReader(archive[cur.Offset:]), &e)
		if st == http.StatusAccepted {
			break
		}
		if st != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("resume at %d: %d %+v", cur.Offset, st, e.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
	j = waitJob(t, base, j.ID)
	if j.State != api.ImportSucceeded || j.Received != n || j.Applied != n {
		t.Fatalf("job = %s received %d applied %d (%s)", j.State, j.Received, j.Applied, j.Message)
	}
	v := tc.nodes[tc.waitLeader()].Store().View()
	if v.ConfigCount() != n {
		t.Fatalf("%d configs, want %d", v.ConfigCount(), n)
	}
	for i := 0; i < n; i++ {
		if e, ok := v.Config("app", fmt.Sprintf("t/%04d", i)); !ok || e.Version != 1 || string(e.Value) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("t/%04d = %+v, %v", i, e, ok)
		}
	}

	// A tar.gz job cannot resume once it committed a chunk.
	gz := gzipped(t, archive)
	if st := rawCall(t, http.MethodPost, base+"/v1/imports?mode=atomic&format=tar.gz", "", nil, &j); st != http.StatusAccepted {
		t.Fatalf("create: %d", st)
	}
	if st := rawCall(t, http.MethodPut, base+"/v1/imports/"+j.ID+"/data?offset=0", "", bytes.NewReader(gz[:len(gz)/2]), &j); st != http.StatusBadRequest {
		t.Fatalf("half a tar.gz: %d", st)
	}
	rawCall(t, http.MethodGet, base+"/v1/imports/"+j.ID, "", nil, &j)
	var e api.ErrorBody
	st := rawCall(t, http.MethodPut, fmt.Sprintf("%s/v1/imports/%s/data?offset=%d", base, j.ID, j.Offset), "", bytes.NewReader(gz), &e)
	if j.Chunks == 0 || st != http.StatusConflict || e.Error.Code != api.CodeImportOffset || !strings.Contains(e.Error.Message, "restart from byte 0 in a new job") {
		t.Fatalf("resume of a tar.gz after %d chunks: %d %+v", j.Chunks, st, e.Error)
	}
}

// A directory written by export, packed by the real tar command, imports
// into a fresh cluster with the same namespace and schemas as the same
// entries, in YAML (tar) and JSON (tar.gz).
func TestImportTar_ExportRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar command")
	}
	src := startClusterWith(t, 1, unpaced)
	setup(t, src.url(0))
	values := map[string]string{
		"plain":         `{"n":1}`,
		"deep/er/key":   `{"n":123456789012345678901234567890}`,
		"odd.name:1@x":  `{"n":-7}`,
		"with/sym~+=-_": `{"n":0}`,
	}
	for key, val := range values {
		mustOK(t, http.MethodPut, src.url(0)+"/v1/namespaces/app/configs/"+key, map[string]any{"schema": "s@1", "value": json.RawMessage(val)}, nil)
	}
	mustOK(t, http.MethodPost, src.url(0)+"/v1/namespaces/app/schemas/s", map[string]any{
		"schema": map[string]any{"type": "object", "properties": map[string]any{"n": map[string]any{"type": "integer"}, "s": map[string]any{"type": "string"}}},
	}, nil)
	values["v2/text"] = `{"s":"multi\nline <&> \"quoted\" # not a comment","n":2}`
	mustOK(t, http.MethodPut, src.url(0)+"/v1/namespaces/app/configs/v2/text", map[string]any{"schema": "s@2", "value": json.RawMessage(values["v2/text"])}, nil)
	cl, err := client.New(client.Config{Address: src.url(0), Token: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	want, err := gitops.Fetch(context.Background(), cl, []string{"app"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct{ format, tarFlags, importFormat string }{
		{gitops.FormatYAML, "-cf", api.ImportTar},
		{gitops.FormatJSON, "-czf", api.ImportTarGzip},
	} {
		dir := t.TempDir()
		if _, err := gitops.Export(context.Background(), cl, dir, gitops.ExportOptions{Namespaces: []string{"app"}, Format: tt.format}); err != nil {
			t.Fatal(err)
		}
		archive := filepath.Join(t.TempDir(), "layout.tar")
		if out, err := exec.Command("tar", tt.tarFlags, archive, "-C", dir, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v: %s", err, out)
		}
		body, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}

		dst := startClusterWith(t, 1, unpaced)
		base := dst.url(0)
		setup(t, base)
		mustOK(t, http.MethodPost, base+"/v1/namespaces/app/schemas/s", map[string]any{
			"schema": map[string]any{"type": "object", "properties": map[string]any{"n": map[string]any{"type": "integer"}, "s": map[string]any{"type": "string"}}},
		}, nil)
		var j api.ImportJob
		if st := rawCall(t, http.MethodPost, base+"/v1/imports?format="+tt.importFormat, "", bytes.NewReader(body), &j); st != http.StatusAccepted {
			t.Fatalf("%s: POST: %d %+v", tt.format, st, j)
		}
		j = waitJob(t, base, j.ID)
		if j.State != api.ImportSucceeded || j.Applied != int64(len(values)) {
			t.Fatalf("%s: job = %s applied %d (%s) %+v", tt.format, j.State, j.Applied, j.Message, j.Errors)
		}
		v := dst.nodes[0].Store().View()
		for key, e := range want.Namespaces["app"].Configs {
			got, ok := v.Config("app", key)
			if !ok || got.Schema != e.Schema || got.SchemaVersion != e.SchemaVersion || !layout.JSONEqual(got.Value, e.Value) {
				t.Errorf("%s: %s = %+v; want %s@%d %s", tt.format, key, got, e.Schema, e.SchemaVersion, e.Value)
			}
		}
		if v.ConfigCount() != len(values) {
			t.Errorf("%s: %d configs, want %d", tt.format, v.ConfigCount(), len(values))
		}
	}
}
