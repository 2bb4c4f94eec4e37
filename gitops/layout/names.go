package layout

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/schemakv/schemakv/api"
)

// Names of the layout (see the documentation of package gitops).
const (
	// NamespacesDir is the directory below the root that holds one directory
	// per namespace.
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
	// JSON-path indexes. See the documentation of package gitops.
	IndexesFile = "indexes.yaml"
)

// extensions of the files the layout reads.
var extensions = []string{".yaml", ".yml", ".json"}

var versionFile = regexp.MustCompile(`^v([1-9][0-9]*)$`)

// Kind is what a path of the layout holds.
type Kind int

// Kinds of paths.
const (
	// KindSkip is a path the layout does not read: a hidden name (".git",
	// ".gitkeep") anywhere in it — except a key's segment below configs/,
	// see Classify — or anything outside namespaces/.
	KindSkip Kind = iota
	// KindDir is a directory the layout allows: namespaces/, a namespace,
	// its schemas/ and configs/, a schema's directory, or a directory below
	// configs/ (part of a key).
	KindDir
	// KindNamespace is namespaces/<ns>/namespace.yaml.
	KindNamespace
	// KindSchema is namespaces/<ns>/schemas/<name>/v<N>.yaml|.yml|.json.
	KindSchema
	// KindConfig is namespaces/<ns>/configs/<key>.yaml|.yml|.json.
	KindConfig
)

// Path is what Classify makes of a path.
type Path struct {
	Kind Kind
	// Namespace is set for every kind but KindSkip, except for namespaces/
	// itself.
	Namespace string
	// Schema and Version name a schema version file (KindSchema); Schema is
	// also set for a schema's directory.
	Schema  string
	Version int
	// Key is the key a config file holds (KindConfig).
	Key string
}

// Classify says what the file (dir false) or directory (dir true) at p is in
// the layout. p is slash-separated and relative to the layout's root, as an
// fs.FS names files ("namespaces/shop/configs/api/limits.yaml"). A path the
// layout does not allow is a *Problem located at the part of the path that
// is wrong: the path itself, or the directory above it that the layout does
// not allow (so a directory's problem is the same for every file below it).
func Classify(p string, dir bool) (Path, *Problem) {
	parts := strings.Split(p, "/")
	for i, c := range parts {
		if hidden(c) && !keyPart(parts, i, dir) {
			return Path{Kind: KindSkip}, nil
		}
	}
	if parts[0] != NamespacesDir {
		return Path{Kind: KindSkip}, nil
	}
	n := len(parts)
	// isDir reports whether parts[i] is a directory.
	isDir := func(i int) bool { return i < n-1 || dir }
	at := func(upto int, format string, args ...any) (Path, *Problem) {
		return Path{}, &Problem{Location: Location{File: strings.Join(parts[:upto], "/")}, Message: fmt.Sprintf(format, args...)}
	}
	if n == 1 {
		if !dir {
			return at(1, "%s must be a directory, with one directory per namespace inside", NamespacesDir)
		}
		return Path{Kind: KindDir}, nil
	}
	ns := parts[1]
	if !isDir(1) {
		return at(2, "only namespace directories belong in %s/", NamespacesDir)
	}
	if err := api.ValidateName(ns); err != nil {
		return at(2, "directory name is not a namespace name: %v", err)
	}
	if n == 2 {
		return Path{Kind: KindDir, Namespace: ns}, nil
	}
	switch parts[2] {
	case NamespaceFile:
		if n == 3 && !dir {
			return Path{Kind: KindNamespace, Namespace: ns}, nil
		}
	case SchemasDir:
		if !isDir(2) {
			break
		}
		if n == 3 {
			return Path{Kind: KindDir, Namespace: ns}, nil
		}
		name := parts[3]
		if !isDir(3) {
			return at(4, "only schema directories belong in %s/ (one file per version inside: v1.yaml, v2.yaml...)", SchemasDir)
		}
		if err := api.ValidateName(name); err != nil {
			return at(4, "directory name is not a schema name: %v", err)
		}
		if n == 4 {
			return Path{Kind: KindDir, Namespace: ns, Schema: name}, nil
		}
		if parts[4] == IndexesFile {
			return at(5, "index declarations are reserved for a later version of schemakv sync and not read yet")
		}
		stem, ext := splitExt(parts[4])
		m := versionFile.FindStringSubmatch(stem)
		if isDir(4) || ext == "" || m == nil {
			return at(5, "a schema version file is named v<N>.yaml, v<N>.yml or v<N>.json")
		}
		v, err := strconv.Atoi(m[1])
		if err != nil {
			return at(5, "version number %s is too large", m[1])
		}
		return Path{Kind: KindSchema, Namespace: ns, Schema: name, Version: v}, nil
	case ConfigsDir:
		if !isDir(2) {
			break
		}
		if dir {
			return Path{Kind: KindDir, Namespace: ns}, nil
		}
		stem, ext := splitExt(parts[n-1])
		if ext == "" {
			return at(n, "a config file ends in .yaml, .yml or .json")
		}
		key := stem
		if n > 4 {
			key = strings.Join(parts[3:n-1], "/") + "/" + stem
		}
		if err := api.ValidateKey(key); err != nil {
			return at(n, "the path gives the key %q: %v", key, err)
		}
		return Path{Kind: KindConfig, Namespace: ns, Key: key}, nil
	}
	return at(3, "unexpected here: a namespace directory holds %s, %s/ and %s/", NamespaceFile, SchemasDir, ConfigsDir)
}

// hidden reports whether a file or directory name is skipped (unless it is
// part of a key: see keyPart).
func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// keyPart reports whether parts[i], a hidden name, is a segment of a config
// key: the API allows keys such as "a/.b", and export writes them as
// configs/a/.b.yaml, so below configs/ a directory with a leading dot is
// part of a key and a file with one is a config file when it has a config
// extension. Other hidden files there (".gitkeep", ".DS_Store", an editor's
// ".x.yaml.swp") are still skipped.
func keyPart(parts []string, i int, dir bool) bool {
	if i < 3 || parts[0] != NamespacesDir || parts[2] != ConfigsDir {
		return false
	}
	if i < len(parts)-1 || dir {
		return true
	}
	_, ext := splitExt(parts[i])
	return ext != ""
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
