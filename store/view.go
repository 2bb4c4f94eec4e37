package store

import (
	"bytes"

	iradix "github.com/hashicorp/go-immutable-radix/v2"
	"github.com/schemakv/schemakv/api"
)

// View is an immutable snapshot of the read model at one applied revision.
// Pointers it returns are shared and must not be modified.
type View struct {
	applied    uint64
	namespaces *iradix.Tree[*api.Namespace]     // name
	schemas    *iradix.Tree[*api.SchemaVersion] // ns \0 name \0 be32(version)
	configs    *iradix.Tree[*api.ConfigEntry]   // ns \0 key

	// Tombstones and the last event revision give answers a revision that
	// rises on deletes (watch_revision.go).
	ctombs    *iradix.Tree[uint64] // ns \0 key -> revision of the delete
	ntombs    *iradix.Tree[uint64] // namespace -> revision of its delete
	lastEvent uint64               // revision of the newest event
	// cfgrev is, per namespace, the newest revision of a config put or
	// delete in it: the maximum over configs and ctombs under the
	// namespace, kept so that answers about a whole namespace do not visit
	// every entry (derived: rebuilt on load, not written to bbolt).
	cfgrev *iradix.Tree[uint64] // namespace -> revision
	floors *iradix.Tree[uint64] // namespace -> newest reaped config tombstone

	imports  *importState             // bulk import jobs (imports.go)
	evo      evoTrees                 // schema policies, pin statistics, migrations (evolution.go)
	indexes  *iradix.Tree[*api.Index] // ns \0 name (index.go)
	ientries *iradix.Tree[struct{}]   // ns \0 name \0 encoded scalar \0 key
	auth     *AuthState               // tokens and role bindings (auth.go)
}

func emptyView() *View {
	return &View{
		namespaces: iradix.New[*api.Namespace](),
		schemas:    iradix.New[*api.SchemaVersion](),
		configs:    iradix.New[*api.ConfigEntry](),
		ctombs:     iradix.New[uint64](),
		ntombs:     iradix.New[uint64](),
		cfgrev:     iradix.New[uint64](),
		floors:     iradix.New[uint64](),
		imports:    emptyImports(),
		evo:        emptyEvo(),
		indexes:    iradix.New[*api.Index](),
		ientries:   iradix.New[struct{}](),
		auth:       emptyAuth(),
	}
}

// Revision is the applied revision the view reflects.
func (v *View) Revision() uint64 { return v.applied }

// Namespace returns a namespace by name.
func (v *View) Namespace(name string) (*api.Namespace, bool) {
	return v.namespaces.Get([]byte(name))
}

// Namespaces returns every namespace in name order.
func (v *View) Namespaces() []*api.Namespace {
	out := make([]*api.Namespace, 0, v.namespaces.Len())
	it := v.namespaces.Root().Iterator()
	for _, n, ok := it.Next(); ok; _, n, ok = it.Next() {
		out = append(out, n)
	}
	return out
}

// NamespaceCount returns the number of namespaces.
func (v *View) NamespaceCount() int { return v.namespaces.Len() }

// ConfigCount returns the number of config entries in all namespaces.
func (v *View) ConfigCount() int { return v.configs.Len() }

// Config returns the entry at (ns, key).
func (v *View) Config(ns, key string) (*api.ConfigEntry, bool) {
	return v.configs.Get(configKey(ns, key))
}

// ListConfigs returns up to limit entries of namespace ns whose key starts
// with prefix and sorts after `after` (exclusive; "" for the start), in key
// order. more reports whether entries remain.
func (v *View) ListConfigs(ns, prefix, after string, limit int) (items []*api.ConfigEntry, more bool) {
	full := configKey(ns, prefix)
	start := full
	afterKey := configKey(ns, after)
	if after != "" && bytes.Compare(afterKey, full) > 0 {
		start = afterKey
	}
	it := v.configs.Root().Iterator()
	it.SeekLowerBound(start)
	// Keys with the prefix form one contiguous range that begins at full, and
	// start >= full: the first key without the prefix ends the range.
	for k, e, ok := it.Next(); ok; k, e, ok = it.Next() {
		if !bytes.HasPrefix(k, full) {
			break
		}
		if after != "" && bytes.Equal(k, afterKey) {
			continue
		}
		if len(items) == limit {
			return items, true
		}
		items = append(items, e)
	}
	return items, false
}

// SchemaVersion returns one version of a schema.
func (v *View) SchemaVersion(ns, name string, version int) (*api.SchemaVersion, bool) {
	return v.schemas.Get(schemaKey(ns, name, version))
}

// LatestSchema returns the highest version of a schema.
func (v *View) LatestSchema(ns, name string) (*api.SchemaVersion, bool) {
	it := v.schemas.Root().ReverseIterator()
	it.SeekPrefix(schemaPrefix(ns, name))
	_, sv, ok := it.Previous()
	return sv, ok
}

// SchemaVersions returns every version of a schema in version order.
func (v *View) SchemaVersions(ns, name string) []*api.SchemaVersion {
	var out []*api.SchemaVersion
	it := v.schemas.Root().Iterator()
	it.SeekPrefix(schemaPrefix(ns, name))
	for _, sv, ok := it.Next(); ok; _, sv, ok = it.Next() {
		out = append(out, sv)
	}
	return out
}

// Schemas summarises the schema names of a namespace in name order.
func (v *View) Schemas(ns string) []api.SchemaSummary {
	var out []api.SchemaSummary
	it := v.schemas.Root().Iterator()
	it.SeekPrefix(nsPrefix(ns))
	for _, sv, ok := it.Next(); ok; _, sv, ok = it.Next() {
		if n := len(out); n == 0 || out[n-1].Name != sv.Name {
			out = append(out, api.SchemaSummary{Namespace: ns, Name: sv.Name})
		}
		s := &out[len(out)-1]
		s.Versions = append(s.Versions, sv.Version)
		s.LatestVersion = sv.Version
		s.ModifyRevision = max(s.ModifyRevision, sv.CreateRevision)
	}
	return out
}

// SchemaText returns the registered text of a schema version. It makes a
// View usable as a schema.Source for $ref resolution.
func (v *View) SchemaText(ns, name string, version int) ([]byte, bool) {
	sv, ok := v.SchemaVersion(ns, name, version)
	if !ok {
		return nil, false
	}
	return sv.Schema, true
}
