package gitops

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/schemakv/schemakv/gitops/layout"
)

// The layout's names, limits and types live in package gitops/layout, which
// the server's tar import shares; they are repeated here so that gitops
// stays the one package its users need.

// Names of the layout (see the package documentation).
const (
	// NamespacesDir is the directory below DIR that holds one directory per
	// namespace.
	NamespacesDir = layout.NamespacesDir
	// NamespaceFile is the optional file of a namespace directory with its
	// description.
	NamespaceFile = layout.NamespaceFile
	// SchemasDir holds one directory per schema name, with one file per
	// version.
	SchemasDir = layout.SchemasDir
	// ConfigsDir holds one file per config entry; the key is the path below
	// it without the extension.
	ConfigsDir = layout.ConfigsDir
	// IndexesFile is reserved in each schema directory for declared
	// JSON-path indexes. See the package documentation.
	IndexesFile = layout.IndexesFile
)

// Limits the loader checks (see package layout).
const (
	// MaxFileBytes is the largest file the loader reads.
	MaxFileBytes = layout.MaxFileBytes
	// MaxValueBytes is the server's default limit on one config value.
	MaxValueBytes = layout.MaxValueBytes
	// MaxJSONDepth is the server's default limit on the nesting of a
	// request body.
	MaxJSONDepth = layout.MaxJSONDepth
)

type (
	// Location names a line of a file, relative to DIR.
	Location = layout.Location
	// Problem is one defect of the directory, at a file and line.
	Problem = layout.Problem
	// Problems is every defect found in the directory; it is returned as an
	// error so that nothing is sent while any remain.
	Problems = layout.Problems
	// Desired is the state a directory declares.
	Desired = layout.Desired
	// NamespaceSpec is one namespace directory.
	NamespaceSpec = layout.NamespaceSpec
	// SchemaSpec is one schema version file.
	SchemaSpec = layout.SchemaSpec
	// ConfigSpec is one config entry file.
	ConfigSpec = layout.ConfigSpec
)

// Load reads the layout below dir. When namespaces is not empty, only those
// namespace directories are read (a named namespace without a directory is a
// problem). Every problem found — files that do not parse, wrong fields,
// unknown schema references, values that fail their schema — is returned
// together as Problems; a nil error means the directory is valid throughout.
// It is layout.Load over the directory.
func Load(dir string, namespaces []string) (*Desired, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("gitops: %w", err)
	}
	if st, err := os.Stat(filepath.Join(abs, NamespacesDir)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("gitops: %s: no %s/ directory (the layout keeps one directory per namespace there)", dir, NamespacesDir)
	}
	d, err := layout.Load(os.DirFS(abs), namespaces)
	if d != nil {
		d.Dir = abs
	}
	return d, err
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
