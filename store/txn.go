package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	iradix "github.com/hashicorp/go-immutable-radix/v2"
	"github.com/schemakv/schemakv/api"
)

// Audit is who made a change, why, and when (the leader's clock, carried in
// the replicated command).
type Audit struct {
	Principal string
	Reason    string
	Time      time.Time
}

// Txn is the single write transaction. Reads through a Txn see its own
// writes. Write methods fail only on I/O errors; callers check business
// rules (existence, compare-and-set) with the read methods first.
type Txn struct {
	s    *Store
	muts []mutation // bbolt writes, handed to the flusher on Commit
	ns   *iradix.Txn[*api.Namespace]
	sch  *iradix.Txn[*api.SchemaVersion]
	cfg  *iradix.Txn[*api.ConfigEntry]
	ct   *iradix.Txn[uint64] // config tombstones
	nt   *iradix.Txn[uint64] // namespace tombstones
	cr   *iradix.Txn[uint64] // per-namespace config revision (View.cfgrev)
	fl   *iradix.Txn[uint64] // per-namespace reaped floor (View.floors)
	imp  *importState        // import jobs, copied on first write (imports.go)
	ev   *evoTxn             // evolution state, started on first use (evolution.go)
	idx  *iradix.Txn[*api.Index]
	ient *iradix.Txn[struct{}]
	// auth is the view's auth state until the first auth write copies it
	// (auth.go).
	auth       *AuthState
	authCopied bool

	rev    uint64
	seq    uint32
	events []api.Event
	done   bool
}

// Begin starts the write transaction. Only one can be open at a time; Begin
// blocks while another is.
func (s *Store) Begin() (*Txn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	v := s.view.Load()
	t := &Txn{
		s:    s,
		ns:   v.namespaces.Txn(),
		sch:  v.schemas.Txn(),
		cfg:  v.configs.Txn(),
		ct:   v.ctombs.Txn(),
		nt:   v.ntombs.Txn(),
		cr:   v.cfgrev.Txn(),
		fl:   v.floors.Txn(),
		auth: v.auth,
	}
	t.idx, t.ient = v.indexes.Txn(), v.ientries.Txn() // index.go
	t.trackMutations()
	return t, nil
}

// SetRevision sets the revision stamped on the writes that follow. It must
// not be lower than the store's applied revision.
func (t *Txn) SetRevision(rev uint64) {
	t.rev = rev
	t.seq = 0
}

// Events returns the events recorded so far in this transaction.
func (t *Txn) Events() []api.Event { return t.events }

// Namespace reads a namespace, seeing this transaction's writes.
func (t *Txn) Namespace(name string) (*api.Namespace, bool) {
	return t.ns.Get([]byte(name))
}

// Config reads a config entry, seeing this transaction's writes.
func (t *Txn) Config(ns, key string) (*api.ConfigEntry, bool) {
	return t.cfg.Get(configKey(ns, key))
}

// SchemaVersion reads a schema version, seeing this transaction's writes.
func (t *Txn) SchemaVersion(ns, name string, version int) (*api.SchemaVersion, bool) {
	return t.sch.Get(schemaKey(ns, name, version))
}

// LatestSchemaVersion returns the highest version number of a schema, or 0.
func (t *Txn) LatestSchemaVersion(ns, name string) int {
	it := t.sch.Root().ReverseIterator()
	it.SeekPrefix(schemaPrefix(ns, name))
	if _, sv, ok := it.Previous(); ok {
		return sv.Version
	}
	return 0
}

// CreateNamespace stores a new namespace.
func (t *Txn) CreateNamespace(name, description string, a Audit) (*api.Namespace, error) {
	n := &api.Namespace{
		Name: name, Description: description,
		CreateRevision: t.rev, ModifyRevision: t.rev,
		CreatedBy: a.Principal, CreatedAt: a.Time,
	}
	if err := t.putNamespace(n); err != nil {
		return nil, err
	}
	return n, t.record(api.Event{Kind: api.KindNamespace, Op: api.OpCreate, Namespace: name}, a)
}

func (t *Txn) putNamespace(n *api.Namespace) error {
	b, err := marshal(n)
	if err != nil {
		return fmt.Errorf("store: encode namespace: %w", err)
	}
	t.put(bucketNamespaces, []byte(n.Name), b)
	t.ns.Insert([]byte(n.Name), n)
	return nil
}

// DeleteNamespace removes a namespace with its schemas and configs. Each
// removed config entry gets a delete event; the namespace gets one event
// that says whether the delete was forced.
func (t *Txn) DeleteNamespace(name string, force bool, a Audit) error {
	prefix := nsPrefix(name)
	var keys [][]byte
	it := t.cfg.Root().Iterator()
	it.SeekPrefix(prefix)
	for k, _, ok := it.Next(); ok; k, _, ok = it.Next() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := t.DeleteConfig(name, string(k[len(prefix):]), a); err != nil {
			return err
		}
	}
	var schemaKeys [][]byte
	sit := t.sch.Root().Iterator()
	sit.SeekPrefix(prefix)
	for k, _, ok := sit.Next(); ok; k, _, ok = sit.Next() {
		schemaKeys = append(schemaKeys, k)
	}
	for _, k := range schemaKeys {
		t.put(bucketSchemas, k, nil)
		t.sch.Delete(k)
	}
	t.deleteNamespaceEvo(name)
	t.dropNamespaceIndexes(name)
	t.put(bucketNamespaces, []byte(name), nil)
	t.ns.Delete([]byte(name))
	t.tombNamespace(name)
	return t.record(api.Event{Kind: api.KindNamespace, Op: api.OpDelete, Namespace: name, Force: force}, a)
}

// PutSchemaVersion stores a new schema version, stamping its revision and
// audit fields.
func (t *Txn) PutSchemaVersion(sv api.SchemaVersion, a Audit) (*api.SchemaVersion, error) {
	sv.CreateRevision = t.rev
	sv.CreatedBy = a.Principal
	sv.CreatedAt = a.Time
	sv.Reason = a.Reason
	b, err := marshal(&sv)
	if err != nil {
		return nil, fmt.Errorf("store: encode schema: %w", err)
	}
	k := schemaKey(sv.Namespace, sv.Name, sv.Version)
	t.put(bucketSchemas, k, b)
	if t.LatestSchemaVersion(sv.Namespace, sv.Name) == 0 {
		t.adjustCounts(sv.Namespace, 0, 1)
	}
	t.sch.Insert(k, &sv)
	return &sv, t.record(api.Event{
		Kind: api.KindSchema, Op: api.OpCreate, Namespace: sv.Namespace, Key: sv.Name,
		Value: sv.Schema, Schema: sv.Name, SchemaVersion: sv.Version,
	}, a)
}

// PutConfig writes a config entry at the transaction's revision. rollbackOf
// names the revision a rollback restores (0 otherwise).
func (t *Txn) PutConfig(ns, key, schema string, schemaVersion int, value json.RawMessage, a Audit, rollbackOf uint64) (*api.ConfigEntry, error) {
	k := configKey(ns, key)
	e := &api.ConfigEntry{
		Namespace: ns, Key: key, Value: value,
		Schema: schema, SchemaVersion: schemaVersion,
		CreateRevision: t.rev, ModifyRevision: t.rev, Version: 1,
		ModifiedBy: a.Principal, ModifiedAt: a.Time, Reason: a.Reason,
	}
	var prev uint64
	old, existed := t.cfg.Get(k)
	before := old // for the indexes (index.go); nil when the key is new
	if existed {
		e.CreateRevision = old.CreateRevision
		e.Version = old.Version + 1
		prev = old.ModifyRevision
	} else {
		old = nil
		t.adjustCounts(ns, 1, 0)
	}
	t.pinMoved(old, ns, schema, schemaVersion)
	t.put(bucketConfigs, k, encodeEntry(e))
	t.cfg.Insert(k, e)
	t.bumpConfigRevision(ns, e.ModifyRevision)
	t.indexPut(ns, key, before, e)
	t.clearConfigTomb(k)
	return e, t.record(api.Event{
		Kind: api.KindConfig, Op: api.OpPut, Namespace: ns, Key: key, Value: value,
		Schema: schema, SchemaVersion: schemaVersion, Version: e.Version,
		PrevRevision: prev, RollbackOf: rollbackOf,
	}, a)
}

// DeleteConfig removes a config entry; deleting a missing key does nothing.
func (t *Txn) DeleteConfig(ns, key string, a Audit) error {
	k := configKey(ns, key)
	old, ok := t.cfg.Get(k)
	if !ok {
		return nil
	}
	t.put(bucketConfigs, k, nil)
	t.cfg.Delete(k)
	t.indexPut(ns, key, old, nil)
	t.setConfigTomb(k)
	t.adjustCounts(ns, -1, 0)
	t.unpin(old)
	return t.record(api.Event{
		Kind: api.KindConfig, Op: api.OpDelete, Namespace: ns, Key: key,
		Schema: old.Schema, SchemaVersion: old.SchemaVersion, PrevRevision: old.ModifyRevision,
	}, a)
}

// adjustCounts updates the in-memory counters of a namespace. Counters are
// derived data: they are rebuilt on load and not written to bbolt.
func (t *Txn) adjustCounts(ns string, configs, schemas int) {
	n, ok := t.ns.Get([]byte(ns))
	if !ok {
		return
	}
	c := *n
	c.ConfigCount += configs
	c.SchemaCount += schemas
	t.ns.Insert([]byte(ns), &c)
}

// record appends an event to the history at the current revision.
func (t *Txn) record(ev api.Event, a Audit) error {
	ev.Revision = t.rev
	ev.Principal = a.Principal
	ev.Reason = a.Reason
	ev.Time = a.Time
	b := appendEvent(nil, &ev)
	id := eventID(t.rev, t.seq)
	t.seq++
	t.put(bucketEvents, id, b)
	t.put(bucketKeyHist, append(histPrefix(ev.Kind, ev.Namespace, ev.Key), id...), []byte{})
	t.events = append(t.events, ev)
	return nil
}

// put queues a bbolt write; a nil value deletes the key.
func (t *Txn) put(bucket, key, val []byte) {
	t.muts = append(t.muts, mutation{bucket: bucket, key: key, val: val})
}

// Commit publishes the new read model at revision applied and hands the
// transaction's writes to the flusher (see flush.go). It fails only if the
// flusher has failed, and then the caller must stop: the file can no longer
// follow the log.
func (t *Txn) Commit(applied uint64) error {
	if t.done {
		return fmt.Errorf("store: transaction already finished")
	}
	t.done = true
	defer t.s.mu.Unlock()
	last := t.s.view.Load().lastEvent
	evo := t.commitEvo()
	if n := len(t.events); n > 0 {
		last = t.events[n-1].Revision
	}
	t.s.publish(&View{
		applied:    applied,
		namespaces: t.ns.Commit(),
		schemas:    t.sch.Commit(),
		configs:    t.cfg.Commit(),
		ctombs:     t.ct.Commit(),
		ntombs:     t.nt.Commit(),
		cfgrev:     t.cr.Commit(),
		floors:     t.fl.Commit(),
		lastEvent:  last,
		imports:    t.importsForCommit(),
		evo:        evo,
		indexes:    t.idx.Commit(),
		ientries:   t.ient.Commit(),
		auth:       t.commitAuth(),
	}, false)
	t.s.hub.publish(t.events, applied)
	return t.s.enqueue(pendingTxn{muts: t.muts, applied: applied})
}

// Discard abandons the transaction. It is safe after Commit.
func (t *Txn) Discard() {
	if t.done {
		return
	}
	t.done = true
	t.s.mu.Unlock()
}

// eventIDLen is the length of an event id: the revision and the event's
// sequence number within it, both big-endian, so ids sort by revision then
// order. 32 bits of sequence hold any transaction (an atomic import
// publishes hundreds of thousands of entries at one revision).
const eventIDLen = 12

func eventID(rev uint64, seq uint32) []byte {
	b := make([]byte, eventIDLen)
	binary.BigEndian.PutUint64(b, rev)
	binary.BigEndian.PutUint32(b[8:], seq)
	return b
}

// histPrefix is the keyhist prefix of one object: kind byte, namespace, 0,
// key, 0. Event ids follow it, so an object's history sorts by revision.
func histPrefix(kind, ns, key string) []byte {
	b := make([]byte, 0, 3+len(ns)+len(key))
	b = append(b, kind[0])
	b = append(b, ns...)
	b = append(b, 0)
	b = append(b, key...)
	return append(b, 0)
}

// marshal encodes v as JSON without HTML escaping, so values come back
// byte for byte as they were written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
