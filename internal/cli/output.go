package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schemakv/schemakv/api"
)

// render prints v as indented JSON with -o json, or calls table otherwise.
func (a *app) render(v any, table func(w io.Writer)) error {
	if a.output == "json" {
		return writeJSON(a.stdout, v)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// writeJSON prints v indented, with a final newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// prettyJSON indents a raw JSON value for display; invalid JSON is shown as
// it is.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// compactJSON shows a raw JSON value on one line.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func schemaRef(name string, version int) string {
	if name == "" {
		return "-"
	}
	return fmt.Sprintf("%s@%d", name, version)
}

// printError prints err for a person: an API error as "error: code: message"
// with one line per failing location and per failing batch operation.
func printError(w io.Writer, err error) {
	var apiErr *api.Error
	if !errors.As(err, &apiErr) {
		fmt.Fprintf(w, "error: %v\n", err)
		return
	}
	fmt.Fprintf(w, "error: %s: %s\n", apiErr.Code, apiErr.Message)
	printDetails(w, "  ", apiErr.Details)
	for _, it := range apiErr.Items {
		fmt.Fprintf(w, "  ops[%d]: %s: %s\n", it.Index, it.Code, it.Message)
		printDetails(w, "    ", it.Details)
		if it.Code == api.CodeRevisionMismatch && it.Revision != 0 {
			fmt.Fprintf(w, "    current revision: %d\n", it.Revision)
		}
	}
	if apiErr.Code == api.CodeRevisionMismatch && apiErr.Revision != 0 {
		fmt.Fprintf(w, "  current revision: %d\n", apiErr.Revision)
	}
	printChecks(w, apiErr.Checks) // schema_evolution.go
}

func printDetails(w io.Writer, indent string, details []api.FieldError) {
	for _, d := range details {
		pointer := d.Pointer
		if pointer == "" {
			pointer = "(root)"
		}
		fmt.Fprintf(w, "%s%s: %s (%s)\n", indent, pointer, d.Message, d.Keyword)
	}
}

// readInput reads a file, or standard input for "-".
func (a *app) readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(a.stdin)
	}
	return os.ReadFile(path)
}

// readJSONInput reads a file or standard input and checks that it holds one
// JSON value, so a typo fails here with its position rather than as an
// encoding error.
func (a *app) readJSONInput(path string) (json.RawMessage, error) {
	b, err := a.readInput(path)
	if err != nil {
		return nil, err
	}
	if err := checkJSON(b); err != nil {
		name := path
		if path == "-" {
			name = "standard input"
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return json.RawMessage(b), nil
}

func checkJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	return nil
}
