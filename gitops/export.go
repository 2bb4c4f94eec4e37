package gitops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/schemakv/schemakv/client"
)

// Export formats.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// ExportOptions tunes Export.
type ExportOptions struct {
	// Namespaces to export; empty means every namespace on the server.
	Namespaces []string
	// Format of the files written: FormatYAML (default) or FormatJSON.
	Format string
	// Progress, when set, is called with the number of config entries read
	// so far as Export lists them.
	Progress func(configs int)
}

// ExportResult counts what Export wrote.
type ExportResult struct {
	Namespaces     int `json:"namespaces"`
	SchemaVersions int `json:"schema_versions"`
	Configs        int `json:"configs"`
}

// Export writes the server's namespaces, schema versions and config entries
// below dir in the layout that Load reads, so that a plan of the exported
// directory shows no change. Each exported namespace directory is replaced
// as a whole (files the server does not have are removed); other namespace
// directories are left alone.
func Export(ctx context.Context, c *client.Client, dir string, opts ExportOptions) (*ExportResult, error) {
	format := opts.Format
	if format == "" {
		format = FormatYAML
	}
	if format != FormatYAML && format != FormatJSON {
		return nil, fmt.Errorf("gitops: unknown export format %q (yaml or json)", format)
	}
	seen := 0
	st, err := Fetch(ctx, c, opts.Namespaces, func(n int) {
		seen += n
		if opts.Progress != nil {
			opts.Progress(seen)
		}
	})
	if err != nil {
		return nil, err
	}
	for _, ns := range opts.Namespaces {
		if st.Namespaces[ns] == nil {
			return nil, fmt.Errorf("gitops: export: namespace %s does not exist on the server", ns)
		}
	}
	res := &ExportResult{}
	root := filepath.Join(dir, NamespacesDir)
	for _, name := range sortedKeys(st.Namespaces) {
		ns := st.Namespaces[name]
		nsDir := filepath.Join(root, name)
		if err := os.RemoveAll(nsDir); err != nil {
			return res, fmt.Errorf("gitops: export: clearing %s: %w", nsDir, err)
		}
		if err := os.MkdirAll(nsDir, 0o755); err != nil {
			return res, fmt.Errorf("gitops: export: %w", err)
		}
		// Written even without a description: Git keeps no empty
		// directory, and an exported namespace must survive a commit.
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{strNode("description"), strNode(ns.Description)}}
		if err := writeNode(filepath.Join(nsDir, NamespaceFile), n, FormatYAML); err != nil {
			return res, err
		}
		for _, sname := range sortedKeys(ns.Schemas) {
			for _, v := range ns.Schemas[sname] {
				n, err := fromJSON(v.Schema)
				if err != nil {
					return res, fmt.Errorf("gitops: export: schema %s/%s@%d: %w", name, sname, v.Version, err)
				}
				p := filepath.Join(nsDir, SchemasDir, sname, "v"+strconv.Itoa(v.Version)+"."+format)
				if err := writeNode(p, n, format); err != nil {
					return res, err
				}
				res.SchemaVersions++
			}
		}
		for _, key := range sortedKeys(ns.Configs) {
			e := ns.Configs[key]
			val, err := fromJSON(e.Value)
			if err != nil {
				return res, fmt.Errorf("gitops: export: config %s/%s: %w", name, key, err)
			}
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
				strNode("schema"), strNode(e.Schema + "@" + strconv.Itoa(e.SchemaVersion)),
				strNode("value"), val,
			}}
			p := filepath.Join(nsDir, ConfigsDir, filepath.FromSlash(key)+"."+format)
			if err := writeNode(p, n, format); err != nil {
				return res, err
			}
			res.Configs++
		}
		res.Namespaces++
	}
	return res, nil
}

// writeNode writes n as YAML or as indented JSON.
func writeNode(path string, n *yaml.Node, format string) error {
	var data []byte
	if format == FormatJSON {
		raw, err := toJSON(n)
		if err != nil {
			return fmt.Errorf("gitops: export: %s: %w", path, err)
		}
		data = []byte(indentedJSON(raw))
	} else {
		b, err := encodeYAML(n)
		if err != nil {
			return err
		}
		data = b
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("gitops: export: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("gitops: export: %w", err)
	}
	return nil
}
