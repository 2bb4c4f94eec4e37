package layout

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/schemakv/schemakv/api"
)

// MaxFileBytes is the largest file Load reads. The server's body limit is
// 4 MiB; a larger file could never be applied.
const MaxFileBytes = 4 << 20

// MaxValueBytes is the server's default limit on one config value; a larger
// value is a problem of the directory rather than a failed batch.
const MaxValueBytes = 512 << 10

// MaxJSONDepth is the server's default limit on the nesting of a request
// body. It applies to the whole body, so a value inside a batch request
// ({"ops": [{"value": ...}]}) has batchEnvelopeDepth levels fewer.
const MaxJSONDepth = 64

const batchEnvelopeDepth = 3

// Location names a line of a file, relative to the layout's root.
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

// Problem is one defect of the layout, at a file and line.
type Problem struct {
	Location
	Message string `json:"message"`
}

// String returns "file:line: message".
func (p Problem) String() string { return p.Location.String() + ": " + p.Message }

// Problems is every defect found; it is returned as an error so that nothing
// is sent while any remain.
type Problems []Problem

// Error lists every problem, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return fmt.Sprintf("gitops: %d problem(s) in the directory:\n  %s", len(ps), strings.Join(lines, "\n  "))
}

// Sort orders the problems by file, then line.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// Desired is the state a layout declares.
type Desired struct {
	// Dir is the directory that was loaded, when it was one.
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

// SchemaText serves the namespace's schema files to the schema compiler
// (it implements schema.Source), so that "$ref": "other@2" resolves against
// the layout, as it will against the server once the files are registered.
func (ns *NamespaceSpec) SchemaText(namespace, name string, version int) ([]byte, bool) {
	if namespace != ns.Name {
		return nil, false
	}
	vs := ns.Schemas[name]
	if version < 1 || version > len(vs) {
		return nil, false
	}
	return vs[version-1].Doc, true
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

// ValueLine returns the line of the file that holds the value at a JSON
// pointer below the config's value ("" is the value itself), or of the
// deepest part of that path the value has; 0 when unknown.
func (c *ConfigSpec) ValueLine(pointer string) int { return lineOf(c.value, pointer) }

// SchemaLine returns the line of the file's "schema:" field.
func (c *ConfigSpec) SchemaLine() int { return c.schemaLine }
