package layout

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/jsonutil"
	"github.com/schemakv/schemakv/schema"
)

// validate compiles every schema file and validates every config file
// against the schema version it names, the way the server does (object
// schemas closed by default), recording a problem for each failure.
func (l *loader) validate(d *Desired) {
	cache := schema.NewCache(schema.DefaultConfig())
	for _, nsName := range slices.Sorted(maps.Keys(d.Namespaces)) {
		ns := d.Namespaces[nsName]
		src := ns
		compiled := map[string]*schema.Schema{}
		for _, name := range slices.Sorted(maps.Keys(ns.Schemas)) {
			for _, s := range ns.Schemas[name] {
				if err := jsonutil.Check(s.Doc, MaxJSONDepth-1); err != nil {
					l.problem(s.Loc.File, s.Loc.Line, "schema nested more than %d levels: the server's limit of %d counts the request around it", MaxJSONDepth-1, MaxJSONDepth)
					continue
				}
				c, err := cache.Compile(ns.Name, name, s.Version, s.Doc, src)
				if err != nil {
					l.problem(s.Loc.File, schemaErrorLine(s, err), "%v", err)
					continue
				}
				compiled[api.SchemaRef(name, s.Version)] = c
			}
		}
		for _, key := range slices.Sorted(maps.Keys(ns.Configs)) {
			c := ns.Configs[key]
			ref := c.SchemaRef()
			vs := ns.Schemas[c.Schema]
			if c.SchemaVersion > len(vs) {
				what := fmt.Sprintf("no file %s/%s/%s/%s/v%d.yaml", NamespacesDir, ns.Name, SchemasDir, c.Schema, c.SchemaVersion)
				l.problem(c.Loc.File, c.schemaLine, "unknown schema %s in namespace %s (%s)", ref, ns.Name, what)
				continue
			}
			if err := jsonutil.Check(c.Value, MaxJSONDepth-batchEnvelopeDepth); err != nil {
				l.problem(c.Loc.File, lineOf(c.value, ""), "value nested more than %d levels: the server's limit of %d counts the batch request around it", MaxJSONDepth-batchEnvelopeDepth, MaxJSONDepth)
				continue
			}
			if len(c.Value) > MaxValueBytes {
				l.problem(c.Loc.File, lineOf(c.value, ""), "value of %d bytes (as JSON) exceeds the server's default limit of %d", len(c.Value), MaxValueBytes)
				continue
			}
			sch := compiled[ref]
			if sch == nil {
				l.problem(c.Loc.File, c.schemaLine, "schema %s does not compile (see %s)", ref, vs[c.SchemaVersion-1].Loc.File)
				continue
			}
			errs, total, err := sch.Validate(c.Value)
			if err != nil {
				l.problem(c.Loc.File, lineOf(c.value, ""), "%v", err)
				continue
			}
			for _, fe := range errs {
				l.problem(c.Loc.File, lineOf(c.value, fe.Pointer), "value%s fails %s: %s (%s)", pointerSuffix(fe.Pointer), ref, fe.Message, fe.Keyword)
			}
			if total > len(errs) {
				l.problem(c.Loc.File, lineOf(c.value, ""), "and %d more validation errors", total-len(errs))
			}
		}
	}
}

// schemaPointer finds the location a schema compile error names, such as
// "schema: invalid schema: /properties/port/minimum: expected number".
var schemaPointer = regexp.MustCompile(`: (/[^\s:]*): `)

// schemaErrorLine is the line of the schema file that a compile error
// points at, or the document's first line.
func schemaErrorLine(s *SchemaSpec, err error) int {
	if m := schemaPointer.FindStringSubmatch(err.Error()); m != nil {
		if line := lineOf(s.node, m[1]); line > 0 {
			return line
		}
	}
	return s.Loc.Line
}

func pointerSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " at " + p
}
