package layout

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/schemakv/schemakv/api"
)

// loader collects problems while walking a tree.
type loader struct {
	fsys     fs.FS
	problems Problems
}

func (l *loader) problem(file string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{Location: Location{File: file, Line: line}, Message: fmt.Sprintf(format, args...)})
}

// Load reads the layout at the root of fsys (which holds namespaces/). When
// namespaces is not empty, only those namespace directories are read (a
// named namespace without a directory is a problem). Every problem found —
// paths the layout does not allow (see Classify), files that do not parse,
// wrong fields, unknown schema references, values that fail their schema —
// is returned together as Problems; a nil error means the layout is valid
// throughout. Other errors mean there is no layout at all.
func Load(fsys fs.FS, namespaces []string) (*Desired, error) {
	if st, err := fs.Stat(fsys, NamespacesDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("layout: no %s/ directory (the layout keeps one directory per namespace there)", NamespacesDir)
	}
	l := &loader{fsys: fsys}
	d := &Desired{Namespaces: map[string]*NamespaceSpec{}}
	want := map[string]bool{}
	for _, ns := range namespaces {
		want[ns] = true
	}
	// versions collects each schema's version files before the gap check.
	versions := map[*NamespaceSpec]map[string]map[int]*SchemaSpec{}
	walkErr := fs.WalkDir(fsys, NamespacesDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			l.problem(p, 0, "%v", err)
			return nil
		}
		if e.IsDir() && len(want) > 0 && strings.Count(p, "/") == 1 && !want[strings.TrimPrefix(p, NamespacesDir+"/")] {
			return fs.SkipDir
		}
		path, prob := Classify(p, e.IsDir())
		if prob != nil {
			l.problems = append(l.problems, *prob)
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		ns := d.Namespaces[path.Namespace]
		switch path.Kind {
		case KindSkip:
			if e.IsDir() {
				return fs.SkipDir
			}
		case KindDir:
			if path.Namespace != "" && ns == nil {
				d.Namespaces[path.Namespace] = &NamespaceSpec{
					Name: path.Namespace, Loc: Location{File: p},
					Schemas: map[string][]*SchemaSpec{}, Configs: map[string]*ConfigSpec{},
				}
			}
		case KindNamespace:
			if data := l.read(p); data != nil {
				desc, ps := parseNamespaceFile(p, data)
				ns.Description = desc
				l.problems = append(l.problems, ps...)
			}
		case KindSchema:
			if versions[ns] == nil {
				versions[ns] = map[string]map[int]*SchemaSpec{}
			}
			vs := versions[ns][path.Schema]
			if vs == nil {
				vs = map[int]*SchemaSpec{}
				versions[ns][path.Schema] = vs
			}
			if prev := vs[path.Version]; prev != nil {
				l.problem(p, 0, "version %d is also %s", path.Version, prev.Loc.File)
				return nil
			}
			if data := l.read(p); data != nil {
				s, ps := ParseSchema(p, ns.Name, path.Schema, path.Version, data)
				l.problems = append(l.problems, ps...)
				if s != nil {
					vs[path.Version] = s
				}
			}
		case KindConfig:
			if prev := ns.Configs[path.Key]; prev != nil {
				l.problem(p, 0, "key %q is also %s", path.Key, prev.Loc.File)
				return nil
			}
			if data := l.read(p); data != nil {
				c, ps := ParseConfig(p, ns.Name, path.Key, data)
				l.problems = append(l.problems, ps...)
				if c != nil {
					ns.Configs[path.Key] = c
				}
			}
		}
		return nil
	})
	if walkErr != nil {
		l.problem(NamespacesDir, 0, "%v", walkErr)
	}
	for ns, byName := range versions {
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			vs := byName[name]
			// Versions after a gap are reported; the ones before it stay,
			// so the configs pinned to them are still checked.
			var list []*SchemaSpec
			for v := 1; vs[v] != nil; v++ {
				list = append(list, vs[v])
			}
			for v, s := range vs {
				if v > len(list) {
					l.problem(s.Loc.File, 0, "schema versions are numbered 1..N without gaps (the server numbers them in the order they are registered); version %d is missing", len(list)+1)
				}
			}
			if len(list) > 0 {
				ns.Schemas[name] = list
			}
		}
	}
	for ns := range want {
		if d.Namespaces[ns] == nil && api.ValidateName(ns) == nil {
			l.problem(NamespacesDir+"/"+ns, 0, "--namespace %s: no such namespace directory", ns)
		}
	}
	l.validate(d)
	if len(l.problems) > 0 {
		l.problems.Sort()
		return d, l.problems
	}
	return d, nil
}

// read reads a file of the layout, recording a problem on failure.
func (l *loader) read(p string) []byte {
	st, err := fs.Stat(l.fsys, p)
	if err != nil {
		l.problem(p, 0, "%v", err)
		return nil
	}
	if st.Size() > MaxFileBytes {
		l.problem(p, 0, "file of %d bytes exceeds %d", st.Size(), MaxFileBytes)
		return nil
	}
	data, err := fs.ReadFile(l.fsys, p)
	if err != nil {
		l.problem(p, 0, "%v", err)
		return nil
	}
	return data
}
