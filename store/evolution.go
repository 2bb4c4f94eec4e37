package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	iradix "github.com/hashicorp/go-immutable-radix/v2"
	"github.com/schemakv/schemakv/api"
	bolt "go.etcd.io/bbolt"
)

// Schema evolution state (issue 5): per schema name its policy and
// deprecated versions, per schema version its pin statistics, and the
// migrations of a namespace.
//
// Pin statistics are replicated state, not a cache: the FSM refuses a
// strict registration when a version's LastPin is newer than the revision
// the proposer checked, so every replica must hold the same number. They
// are kept in the pins bucket, written in the same transaction as the
// config write that changes them, and travel with snapshots (a snapshot is
// the bbolt file). A file written before the bucket existed has no pins
// marker: load rebuilds them from the entries (LastPin = the highest modify
// revision of the entries pinned) and the first commit writes them all.
var (
	bucketSchemaMeta = []byte("schemameta")
	bucketPins       = []byte("pins")
	bucketMigrations = []byte("migrations")

	keyPinsV1 = []byte("pins-v1")
)

func init() {
	allBuckets = append(allBuckets, bucketSchemaMeta, bucketPins, bucketMigrations)
}

// Event operations recorded for schema evolution, beside api.OpCreate.
const (
	// OpSchemaMeta records a policy or deprecation change; the event's value
	// is the new api.SchemaMeta.
	OpSchemaMeta = "update"
	// OpMigration records a migration's start and end; the value is the
	// api.Migration.
	OpMigration = "migrate"
)

// PinStat counts the config entries pinned to one schema version.
type PinStat struct {
	// Count is the number of entries pinned to the version.
	Count int
	// LastPin is the revision of the last write that pinned an entry to the
	// version (created it pinned there, or wrote it pinned there again).
	LastPin uint64
}

func (p PinStat) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(p.Count))
	binary.BigEndian.PutUint64(b[8:], p.LastPin)
	return b
}

// evoTrees is the evolution part of a View.
type evoTrees struct {
	meta *iradix.Tree[*api.SchemaMeta] // schemaPrefix(ns, name)
	pins *iradix.Tree[PinStat]         // schemaKey(ns, name, version)
	migs *iradix.Tree[*api.Migration]  // ns \0 id
	// unsaved is set when load rebuilt the pins of an older file: the next
	// commit writes all of them.
	unsaved bool
}

func emptyEvo() evoTrees {
	return evoTrees{
		meta: iradix.New[*api.SchemaMeta](),
		pins: iradix.New[PinStat](),
		migs: iradix.New[*api.Migration](),
	}
}

// evoTxn is the evolution part of a Txn.
type evoTxn struct {
	meta    *iradix.Txn[*api.SchemaMeta]
	pins    *iradix.Txn[PinStat]
	migs    *iradix.Txn[*api.Migration]
	dirty   map[string]struct{} // pin keys changed in this transaction
	unsaved bool
}

func (e evoTrees) txn() *evoTxn {
	t := &evoTxn{meta: e.meta.Txn(), pins: e.pins.Txn(), migs: e.migs.Txn(), unsaved: e.unsaved}
	t.meta.TrackMutate(true) // blocking queries on a schema wake on policy and deprecation changes
	return t
}

// evo returns the transaction's evolution state, starting it on first use,
// so that Begin needs no change.
func (t *Txn) evo() *evoTxn {
	if t.ev == nil {
		t.ev = t.s.view.Load().evo.txn()
	}
	return t.ev
}

// commitEvo queues the pin writes and returns the trees of the new view.
func (t *Txn) commitEvo() evoTrees {
	if t.ev == nil {
		return t.s.view.Load().evo
	}
	e := t.ev
	if e.unsaved {
		it := e.pins.Root().Iterator()
		for k, p, ok := it.Next(); ok; k, p, ok = it.Next() {
			t.put(bucketPins, bytes.Clone(k), p.encode())
		}
		t.put(bucketMeta, keyPinsV1, u64(1))
	} else {
		for k := range e.dirty {
			if p, ok := e.pins.Get([]byte(k)); ok {
				t.put(bucketPins, []byte(k), p.encode())
			} else {
				t.put(bucketPins, []byte(k), nil)
			}
		}
	}
	return evoTrees{meta: e.meta.Commit(), pins: e.pins.Commit(), migs: e.migs.Commit()}
}

// pinMoved accounts an entry written pinned to (schema, version), replacing
// old (nil for a new key). It runs in PutConfig.
func (t *Txn) pinMoved(old *api.ConfigEntry, ns, schema string, version int) {
	if old != nil {
		t.unpin(old)
	}
	k := schemaKey(ns, schema, version)
	e := t.evo()
	p, _ := e.pins.Get(k)
	p.Count++
	p.LastPin = t.rev
	e.pins.Insert(k, p)
	e.markDirty(k)
}

// unpin accounts an entry that no longer pins its version (deleted or
// re-pinned).
func (t *Txn) unpin(old *api.ConfigEntry) {
	k := schemaKey(old.Namespace, old.Schema, old.SchemaVersion)
	e := t.evo()
	p, _ := e.pins.Get(k)
	p.Count--
	e.pins.Insert(k, p)
	e.markDirty(k)
}

func (e *evoTxn) markDirty(k []byte) {
	if e.dirty == nil {
		e.dirty = map[string]struct{}{}
	}
	e.dirty[string(k)] = struct{}{}
}

// PinStat returns the pin statistics of a schema version, seeing this
// transaction's writes.
func (t *Txn) PinStat(ns, name string, version int) PinStat {
	p, _ := t.evo().pins.Get(schemaKey(ns, name, version))
	return p
}

// SchemaMeta returns the mutable state of a schema name, seeing this
// transaction's writes; a name without one has the strict policy.
func (t *Txn) SchemaMeta(ns, name string) *api.SchemaMeta {
	if m, ok := t.evo().meta.Get(schemaPrefix(ns, name)); ok {
		return m
	}
	return &api.SchemaMeta{Namespace: ns, Name: name, Policy: api.PolicyStrict}
}

// PutSchemaMeta stores the policy and deprecations of a schema name,
// stamping its modify revision, and records the change in the history.
func (t *Txn) PutSchemaMeta(m api.SchemaMeta, a Audit) (*api.SchemaMeta, error) {
	if err := t.putMeta(&m); err != nil {
		return nil, err
	}
	val, err := marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("store: encode schema meta: %w", err)
	}
	return &m, t.record(api.Event{
		Kind: api.KindSchema, Op: OpSchemaMeta, Namespace: m.Namespace, Key: m.Name, Value: val, Schema: m.Name,
	}, a)
}

func (t *Txn) putMeta(m *api.SchemaMeta) error {
	m.ModifyRevision = t.rev
	b, err := marshal(m)
	if err != nil {
		return fmt.Errorf("store: encode schema meta: %w", err)
	}
	k := schemaPrefix(m.Namespace, m.Name)
	t.put(bucketSchemaMeta, k, b)
	t.evo().meta.Insert(k, m)
	return nil
}

// DeleteSchemaVersion removes one version of a schema. The caller checks
// that nothing pins or references it and that it is not the latest.
func (t *Txn) DeleteSchemaVersion(ns, name string, version int, a Audit) error {
	k := schemaKey(ns, name, version)
	t.put(bucketSchemas, k, nil)
	t.sch.Delete(k)
	e := t.evo()
	if _, ok := e.pins.Get(k); ok {
		e.pins.Delete(k)
		e.markDirty(k)
	}
	// The meta's modify revision keeps the delete's trace (lastEvent).
	m := *t.SchemaMeta(ns, name)
	m.Deprecated = slices.DeleteFunc(slices.Clone(m.Deprecated), func(v int) bool { return v == version })
	if err := t.putMeta(&m); err != nil {
		return err
	}
	return t.record(api.Event{
		Kind: api.KindSchema, Op: api.OpDelete, Namespace: ns, Key: name, Schema: name, SchemaVersion: version,
	}, a)
}

// PutMigration stores a migration's state, stamping its modify revision.
// record adds a history event (at its start and end).
func (t *Txn) PutMigration(m api.Migration, record bool, a Audit) (*api.Migration, error) {
	m.ModifyRevision = t.rev
	b, err := marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("store: encode migration: %w", err)
	}
	k := migrationKey(m.Namespace, m.ID)
	t.put(bucketMigrations, k, b)
	t.evo().migs.Insert(k, &m)
	if !record {
		return &m, nil
	}
	return &m, t.record(api.Event{
		Kind: api.KindSchema, Op: OpMigration, Namespace: m.Namespace, Key: m.Name, Value: b, Schema: m.Name,
		SchemaVersion: m.To,
	}, a)
}

// Migration returns a migration by id, seeing this transaction's writes.
func (t *Txn) Migration(ns, id string) (*api.Migration, bool) {
	return t.evo().migs.Get(migrationKey(ns, id))
}

// RunningMigration returns the running migration of a schema name, if any.
func (t *Txn) RunningMigration(ns, name string) (*api.Migration, bool) {
	return runningMigration(t.evo().migs.Root(), ns, name)
}

// SchemaVersionNumbers lists the stored versions of a schema, ascending.
func (t *Txn) SchemaVersionNumbers(ns, name string) []*api.SchemaVersion {
	var out []*api.SchemaVersion
	it := t.sch.Root().Iterator()
	it.SeekPrefix(schemaPrefix(ns, name))
	for _, sv, ok := it.Next(); ok; _, sv, ok = it.Next() {
		out = append(out, sv)
	}
	return out
}

// NamespaceSchemas calls fn for every schema version of a namespace.
func (t *Txn) NamespaceSchemas(ns string, fn func(sv *api.SchemaVersion)) {
	it := t.sch.Root().Iterator()
	it.SeekPrefix(nsPrefix(ns))
	for _, sv, ok := it.Next(); ok; _, sv, ok = it.Next() {
		fn(sv)
	}
}

// deleteNamespaceEvo drops the evolution state of a deleted namespace.
func (t *Txn) deleteNamespaceEvo(ns string) {
	e := t.evo()
	p := nsPrefix(ns)
	for _, tr := range []struct {
		bucket []byte
		del    func(prefix []byte) [][]byte
	}{
		{bucketSchemaMeta, func(p []byte) [][]byte { return deleteUnder(e.meta, p) }},
		{bucketPins, func(p []byte) [][]byte { return deleteUnder(e.pins, p) }},
		{bucketMigrations, func(p []byte) [][]byte { return deleteUnder(e.migs, p) }},
	} {
		for _, k := range tr.del(p) {
			t.put(tr.bucket, k, nil)
			if bytes.Equal(tr.bucket, bucketPins) && e.dirty != nil {
				delete(e.dirty, string(k))
			}
		}
	}
}

func deleteUnder[T any](tx *iradix.Txn[T], prefix []byte) [][]byte {
	var keys [][]byte
	it := tx.Root().Iterator()
	it.SeekPrefix(prefix)
	for k, _, ok := it.Next(); ok; k, _, ok = it.Next() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		tx.Delete(k)
	}
	return keys
}

func metaRev(m *api.SchemaMeta) uint64 { return m.ModifyRevision }

func migrationKey(ns, id string) []byte {
	b := make([]byte, 0, len(ns)+1+len(id))
	b = append(b, ns...)
	b = append(b, 0)
	return append(b, id...)
}

func runningMigration(root *iradix.Node[*api.Migration], ns, name string) (*api.Migration, bool) {
	it := root.Iterator()
	it.SeekPrefix(nsPrefix(ns))
	for _, m, ok := it.Next(); ok; _, m, ok = it.Next() {
		if m.Name == name && m.State == api.MigrationRunning {
			return m, true
		}
	}
	return nil, false
}

// SchemaMeta returns the mutable state of a schema name; a name without one
// has the strict policy.
func (v *View) SchemaMeta(ns, name string) *api.SchemaMeta {
	if m, ok := v.evo.meta.Get(schemaPrefix(ns, name)); ok {
		return m
	}
	return &api.SchemaMeta{Namespace: ns, Name: name, Policy: api.PolicyStrict}
}

// PinStat returns the pin statistics of a schema version.
func (v *View) PinStat(ns, name string, version int) PinStat {
	p, _ := v.evo.pins.Get(schemaKey(ns, name, version))
	return p
}

// Migration returns a migration by id.
func (v *View) Migration(ns, id string) (*api.Migration, bool) {
	return v.evo.migs.Get(migrationKey(ns, id))
}

// Migrations returns the migrations of a schema name (every name if name
// is ""), in id order.
func (v *View) Migrations(ns, name string) []*api.Migration {
	var out []*api.Migration
	it := v.evo.migs.Root().Iterator()
	it.SeekPrefix(nsPrefix(ns))
	for _, m, ok := it.Next(); ok; _, m, ok = it.Next() {
		if name == "" || m.Name == name {
			out = append(out, m)
		}
	}
	return out
}

// RunningMigrations returns every running migration of every namespace.
func (v *View) RunningMigrations() []*api.Migration {
	var out []*api.Migration
	it := v.evo.migs.Root().Iterator()
	for _, m, ok := it.Next(); ok; _, m, ok = it.Next() {
		if m.State == api.MigrationRunning {
			out = append(out, m)
		}
	}
	return out
}

// PinnedConfigs calls fn, in key order, for every entry of namespace ns
// pinned to schema@version whose key sorts after `after` ("" for the
// start), until fn returns false.
func (v *View) PinnedConfigs(ns, schema string, version int, after string, fn func(e *api.ConfigEntry) bool) {
	prefix := nsPrefix(ns)
	it := v.configs.Root().Iterator()
	start := prefix
	if after != "" {
		start = configKey(ns, after)
	}
	it.SeekLowerBound(start)
	for k, e, ok := it.Next(); ok; k, e, ok = it.Next() {
		if !bytes.HasPrefix(k, prefix) {
			return
		}
		if after != "" && e.Key == after {
			continue
		}
		if e.Schema == schema && e.SchemaVersion == version {
			if !fn(e) {
				return
			}
		}
	}
}

// loadEvolution fills v's evolution trees from the file.
func loadEvolution(tx *bolt.Tx, v *View) error {
	e := emptyEvo()
	meta := e.meta.Txn()
	err := tx.Bucket(bucketSchemaMeta).ForEach(func(k, b []byte) error {
		var m api.SchemaMeta
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("schema meta %q: %w", k, err)
		}
		meta.Insert(bytes.Clone(k), &m)
		v.lastEvent = max(v.lastEvent, m.ModifyRevision)
		return nil
	})
	if err != nil {
		return err
	}
	migs := e.migs.Txn()
	err = tx.Bucket(bucketMigrations).ForEach(func(k, b []byte) error {
		var m api.Migration
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("migration %q: %w", k, err)
		}
		migs.Insert(bytes.Clone(k), &m)
		v.lastEvent = max(v.lastEvent, m.ModifyRevision)
		return nil
	})
	if err != nil {
		return err
	}
	pins := e.pins.Txn()
	if tx.Bucket(bucketMeta).Get(keyPinsV1) != nil {
		err = tx.Bucket(bucketPins).ForEach(func(k, b []byte) error {
			if len(b) != 16 {
				return fmt.Errorf("pins %q: bad record", k)
			}
			pins.Insert(bytes.Clone(k), PinStat{
				Count: int(binary.BigEndian.Uint64(b)), LastPin: binary.BigEndian.Uint64(b[8:]),
			})
			return nil
		})
		if err != nil {
			return err
		}
	} else {
		it := v.configs.Root().Iterator()
		for _, c, ok := it.Next(); ok; _, c, ok = it.Next() {
			k := schemaKey(c.Namespace, c.Schema, c.SchemaVersion)
			p, _ := pins.Get(k)
			p.Count++
			p.LastPin = max(p.LastPin, c.ModifyRevision)
			pins.Insert(k, p)
		}
		e.unsaved = true
	}
	e.meta, e.migs, e.pins = meta.Commit(), migs.Commit(), pins.Commit()
	v.evo = e
	return nil
}
