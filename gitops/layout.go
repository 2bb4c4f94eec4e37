package gitops

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/schemakv/schemakv/api"
)

// Names of the layout (see the package documentation).
const (
	// NamespacesDir is the directory below DIR that holds one directory per
	// namespace.
	NamespacesDir = "namespaces"
	// NamespaceFile is the optional file of a namespace directory with its
	// description.
	NamespaceFile = "namespace.yaml"
	// SchemasDir holds one directory per schema name, with one file per
	// version.
	SchemasDir = "schemas"
	// ConfigsDir holds one file per config entry; the key is the path below
	// it without the extension.
	ConfigsDir = "configs"
	// IndexesFile is reserved in each schema directory for declared
	// JSON-path indexes. See the package documentation.
	IndexesFile = "indexes.yaml"
)

// MaxFileBytes is the largest file the loader reads. The server's body limit
// is 4 MiB; a larger file could never be applied.
const MaxFileBytes = 4 << 20

// extensions of the files the loader reads, in the order export prefers.
var extensions = []string{".yaml", ".yml", ".json"}

// Location names a line of a file, relative to DIR.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
}

// String returns "file:line", or "file" when the line is unknown.
func (l Location) String() string {
	if l.Line <= 0 {
		return l.File
	}
	return l.File + ":" + strconv.Itoa(l.Line)
}

// Problem is one defect of the directory, at a file and line.
type Problem struct {
	Location
	Message string `json:"message"`
}

// String returns "file:line: message".
func (p Problem) String() string { return p.Location.String() + ": " + p.Message }

// Problems is every defect found in the directory; it is returned as an
// error so that nothing is sent while any remain.
type Problems []Problem

// Error lists every problem, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return fmt.Sprintf("gitops: %d problem(s) in the directory:\n  %s", len(ps), strings.Join(lines, "\n  "))
}

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// Desired is the state a directory declares.
type Desired struct {
	// Dir is the directory that was loaded.
	Dir string
	// Namespaces by name.
	Namespaces map[string]*NamespaceSpec
}

// NamespaceSpec is one namespace directory.
type NamespaceSpec struct {
	Name        string
	Description string
	Loc         Location
	// Schemas maps a schema name to its versions; Schemas[name][i] is
	// version i+1.
	Schemas map[string][]*SchemaSpec
	// Configs by key.
	Configs map[string]*ConfigSpec
}

// SchemaSpec is one schema version file.
type SchemaSpec struct {
	Namespace string
	Name      string
	Version   int
	// Doc is the JSON Schema as compact JSON.
	Doc json.RawMessage
	Loc Location
	// node is the parsed document, for mapping error locations to lines.
	node *yaml.Node
}

// ConfigSpec is one config entry file.
type ConfigSpec struct {
	Namespace     string
	Key           string
	Schema        string
	SchemaVersion int
	// Value is the entry's value as compact JSON, object keys in file order.
	Value json.RawMessage
	Loc   Location
	// schemaLine is the line of the "schema:" field.
	schemaLine int
	// value is the parsed value, for mapping validation pointers to lines.
	value *yaml.Node
}

// SchemaRef returns "name@version".
func (c *ConfigSpec) SchemaRef() string { return api.SchemaRef(c.Schema, c.SchemaVersion) }

var versionFile = regexp.MustCompile(`^v([1-9][0-9]*)$`)

// loader collects problems while walking a directory.
type loader struct {
	dir      string
	problems Problems
}

func (l *loader) problem(file string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{Location: Location{File: file, Line: line}, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) rel(path string) string {
	r, err := filepath.Rel(l.dir, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}

// Load reads the layout below dir. When namespaces is not empty, only those
// namespace directories are read (a named namespace without a directory is a
// problem). Every problem found — files that do not parse, wrong fields,
// unknown schema references, values that fail their schema — is returned
// together as Problems; a nil error means the directory is valid throughout.
func Load(dir string, namespaces []string) (*Desired, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("gitops: %w", err)
	}
	root := filepath.Join(abs, NamespacesDir)
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("gitops: %s: no %s/ directory (the layout keeps one directory per namespace there)", dir, NamespacesDir)
	}
	l := &loader{dir: abs}
	d := &Desired{Dir: abs, Namespaces: map[string]*NamespaceSpec{}}
	want := map[string]bool{}
	for _, ns := range namespaces {
		want[ns] = true
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("gitops: reading %s: %w", root, err)
	}
	for _, e := range entries {
		name := e.Name()
		if hidden(name) {
			continue
		}
		path := filepath.Join(root, name)
		if !e.IsDir() {
			l.problem(l.rel(path), 0, "only namespace directories belong in %s/", NamespacesDir)
			continue
		}
		if len(want) > 0 && !want[name] {
			continue
		}
		if err := api.ValidateName(name); err != nil {
			l.problem(l.rel(path), 0, "directory name is not a namespace name: %v", err)
			continue
		}
		d.Namespaces[name] = l.loadNamespace(path, name)
	}
	for ns := range want {
		if d.Namespaces[ns] == nil && api.ValidateName(ns) == nil {
			l.problem(NamespacesDir+"/"+ns, 0, "--namespace %s: no such namespace directory", ns)
		}
	}
	l.validate(d)
	if len(l.problems) > 0 {
		l.problems.sort()
		return d, l.problems
	}
	return d, nil
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

func (l *loader) loadNamespace(path, name string) *NamespaceSpec {
	ns := &NamespaceSpec{
		Name: name, Loc: Location{File: l.rel(path)},
		Schemas: map[string][]*SchemaSpec{}, Configs: map[string]*ConfigSpec{},
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		l.problem(l.rel(path), 0, "%v", err)
		return ns
	}
	for _, e := range entries {
		p := filepath.Join(path, e.Name())
		switch {
		case hidden(e.Name()):
		case e.Name() == NamespaceFile && !e.IsDir():
			l.loadNamespaceFile(p, ns)
		case e.Name() == SchemasDir && e.IsDir():
			l.loadSchemas(p, ns)
		case e.Name() == ConfigsDir && e.IsDir():
			l.loadConfigs(p, ns)
		default:
			l.problem(l.rel(p), 0, "unexpected here: a namespace directory holds %s, %s/ and %s/", NamespaceFile, SchemasDir, ConfigsDir)
		}
	}
	return ns
}

// readNode reads and parses a file, recording a problem on failure.
func (l *loader) readNode(path string) *yaml.Node {
	rel := l.rel(path)
	st, err := os.Stat(path)
	if err != nil {
		l.problem(rel, 0, "%v", err)
		return nil
	}
	if st.Size() > MaxFileBytes {
		l.problem(rel, 0, "file of %d bytes exceeds %d", st.Size(), MaxFileBytes)
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		l.problem(rel, 0, "%v", err)
		return nil
	}
	n, err := parseYAML(data)
	if err != nil {
		l.lineProblem(rel, err)
		return nil
	}
	return n
}

func (l *loader) lineProblem(rel string, err error) {
	var le *lineError
	if errors.As(err, &le) {
		l.problem(rel, le.line, "%s", le.msg)
		return
	}
	l.problem(rel, 0, "%v", err)
}

func (l *loader) loadNamespaceFile(path string, ns *NamespaceSpec) {
	n := l.readNode(path)
	if n == nil {
		return
	}
	rel := l.rel(path)
	fields, err := mapping(n)
	if err != nil {
		l.lineProblem(rel, err)
		return
	}
	for k, kv := range fields {
		switch k {
		case "description":
			if kv[1].Kind != yaml.ScalarNode || kv[1].ShortTag() != "!!str" {
				l.problem(rel, kv[1].Line, "description must be a string")
				continue
			}
			ns.Description = kv[1].Value
		default:
			l.problem(rel, kv[0].Line, "unknown field %q (a namespace file has: description)", k)
		}
	}
}

func (l *loader) loadSchemas(path string, ns *NamespaceSpec) {
	names, err := os.ReadDir(path)
	if err != nil {
		l.problem(l.rel(path), 0, "%v", err)
		return
	}
	for _, e := range names {
		if hidden(e.Name()) {
			continue
		}
		dir := filepath.Join(path, e.Name())
		if !e.IsDir() {
			l.problem(l.rel(dir), 0, "only schema directories belong in %s/ (one file per version inside: v1.yaml, v2.yaml...)", SchemasDir)
			continue
		}
		if err := api.ValidateName(e.Name()); err != nil {
			l.problem(l.rel(dir), 0, "directory name is not a schema name: %v", err)
			continue
		}
		versions := map[int]*SchemaSpec{}
		files, err := os.ReadDir(dir)
		if err != nil {
			l.problem(l.rel(dir), 0, "%v", err)
			continue
		}
		for _, f := range files {
			p := filepath.Join(dir, f.Name())
			if hidden(f.Name()) {
				continue
			}
			if f.Name() == IndexesFile {
				l.problem(l.rel(p), 0, "index declarations are reserved for a later version of schemakv sync and not read yet")
				continue
			}
			stem, ext := splitExt(f.Name())
			m := versionFile.FindStringSubmatch(stem)
			if f.IsDir() || ext == "" || m == nil {
				l.problem(l.rel(p), 0, "a schema version file is named v<N>.yaml, v<N>.yml or v<N>.json")
				continue
			}
			v, _ := strconv.Atoi(m[1])
			if prev := versions[v]; prev != nil {
				l.problem(l.rel(p), 0, "version %d is also %s", v, prev.Loc.File)
				continue
			}
			n := l.readNode(p)
			if n == nil {
				continue
			}
			doc, err := toJSON(n)
			if err != nil {
				l.lineProblem(l.rel(p), err)
				continue
			}
			versions[v] = &SchemaSpec{Namespace: ns.Name, Name: e.Name(), Version: v, Doc: doc, Loc: Location{File: l.rel(p), Line: n.Line}, node: n}
		}
		// Versions after a gap are reported; the ones before it stay, so
		// the configs pinned to them are still checked.
		var list []*SchemaSpec
		for v := 1; versions[v] != nil; v++ {
			list = append(list, versions[v])
		}
		for v, s := range versions {
			if v > len(list) {
				l.problem(s.Loc.File, 0, "schema versions are numbered 1..N without gaps (the server numbers them in the order they are registered); version %d is missing", len(list)+1)
			}
		}
		if len(list) > 0 {
			ns.Schemas[e.Name()] = list
		}
	}
}

// splitExt returns the name without a known extension, and the extension;
// ext is "" when the name has none of the known ones.
func splitExt(name string) (stem, ext string) {
	for _, e := range extensions {
		if strings.HasSuffix(name, e) && len(name) > len(e) {
			return strings.TrimSuffix(name, e), e
		}
	}
	return name, ""
}

func (l *loader) loadConfigs(root string, ns *NamespaceSpec) {
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			l.problem(l.rel(path), 0, "%v", err)
			return nil
		}
		if path == root {
			return nil
		}
		if hidden(e.Name()) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.IsDir() {
			return nil
		}
		rel := l.rel(path)
		stem, ext := splitExt(e.Name())
		if ext == "" {
			l.problem(rel, 0, "a config file ends in .yaml, .yml or .json")
			return nil
		}
		keyPath, _ := filepath.Rel(root, filepath.Join(filepath.Dir(path), stem))
		key := filepath.ToSlash(keyPath)
		if err := api.ValidateKey(key); err != nil {
			l.problem(rel, 0, "the path gives the key %q: %v", key, err)
			return nil
		}
		if prev := ns.Configs[key]; prev != nil {
			l.problem(rel, 0, "key %q is also %s", key, prev.Loc.File)
			return nil
		}
		if c := l.loadConfig(path, ns.Name, key); c != nil {
			ns.Configs[key] = c
		}
		return nil
	})
	if err != nil {
		l.problem(l.rel(root), 0, "%v", err)
	}
}

func (l *loader) loadConfig(path, ns, key string) *ConfigSpec {
	n := l.readNode(path)
	if n == nil {
		return nil
	}
	rel := l.rel(path)
	fields, err := mapping(n)
	if err != nil {
		l.lineProblem(rel, err)
		return nil
	}
	c := &ConfigSpec{Namespace: ns, Key: key, Loc: Location{File: rel, Line: n.Line}}
	ok := true
	for k, kv := range fields {
		switch k {
		case "schema":
			c.schemaLine = kv[1].Line
			name, v, err := api.ParseSchemaRef(kv[1].Value)
			switch {
			case kv[1].Kind != yaml.ScalarNode:
				l.problem(rel, kv[1].Line, `schema must be "name@version"`)
				ok = false
			case err != nil:
				l.problem(rel, kv[1].Line, "%v", err)
				ok = false
			case v == 0:
				l.problem(rel, kv[1].Line, "schema %q names no version: a config file pins one (%s@1)", kv[1].Value, name)
				ok = false
			}
			c.Schema, c.SchemaVersion = name, v
		case "value":
			val, err := toJSON(kv[1])
			if err != nil {
				l.lineProblem(rel, err)
				ok = false
				continue
			}
			c.Value, c.value = val, kv[1]
		default:
			l.problem(rel, kv[0].Line, "unknown field %q (a config file has: schema, value; the key is the file's path)", k)
			ok = false
		}
	}
	if _, has := fields["schema"]; !has {
		l.problem(rel, n.Line, `no "schema" field: a config file names its schema and version (schema: name@1)`)
		ok = false
	}
	if _, has := fields["value"]; !has {
		l.problem(rel, n.Line, `no "value" field`)
		ok = false
	}
	if !ok {
		return nil
	}
	return c
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
