package layout

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/schemakv/schemakv/api"
)

// fileParser collects the problems of one file.
type fileParser struct {
	file     string
	problems Problems
}

func (f *fileParser) problem(line int, format string, args ...any) {
	f.problems = append(f.problems, Problem{Location: Location{File: f.file, Line: line}, Message: fmt.Sprintf(format, args...)})
}

// lineProblem records an error of the YAML reader at its line.
func (f *fileParser) lineProblem(err error) {
	var le *lineError
	if errors.As(err, &le) {
		f.problem(le.line, "%s", le.msg)
		return
	}
	f.problem(0, "%v", err)
}

func (f *fileParser) parse(data []byte) *yaml.Node {
	n, err := parseYAML(data)
	if err != nil {
		f.lineProblem(err)
		return nil
	}
	return n
}

// ParseConfig parses a config file: file is its path in the layout (for the
// problems' locations), ns and key where Classify places it, data its
// content. The file holds exactly the fields schema ("name@version") and
// value; every defect is returned as Problems (then the spec is nil). The
// value is not checked against its schema (Load does that against the
// layout's schema files; the server against its registered versions).
func ParseConfig(file, ns, key string, data []byte) (*ConfigSpec, Problems) {
	f := &fileParser{file: file}
	c := f.config(ns, key, data)
	if len(f.problems) > 0 {
		return nil, f.problems
	}
	return c, nil
}

func (f *fileParser) config(ns, key string, data []byte) *ConfigSpec {
	n := f.parse(data)
	if n == nil {
		return nil
	}
	fields, err := mapping(n)
	if err != nil {
		f.lineProblem(err)
		return nil
	}
	c := &ConfigSpec{Namespace: ns, Key: key, Loc: Location{File: f.file, Line: n.Line}}
	for k, kv := range fields {
		switch k {
		case "schema":
			c.schemaLine = kv[1].Line
			name, v, err := api.ParseSchemaRef(kv[1].Value)
			switch {
			case kv[1].Kind != yaml.ScalarNode:
				f.problem(kv[1].Line, `schema must be "name@version"`)
			case err != nil:
				f.problem(kv[1].Line, "%v", err)
			case v == 0:
				f.problem(kv[1].Line, "schema %q names no version: a config file pins one (%s@1)", kv[1].Value, name)
			}
			c.Schema, c.SchemaVersion = name, v
		case "value":
			val, err := toJSON(kv[1])
			if err != nil {
				f.lineProblem(err)
				continue
			}
			c.Value, c.value = val, kv[1]
		default:
			f.problem(kv[0].Line, "unknown field %q (a config file has: schema, value; the key is the file's path)", k)
		}
	}
	if _, has := fields["schema"]; !has {
		f.problem(n.Line, `no "schema" field: a config file names its schema and version (schema: name@1)`)
	}
	if _, has := fields["value"]; !has {
		f.problem(n.Line, `no "value" field`)
	}
	return c
}

// ParseSchema parses a schema version file (the JSON Schema document itself,
// in YAML or JSON): file is its path in the layout, ns, name and version
// where Classify places it. The schema is not compiled.
func ParseSchema(file, ns, name string, version int, data []byte) (*SchemaSpec, Problems) {
	f := &fileParser{file: file}
	n := f.parse(data)
	if n == nil {
		return nil, f.problems
	}
	doc, err := toJSON(n)
	if err != nil {
		f.lineProblem(err)
		return nil, f.problems
	}
	return &SchemaSpec{Namespace: ns, Name: name, Version: version, Doc: doc, Loc: Location{File: file, Line: n.Line}, node: n}, nil
}

// parseNamespaceFile parses namespace.yaml and returns its description.
func parseNamespaceFile(file string, data []byte) (string, Problems) {
	f := &fileParser{file: file}
	n := f.parse(data)
	if n == nil {
		return "", f.problems
	}
	fields, err := mapping(n)
	if err != nil {
		f.lineProblem(err)
		return "", f.problems
	}
	desc := ""
	for k, kv := range fields {
		switch k {
		case "description":
			if kv[1].Kind != yaml.ScalarNode || kv[1].ShortTag() != "!!str" {
				f.problem(kv[1].Line, "description must be a string")
				continue
			}
			desc = kv[1].Value
		default:
			f.problem(kv[0].Line, "unknown field %q (a namespace file has: description)", k)
		}
	}
	return desc, f.problems
}
