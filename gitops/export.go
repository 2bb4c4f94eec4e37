package gitops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/gitops/layout"
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
		if err := writeYAML(filepath.Join(nsDir, NamespaceFile), n); err != nil {
			return res, err
		}
		for _, sname := range sortedKeys(ns.Schemas) {
			for _, v := range ns.Schemas[sname] {
				p := filepath.Join(nsDir, SchemasDir, sname, "v"+strconv.Itoa(v.Version)+"."+format)
				if err := writeValue(p, v.Schema, format); err != nil {
					return res, fmt.Errorf("gitops: export: schema %s/%s@%d: %w", name, sname, v.Version, err)
				}
				res.SchemaVersions++
			}
		}
		for _, key := range sortedKeys(ns.Configs) {
			e := ns.Configs[key]
			ref := e.Schema + "@" + strconv.Itoa(e.SchemaVersion)
			// The file holds {"schema": ref, "value": value}, in this order.
			doc := []byte(`{"schema":` + quoteJSON(ref) + `,"value":` + string(e.Value) + `}`)
			p := filepath.Join(nsDir, ConfigsDir, filepath.FromSlash(key)+"."+format)
			if err := writeValue(p, doc, format); err != nil {
				return res, fmt.Errorf("gitops: export: config %s/%s: %w", name, key, err)
			}
			res.Configs++
		}
		res.Namespaces++
	}
	return res, nil
}

// writeValue writes a JSON document as indented JSON, or as YAML.
func writeValue(path string, doc []byte, format string) error {
	n, err := fromJSON(doc)
	if err != nil {
		return err
	}
	if format == FormatJSON {
		raw, err := layout.NodeToJSON(n)
		if err != nil {
			return err
		}
		return writeFile(path, []byte(indentedJSON(raw)))
	}
	return writeYAML(path, n)
}

// writeYAML writes n as a YAML document.
func writeYAML(path string, n *yaml.Node) error {
	b, err := encodeYAML(n)
	if err != nil {
		return err
	}
	return writeFile(path, b)
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("gitops: export: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("gitops: export: %w", err)
	}
	return nil
}
