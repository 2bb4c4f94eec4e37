package gitops

import (
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// ANSI colours of the plan on a terminal.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
)

// valueDiff is a unified diff of two JSON values in canonical form (sorted
// keys, two-space indentation), so that it shows changed fields and not
// formatting.
func valueDiff(ns, key, oldRef string, rev uint64, oldValue []byte, file, newRef string, newValue []byte) string {
	d := difflib.UnifiedDiff{
		A:        difflib.SplitLines(canonicalJSON(oldValue)),
		B:        difflib.SplitLines(canonicalJSON(newValue)),
		FromFile: fmt.Sprintf("server %s/%s (%s, revision %d)", ns, key, oldRef, rev),
		ToFile:   fmt.Sprintf("%s (%s)", file, newRef),
		Context:  3,
	}
	s, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		return err.Error()
	}
	return s
}

// Render writes the plan for a person. With color, additions are green,
// deletions red and updates yellow (ANSI escapes, for a terminal).
func (p *Plan) Render(w io.Writer, color bool) {
	paint := func(c, s string) string {
		if !color {
			return s
		}
		return c + s + ansiReset
	}
	for _, n := range p.CreateNamespaces {
		fmt.Fprintf(w, "%s namespace %s\n", paint(ansiGreen, "+ create"), n.Name)
	}
	for _, s := range p.Schemas {
		fmt.Fprintf(w, "%s schema %s/%s@%d  (%s)\n", paint(ansiGreen, "+ register"), s.Namespace, s.Name, s.Version, s.File)
		renderDryRun(w, s, paint)
	}
	for _, c := range p.Configs {
		ref := fmt.Sprintf("%s/%s", c.Namespace, c.Key)
		switch c.Action {
		case ActionCreate:
			fmt.Fprintf(w, "%s config %s  (%s, %s)\n", paint(ansiGreen, "+ create"), ref, c.Schema, c.File)
			for _, l := range difflib.SplitLines(canonicalJSON(c.Value)) {
				fmt.Fprint(w, paint(ansiGreen, "    +"+l))
			}
		case ActionUpdate:
			what := ""
			if c.OldSchema != c.Schema {
				what = fmt.Sprintf(", schema %s -> %s", c.OldSchema, c.Schema)
			}
			fmt.Fprintf(w, "%s config %s  (revision %d%s)\n", paint(ansiYellow, "~ update"), ref, c.Revision, what)
			for _, l := range difflib.SplitLines(strings.TrimSuffix(c.Diff, "\n")) {
				switch {
				case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
					l = paint(ansiBold, strings.TrimSuffix(l, "\n")) + "\n"
				case strings.HasPrefix(l, "+"):
					l = paint(ansiGreen, strings.TrimSuffix(l, "\n")) + "\n"
				case strings.HasPrefix(l, "-"):
					l = paint(ansiRed, strings.TrimSuffix(l, "\n")) + "\n"
				case strings.HasPrefix(l, "@@"):
					l = paint(ansiCyan, strings.TrimSuffix(l, "\n")) + "\n"
				}
				fmt.Fprint(w, "    "+l)
			}
		case ActionDelete:
			fmt.Fprintf(w, "%s config %s  (%s, revision %d)\n", paint(ansiRed, "- delete"), ref, c.OldSchema, c.Revision)
		}
	}
	if len(p.Unmanaged) > 0 {
		fmt.Fprintf(w, "%d config(s) exist only on the server and are kept (--prune deletes them):\n", len(p.Unmanaged))
		for _, u := range p.Unmanaged {
			fmt.Fprintf(w, "    %s\n", u)
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "%s %s\n", paint(ansiYellow, "warning:"), warn)
	}
	cr, up, del := p.Counts()
	if !p.HasChanges() {
		fmt.Fprintln(w, "No changes: the server matches the directory.")
		return
	}
	fmt.Fprintf(w, "Plan: %d namespace(s) to create, %d schema version(s) to register, %d config(s) to create, %d to update, %d to delete.\n",
		len(p.CreateNamespaces), len(p.Schemas), cr, up, del)
}

func renderDryRun(w io.Writer, s SchemaChange, paint func(c, s string) string) {
	r := s.DryRun
	switch {
	case r == nil:
		return
	case r.Note != "":
		fmt.Fprintf(w, "    dry run (%s): %s\n", r.Source, r.Note)
	case len(r.Failures) == 0:
		fmt.Fprintf(w, "    dry run (%s): all %d config(s) pinned to %s@%d validate against @%d\n", r.Source, r.Checked, s.Name, s.Version-1, s.Version)
	default:
		fmt.Fprintf(w, "    %s (%s): %d of %d config(s) pinned to %s@%d fail @%d; under the strict policy the server refuses this version:\n",
			paint(ansiRed, "dry run"), r.Source, len(r.Failures), r.Checked, s.Name, s.Version-1, s.Version)
		for _, f := range r.Failures {
			for _, e := range f.Errors {
				ptr := e.Pointer
				if ptr == "" {
					ptr = "(root)"
				}
				fmt.Fprintf(w, "      %s %s: %s (%s)\n", f.Key, ptr, e.Message, e.Keyword)
			}
		}
	}
}
