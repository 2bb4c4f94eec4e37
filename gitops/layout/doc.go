// Package layout reads the GitOps directory layout (documented in package
// gitops): which path of the layout holds what (Classify), the parsing of
// one file from its bytes (ParseConfig, ParseSchema), and the whole tree
// read from an fs.FS and checked against its own schema files (Load).
//
// It is the part of gitops that the server needs too: the import of a tar of
// the layout (httpapi) classifies and parses each file of the archive with
// Classify and ParseConfig, so a file means the same in `schemakv sync` and
// in an import. It imports only api, schema and internal packages — not the
// client — so that the server can use it.
//
// The functions hold no shared state and are safe for concurrent use.
package layout
