// Package gitops keeps namespaces, schema versions and config entries in a
// directory — usually a Git repository — and makes a server match it: Load
// reads and checks the directory, Fetch reads the server, Compute makes a
// Plan, Apply carries it out, Export writes a server's state back in the
// layout and Watch re-applies when the work tree's commit changes. It talks
// to the server only through the Go client (package client) and validates
// locally with package schema, exactly as the server does.
//
// # Layout
//
//	DIR/
//	  namespaces/
//	    <namespace>/                      a lowercase DNS label
//	      namespace.yaml                  optional: "description: ..."
//	      schemas/
//	        <name>/
//	          v1.yaml                     the JSON Schema of version 1
//	          v2.json                     version 2 (YAML or JSON)
//	      configs/
//	        <key>.yaml                    the key is the path below configs/
//	                                      without the extension:
//	                                      configs/checkout/eu.yaml is "checkout/eu"
//
// Files end in .yaml, .yml or .json; YAML may carry comments. Names starting
// with "." (.git, .gitkeep) are skipped, except below configs/, where a key
// may have a segment starting with a dot (configs/a/.b.yaml is "a/.b"): there
// dot directories are read and dot files are configs when they end in a
// config extension. Anything else that the layout does not name is a
// problem, so a misspelt directory is not silently ignored.
//
// A config file holds exactly two fields:
//
//	schema: checkout@1      # the schema and the version the entry is pinned to
//	value:                  # the entry's value, any JSON value
//	  timeout_ms: 2500
//
// The key comes from the path alone (a file cannot state another one), so a
// key can never be declared twice and a file's name says where it goes.
// A schema version file holds the JSON Schema document itself. Versions are
// numbered v1..vN without gaps because the server numbers them in the order
// they are registered; a file that differs from the version the server
// already has under its number is a problem (versions are immutable: add the
// change as the next version).
//
// YAML values are the JSON-compatible subset: string keys, no merge keys, no
// infinities or NaN; aliases are expanded; key order is kept; integer and
// decimal literals keep their exact digits (hexadecimal, octal and binary
// integers are converted).
//
// # Indexes (extension point)
//
// Declared JSON-path indexes are a property of a schema. Their file is
// reserved: schemas/<name>/indexes.yaml (IndexesFile). This version reports
// that file as a problem rather than ignoring it; the index support slots in
// at layout.Classify and layout.Load (read it next to the version files), at
// Compute (a change to declare, next to SchemaChange) and at Apply (after
// the schema versions, before the configs).
//
// # Validation
//
// Load reports every problem of the directory at once, each with its file
// and line (Problems): files that do not parse, unknown or missing fields,
// keys and names the server would refuse, schema files that do not compile,
// configs naming a schema version the directory lacks, values over the
// server's default size (512 KiB) or nesting (64 levels for the whole batch
// request, so 61 for a value) limits, and values that fail their schema — checked with package schema against the schema files, with
// object schemas closed by default like the server's. Nothing is sent while
// any problem remains. Lines of validation failures point at the failing
// field in the file.
//
// # Plan and apply
//
// The managed namespaces are those with a directory (or the ones named). In
// each, Compute lists the namespace to create, the schema versions to
// register (with a dry run of the configs pinned to the version before; see
// SchemaDryRun) and the configs to create or update (with a unified diff of
// the canonical JSON of the values). Entries only the server has are listed
// as unmanaged and kept unless PlanOptions.Prune is set, when they are
// deleted. Namespaces the directory does not have are never touched, and
// namespaces and schema versions are never deleted.
//
// Apply creates namespaces, registers schema versions in order (each only if
// the server's latest version is still the one before it), then writes the
// configs through POST /v1/batch: as few batches as the limits allow (1,000
// operations, 4 MiB), each atomic, each operation conditional on the modify
// revision the plan saw (0 for a create). An edit made through the API after
// the plan fails that condition: Apply stops and returns a *ConflictError
// naming every changed entry; nothing is overwritten. Batches are separate
// transactions, so a plan larger than one batch that meets a conflict in a
// later batch leaves the earlier ones applied; planning again shows the rest.
// The reason recorded with every write is Plan.Reason, which the CLI sets to
// the Git commit of the directory ("git <hash> <subject>").
//
// A saved plan (SavePlan, LoadPlan) applies exactly as it was shown: Apply
// reads only the plan, never the directory.
//
// # Package layout
//
// Which path holds what (layout.Classify), the parsing of one file from its
// bytes (layout.ParseConfig, layout.ParseSchema) and the whole tree read from
// an fs.FS (layout.Load, which Load calls on the directory) live in package
// gitops/layout, which imports neither the client nor this package: the
// server reads a tar of the layout (POST /v1/imports?format=tar) with the
// same functions, so a file means the same to sync and to an import.
//
// # Concurrency
//
// The functions hold no shared state and are safe to call concurrently on
// different directories; two Applys against one server are kept apart by the
// compare-and-set conditions, not by this package.
package gitops
