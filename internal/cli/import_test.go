package cli

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLI_Import(t *testing.T) {
	addr := mustStartNode(t)
	sk := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, stdin, append([]string{"--addr", addr, "--principal", "bob"}, args...)...)
	}
	mustExit(t, exitOK, "created namespace payments")(sk("", "ns", "create", "payments"))
	mustExit(t, exitOK, "version 1")(sk(limitsSchema, "schema", "register", "payments", "limits", "-"))

	dir := t.TempDir()
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, fmt.Sprintf(`{"namespace":"payments","key":"svc/%02d","schema":"limits@1","value":{"retries":%d}}`, i, i%10))
	}
	good := filepath.Join(dir, "a", "good.ndjson")
	if err := os.MkdirAll(filepath.Dir(good), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(strings.Join(lines[:40], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(strings.Join(lines[40:], "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory: every *.ndjson/*.jsonl file in path order, one atomic job.
	mustExit(t, exitOK, "APPLIED    50")(sk("", "--reason", "onboard", "import", dir))
	mustExit(t, exitOK, "Reason:       onboard")(sk("", "config", "get", "payments", "svc/07"))

	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"namespace":"payments","key":"x/1","schema":"limits@1","value":{"retries":99}},
		{"namespace":"payments","key":"x/2","schema":"limits@1","value":{"retries":1}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := sk("", "import", bad)
	mustExit(t, exitError, "failed: 1 of 2 entries failed; nothing was published")(code, out, "failed: 1 of 2 entries failed; nothing was published")
	if !strings.Contains(out, `entry 0 payments/x/1: validation_failed`) {
		t.Fatalf("stdout lacks the failure:\n%s", out)
	}
	mustExit(t, exitError, "partial: 1 of 2 entries failed; the others were applied")(sk("", "import", "--mode", "best-effort", bad))
	mustExit(t, exitOK, "Version:      1")(sk("", "config", "get", "payments", "x/2"))
	mustExit(t, exitOK, "succeeded")(sk(lines[0]+"\n", "import", "--dry-run", "-"))
	mustExit(t, exitOK, "partial")(sk("", "import-status"))
	// A GitOps layout: its config entries are imported.
	layout := t.TempDir()
	for name, body := range map[string]string{
		"namespaces/payments/schemas/limits/v1.json": limitsSchema,
		"namespaces/payments/configs/gw/eu.yaml":     "schema: limits@1\nvalue:\n  retries: 2\n",
		"namespaces/payments/configs/gw/us.json":     `{"schema": "limits@1", "value": {"retries": 3}}`,
	} {
		p := filepath.Join(layout, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustExit(t, exitOK, "APPLIED 2")(sk("", "import", layout))
	mustExit(t, exitOK, `"retries": 3`)(sk("", "config", "get", "payments", "gw/us"))
	bad2 := filepath.Join(layout, "namespaces", "payments", "configs", "gw", "bad.yaml")
	if err := os.WriteFile(bad2, []byte("schema: limits@1\nvalue:\n  retries: 99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustExit(t, exitError, "GitOps layout with problems")(sk("", "import", layout))

	// A malformed upload fails the command and cancels its job.
	mustExit(t, exitError, "invalid_import")(sk("not json\n", "import", "-"))
	mustExit(t, exitOK, "cancelled")(sk("", "import-status"))
	mustExit(t, exitUsage, "--mode must be")(sk("", "import", "--mode", "x", bad))
}

// writeTree writes files below a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCLI_ImportTar(t *testing.T) {
	addr := mustStartNode(t)
	sk := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, stdin, append([]string{"--addr", addr, "--principal", "bob"}, args...)...)
	}
	mustExit(t, exitOK, "created namespace payments")(sk("", "ns", "create", "payments"))
	mustExit(t, exitOK, "version 1")(sk(limitsSchema, "schema", "register", "payments", "limits", "-"))
	files := map[string]string{
		"README.md":                          "the repository's own files are not sent",
		".git/HEAD":                          "ref: refs/heads/main\n",
		"namespaces/payments/namespace.yaml": "description: payments\n",
		"namespaces/payments/schemas/limits/v1.json": limitsSchema,
		"namespaces/payments/configs/.gitkeep":       "",
		"namespaces/payments/configs/gw/eu.yaml":     "# Europe\nschema: limits@1\nvalue:\n  retries: 2\n",
		"namespaces/payments/configs/gw/us.json":     `{"schema": "limits@1", "value": {"retries": 3}}`,
	}
	layout := writeTree(t, files)

	// --tar packs the directory on the fly; the server reads it.
	mustExit(t, exitOK, "APPLIED    2")(sk("", "--reason", "tar", "import", "--tar", layout))
	mustExit(t, exitOK, `"retries": 3`)(sk("", "config", "get", "payments", "gw/us"))
	mustExit(t, exitUsage, "--tar packs a GitOps layout")(sk("", "import", "--tar", t.TempDir()))

	// FILE.tar and FILE.tar.gz, packed by the tar command, are sent as
	// they are.
	if _, err := exec.LookPath("tar"); err == nil {
		files["namespaces/payments/configs/gw/eu.yaml"] = "schema: limits@1\nvalue:\n  retries: 5\n"
		files["namespaces/payments/configs/gw/asia.yaml"] = "schema: limits@1\nvalue:\n  retries: 7\n"
		layout = writeTree(t, files)
		out := t.TempDir()
		for _, args := range [][]string{{"-cf", filepath.Join(out, "l.tar")}, {"-czf", filepath.Join(out, "l.tgz")}} {
			if b, err := exec.Command("tar", append(args, "-C", layout, ".")...).CombinedOutput(); err != nil {
				t.Fatalf("tar: %v: %s", err, b)
			}
		}
		mustExit(t, exitOK, "APPLIED    3")(sk("", "import", filepath.Join(out, "l.tar")))
		mustExit(t, exitOK, `"retries": 5`)(sk("", "config", "get", "payments", "gw/eu"))
		mustExit(t, exitOK, "VALIDATED  3")(sk("", "import", "--dry-run", filepath.Join(out, "l.tgz")))
	}

	// Failures name the file and line.
	files["namespaces/payments/configs/gw/bad.yaml"] = "schema: limits@1\nvalue:\n  retries: 99\n"
	files["namespaces/payments/schemas/limits/v2.yaml"] = "type: object\n"
	code, out, _ := sk("", "import", "--tar", writeTree(t, files))
	mustExit(t, exitError, "nothing was published")(code, out, "nothing was published")
	for _, want := range []string{
		"payments/gw/bad (namespaces/payments/configs/gw/bad.yaml:3): validation_failed",
		"namespaces/payments/schemas/limits/v2.yaml:1: schema_not_found",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

// The packed stream is the same every time, so a resume at an offset
// continues the first attempt's bytes.
func TestTarSource_Deterministic(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"namespaces/a/configs/x.yaml":     "schema: s@1\nvalue: 1\n",
		"namespaces/a/configs/y/z.yaml":   strings.Repeat("# padding\n", 100) + "schema: s@1\nvalue: 2\n",
		"namespaces/a/configs/.hidden/.q": "skipped",
		"namespaces/a/.hidden/q.yaml":     "skipped",
		"namespaces/a/schemas/s/v1.yaml":  "{}\n",
		"namespaces/b/namespace.yaml":     "description: b\n",
		"outside.txt":                     "not packed",
		"namespaces/a/configs/.gitignore": "*.tmp\n",
	})
	src := tarSource(dir)
	read := func(offset int64) []byte {
		r, err := src.open(offset)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	whole := read(0)
	if rest := read(1536); !bytes.Equal(rest, whole[1536:]) {
		t.Fatal("the stream from offset 1536 differs from the first one's rest")
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(whole))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if want := "namespaces/a/configs/x.yaml namespaces/a/configs/y/z.yaml namespaces/a/schemas/s/v1.yaml namespaces/b/namespace.yaml"; strings.Join(names, " ") != want {
		t.Fatalf("packed %v; want %s", names, want)
	}
}
