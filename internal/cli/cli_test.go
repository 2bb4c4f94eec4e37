package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/schemakv/schemakv/api"
)

// These tests need no server: usage errors never reach one, and the
// unreachable address turns an accidental request into exit code 1.
const unreachable = "http://127.0.0.1:1"

func TestExecute_UsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{name: "unknown command", args: []string{"nope"}, want: `unknown command "nope"`},
		{name: "missing argument", args: []string{"config", "get", "payments"}, want: "accepts 2 arg(s)"},
		{name: "unknown flag", args: []string{"ns", "list", "--bogus"}, want: "unknown flag: --bogus"},
		{name: "bad output", args: []string{"-o", "yaml", "ns", "list"}, want: `invalid --output "yaml"`},
		{name: "bad revision", args: []string{"config", "diff", "payments", "k", "x"}, want: `invalid revision "x"`},
		{name: "bad schema version", args: []string{"schema", "get", "payments", "s", "0"}, want: `invalid schema version "0"`},
		{name: "no value", args: []string{"config", "put", "payments", "k"}, want: "exactly one of --value, --file or -"},
		{name: "two values", args: []string{"put", "payments", "k", "--value", "1", "-"}, want: "exactly one of --value, --file or -"},
		{name: "bad if-match", args: []string{"config", "delete", "payments", "k", "--if-match", "-1"}, want: "invalid argument"},
		{name: "bad address", args: []string{"--addr", "ftp://x", "ns", "list"}, want: "scheme must be http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--addr", unreachable}, tt.args...)
			code, stdout, stderr := run(t, "", args...)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "--help") {
				t.Fatalf("stderr = %q, want %q and a help hint", stderr, tt.want)
			}
			if stdout != "" {
				t.Fatalf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestExecute_Help(t *testing.T) {
	code, stdout, _ := run(t, "", "--help")
	if code != exitOK || !strings.Contains(stdout, "schemakv") || !strings.Contains(stdout, "config") {
		t.Fatalf("--help: exit %d, stdout %q", code, stdout)
	}
}

func TestExecute_InvalidJSONValue(t *testing.T) {
	code, _, stderr := run(t, "", "--addr", unreachable, "put", "payments", "k", "--value", "{x")
	if code != exitError || !strings.Contains(stderr, "--value: not valid JSON") {
		t.Fatalf("exit %d, stderr %q; want 1 and a JSON error", code, stderr)
	}
	code, _, stderr = run(t, "{x", "--addr", unreachable, "put", "payments", "k", "-")
	if code != exitError || !strings.Contains(stderr, "standard input: not valid JSON") {
		t.Fatalf("stdin: exit %d, stderr %q; want 1 and a JSON error", code, stderr)
	}
}

func TestExecute_InvalidKeyNeverSent(t *testing.T) {
	code, _, stderr := run(t, "", "--addr", unreachable, "config", "delete", "payments", "a/../b")
	if code != exitError || !strings.HasPrefix(stderr, "error: invalid_key: ") {
		t.Fatalf("exit %d, stderr %q; want 1 and invalid_key", code, stderr)
	}
}

func TestExecute_TransportError(t *testing.T) {
	code, _, stderr := run(t, "", "--addr", unreachable, "ns", "list")
	if code != exitError || !strings.Contains(stderr, "connection refused") {
		t.Fatalf("exit %d, stderr %q; want 1 and the dial error", code, stderr)
	}
}

func TestPrintError_Details(t *testing.T) {
	var buf bytes.Buffer
	printError(&buf, &api.Error{
		Code:    api.CodeBatchFailed,
		Message: "1 of 2 operations failed",
		Details: []api.FieldError{{Pointer: "", Keyword: "/required", Message: "missing property retries"}},
		Items: []api.ItemError{{
			Index: 1, Code: api.CodeValidationFailed, Message: "value fails schema limits@1",
			Details: []api.FieldError{{Pointer: "/retries", Keyword: "/properties/retries/maximum", Message: "must be <= 10"}},
		}},
	})
	want := `error: batch_failed: 1 of 2 operations failed
  (root): missing property retries (/required)
  ops[1]: validation_failed: value fails schema limits@1
    /retries: must be <= 10 (/properties/retries/maximum)
`
	if got := buf.String(); got != want {
		t.Fatalf("printError:\n%s\nwant:\n%s", got, want)
	}
}

func TestPrintError_RevisionMismatch(t *testing.T) {
	var buf bytes.Buffer
	printError(&buf, &api.Error{Code: api.CodeRevisionMismatch, Message: "modify revision is 7, not 5", Revision: 7})
	want := "error: revision_mismatch: modify revision is 7, not 5\n  current revision: 7\n"
	if got := buf.String(); got != want {
		t.Fatalf("printError = %q, want %q", got, want)
	}
}

func TestPrintError_BatchItemRevisionMismatch(t *testing.T) {
	var buf bytes.Buffer
	printError(&buf, &api.Error{Code: api.CodeBatchFailed, Message: "2 operations failed; nothing was applied", Items: []api.ItemError{
		{Index: 0, Code: api.CodeRevisionMismatch, Message: "revision mismatch: app/a is at modify revision 9, expected 5", Revision: 9},
		{Index: 2, Code: api.CodeRevisionMismatch, Message: "revision mismatch: app/b does not exist, expected modify revision 5"},
	}})
	want := `error: batch_failed: 2 operations failed; nothing was applied
  ops[0]: revision_mismatch: revision mismatch: app/a is at modify revision 9, expected 5
    current revision: 9
  ops[2]: revision_mismatch: revision mismatch: app/b does not exist, expected modify revision 5
`
	if got := buf.String(); got != want {
		t.Fatalf("printError:\n%s\nwant:\n%s", got, want)
	}
}

// run executes the command line with stdin and returns the exit code and
// what was written to stdout and stderr. The environment cannot leak an
// address or token into the test.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("SCHEMAKV_ADDR", "")
	// The test nodes' admin token, as a user's environment would hold it;
	// --token on the command line wins.
	t.Setenv("SCHEMAKV_TOKEN", cliAdminToken)
	t.Setenv("SCHEMAKV_TOKEN_FILE", "")
	t.Setenv("SCHEMAKV_PRINCIPAL", "")
	var stdout, stderr bytes.Buffer
	code := executeWith(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	t.Logf("schemakv %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return code, stdout.String(), stderr.String()
}

func TestExecute_AddrFromEnv(t *testing.T) {
	var stdout, stderr bytes.Buffer
	t.Setenv("SCHEMAKV_ADDR", "http://127.0.0.1:1")
	code := executeWith(context.Background(), []string{"ns", "list"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "127.0.0.1:1") {
		t.Fatalf("exit %d, stderr %q; want a dial error naming the address from SCHEMAKV_ADDR", code, stderr.String())
	}
	stderr.Reset()
	code = executeWith(context.Background(), []string{"--addr", "http://127.0.0.1:2", "ns", "list"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "127.0.0.1:2") {
		t.Fatalf("exit %d, stderr %q; want --addr to win over SCHEMAKV_ADDR", code, stderr.String())
	}
}
