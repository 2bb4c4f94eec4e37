package layout

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		path string
		dir  bool
		want Path
		// problem, when set, is "file: message prefix".
		problem string
	}{
		{path: "README.md", want: Path{Kind: KindSkip}},
		{path: ".git/config", want: Path{Kind: KindSkip}},
		// Below configs/, a leading dot is a key's segment (the API allows
		// "a/.b", export writes it so); other hidden files are skipped.
		{path: "namespaces/shop/configs/.hidden/x.yaml", want: Path{Kind: KindConfig, Namespace: "shop", Key: ".hidden/x"}},
		{path: "namespaces/shop/configs/a/.b.yaml", want: Path{Kind: KindConfig, Namespace: "shop", Key: "a/.b"}},
		{path: "namespaces/shop/configs/.hidden", dir: true, want: Path{Kind: KindDir, Namespace: "shop"}},
		{path: "namespaces/shop/configs/.gitkeep", want: Path{Kind: KindSkip}},
		{path: "namespaces/shop/configs/a/.b.yaml.swp", want: Path{Kind: KindSkip}},
		{path: "namespaces/shop/configs/.yaml", want: Path{Kind: KindSkip}},
		{path: "namespaces/shop/.hidden/x.yaml", want: Path{Kind: KindSkip}},
		{path: "namespaces/shop/schemas/.draft/v1.yaml", want: Path{Kind: KindSkip}},
		{path: "namespaces/.shop/configs/a.yaml", want: Path{Kind: KindSkip}},
		{path: "namespaces/.gitkeep", want: Path{Kind: KindSkip}},
		{path: "namespaces", dir: true, want: Path{Kind: KindDir}},
		{path: "namespaces", problem: "namespaces: namespaces must be a directory"},
		{path: "namespaces/shop", dir: true, want: Path{Kind: KindDir, Namespace: "shop"}},
		{path: "namespaces/x.yaml", problem: "namespaces/x.yaml: only namespace directories"},
		{path: "namespaces/Shop/configs/a.yaml", problem: "namespaces/Shop: directory name is not a namespace name"},
		{path: "namespaces/shop/namespace.yaml", want: Path{Kind: KindNamespace, Namespace: "shop"}},
		{path: "namespaces/shop/namespace.yaml", dir: true, problem: "namespaces/shop/namespace.yaml: unexpected here"},
		{path: "namespaces/shop/config/a.yaml", problem: "namespaces/shop/config: unexpected here"},
		{path: "namespaces/shop/schemas", problem: "namespaces/shop/schemas: unexpected here"},
		{path: "namespaces/shop/schemas/limits", dir: true, want: Path{Kind: KindDir, Namespace: "shop", Schema: "limits"}},
		{path: "namespaces/shop/schemas/limits.yaml", problem: "namespaces/shop/schemas/limits.yaml: only schema directories"},
		{path: "namespaces/shop/schemas/Bad/v1.yaml", problem: "namespaces/shop/schemas/Bad: directory name is not a schema name"},
		{path: "namespaces/shop/schemas/limits/v12.yml", want: Path{Kind: KindSchema, Namespace: "shop", Schema: "limits", Version: 12}},
		{path: "namespaces/shop/schemas/limits/v0.yaml", problem: "namespaces/shop/schemas/limits/v0.yaml: a schema version file is named"},
		{path: "namespaces/shop/schemas/limits/v1.yaml/x", problem: "namespaces/shop/schemas/limits/v1.yaml: a schema version file is named"},
		{path: "namespaces/shop/schemas/limits/v99999999999999999999.yaml", problem: "namespaces/shop/schemas/limits/v99999999999999999999.yaml: version number"},
		{path: "namespaces/shop/schemas/limits/indexes.yaml", problem: "namespaces/shop/schemas/limits/indexes.yaml: index declarations are reserved"},
		{path: "namespaces/shop/configs", dir: true, want: Path{Kind: KindDir, Namespace: "shop"}},
		{path: "namespaces/shop/configs/a/b", dir: true, want: Path{Kind: KindDir, Namespace: "shop"}},
		{path: "namespaces/shop/configs/api/limits.json", want: Path{Kind: KindConfig, Namespace: "shop", Key: "api/limits"}},
		{path: "namespaces/shop/configs/top.yaml", want: Path{Kind: KindConfig, Namespace: "shop", Key: "top"}},
		{path: "namespaces/shop/configs/g.txt", problem: "namespaces/shop/configs/g.txt: a config file ends in .yaml"},
		{path: "namespaces/shop/configs/a//b.yaml", problem: `namespaces/shop/configs/a//b.yaml: the path gives the key "a//b"`},
	} {
		got, p := Classify(tt.path, tt.dir)
		if tt.problem != "" {
			if p == nil || !strings.HasPrefix(p.String(), tt.problem) {
				t.Errorf("Classify(%q, %v) = %+v, %v; want problem %q", tt.path, tt.dir, got, p, tt.problem)
			}
			continue
		}
		if p != nil || got != tt.want {
			t.Errorf("Classify(%q, %v) = %+v, %v; want %+v", tt.path, tt.dir, got, p, tt.want)
		}
	}
}

// Load reads any fs.FS, not only a directory.
func TestLoad_MapFS(t *testing.T) {
	fsys := fstest.MapFS{
		"namespaces/shop/schemas/s/v1.yaml": {Data: []byte("type: object\nproperties: {n: {type: integer}}\n")},
		"namespaces/shop/configs/a/b.yaml":  {Data: []byte("schema: s@1\nvalue: {n: 1}\n")},
		"namespaces/shop/configs/bad.yaml":  {Data: []byte("schema: s@1\nvalue:\n  n: one\n")},
	}
	d, err := Load(fsys, nil)
	ps, ok := err.(Problems)
	if !ok || len(ps) != 1 || ps[0].String() != "namespaces/shop/configs/bad.yaml:3: value at /n fails s@1: expected integer, but got string (/properties/n/type)" {
		t.Fatalf("Load = %v", err)
	}
	if c := d.Namespaces["shop"].Configs["a/b"]; c == nil || string(c.Value) != `{"n":1}` {
		t.Fatalf("a/b = %+v", c)
	}
}

func TestParseConfig(t *testing.T) {
	c, ps := ParseConfig("f.yaml", "ns", "k", []byte("# comment\nschema: s@2\nvalue:\n  a:\n    - 1\n    - x\n"))
	if ps != nil || c.SchemaRef() != "s@2" || string(c.Value) != `{"a":[1,"x"]}` || c.ValueLine("/a/1") != 6 || c.SchemaLine() != 2 {
		t.Fatalf("ParseConfig = %+v, %v", c, ps)
	}
	_, ps = ParseConfig("f.yaml", "ns", "k", []byte("value: 1\nextra: 2\n"))
	if len(ps) != 2 || ps.Error() == "" {
		t.Fatalf("problems = %v", ps)
	}
}
