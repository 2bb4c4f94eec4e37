package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	iradix "github.com/hashicorp/go-immutable-radix/v2"
	"github.com/schemakv/schemakv/api"
	bolt "go.etcd.io/bbolt"
)

// Answer revisions for blocking queries.
//
// A blocking query returns once the revision of its answer exceeds the
// caller's index. The revision of an answer is the newest revision that
// changed it, so it must rise when the answer changes, deletes included,
// and never fall. Entries carry their modify revision; a deleted config key
// leaves a tombstone (its delete revision) and a deleted namespace leaves
// one too. Tombstones are replicated state: they are written in the same
// transaction as the delete and persisted in the tombstones bucket, so every
// node computes the same revision for the same answer, and a restart or a
// snapshot install keeps them. A config tombstone is dropped when its key is
// written again (the new modify revision is higher) and when its namespace
// is deleted (the namespace tombstone is higher); namespace tombstones are
// kept (there are few).
//
// Wake-ups are pushed, never polled: the read model's radix trees track the
// nodes each transaction changes and close their channels on commit, so a
// watch on a key or a prefix (GetWatch, SeekPrefixWatch) is closed by exactly
// the writes under it. Each answer needs at most five channels.

// Tombstone keys in the tombstones bucket: 'c' + ns \0 key for config
// entries, 'n' + name for namespaces, 'f' + name for a namespace's reaped
// floor (see ReapConfigTombstones).
const (
	tombConfig    = 'c'
	tombNamespace = 'n'
	tombFloor     = 'f'
)

func tombKey(kind byte, k []byte) []byte {
	return append([]byte{kind}, k...)
}

// trackMutations makes the transaction's trees close the watch channels of
// every node it changes when it commits.
func (t *Txn) trackMutations() {
	t.ns.TrackMutate(true)
	t.sch.TrackMutate(true)
	t.cfg.TrackMutate(true)
	t.ct.TrackMutate(true)
	t.nt.TrackMutate(true)
	t.fl.TrackMutate(true)
}

func (t *Txn) setConfigTomb(k []byte) {
	t.ct.Insert(k, t.rev)
	t.put(bucketTombstones, tombKey(tombConfig, k), u64(t.rev))
	if ns, _, ok := bytes.Cut(k, []byte{0}); ok {
		t.bumpConfigRevision(string(ns), t.rev)
	}
}

// bumpConfigRevision records a config put or delete at rev in namespace ns
// (View.cfgrev). Revisions only grow, so the maximum is the newest.
func (t *Txn) bumpConfigRevision(ns string, rev uint64) {
	if cur, ok := t.cr.Get([]byte(ns)); !ok || rev > cur {
		t.cr.Insert([]byte(ns), rev)
	}
}

func (t *Txn) clearConfigTomb(k []byte) {
	if _, ok := t.ct.Get(k); ok {
		t.ct.Delete(k)
		t.put(bucketTombstones, tombKey(tombConfig, k), nil)
	}
}

// tombNamespace records a namespace delete and drops the config tombstones
// of the namespace: the namespace tombstone is newer than all of them.
func (t *Txn) tombNamespace(name string) {
	prefix := nsPrefix(name)
	var keys [][]byte
	it := t.ct.Root().Iterator()
	it.SeekPrefix(prefix)
	for k, _, ok := it.Next(); ok; k, _, ok = it.Next() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		t.ct.Delete(k)
		t.put(bucketTombstones, tombKey(tombConfig, k), nil)
	}
	t.cr.Delete([]byte(name))
	if _, ok := t.fl.Get([]byte(name)); ok {
		t.fl.Delete([]byte(name))
		t.put(bucketTombstones, tombKey(tombFloor, []byte(name)), nil)
	}
	t.nt.Insert([]byte(name), t.rev)
	t.put(bucketTombstones, tombKey(tombNamespace, []byte(name)), u64(t.rev))
}

// ReapConfigTombstones drops the config tombstones older than revision
// before and returns how many it dropped. A tombstone only gives answers
// about deleted keys a revision that rises on the delete; to keep those
// answers from going back once it is gone, its namespace's floor rises to
// the newest reaped revision, and every answer about a key or a prefix of
// the namespace is at least the floor. So a blocking query waiting on a
// reaped delete returns (once, with the same data) rather than going back,
// and watches are unaffected: they read the history, not the tombstones.
// Every node applies it at the same revision with the same cut-off, so all
// answer alike.
func (t *Txn) ReapConfigTombstones(before uint64) int {
	type reaped struct {
		key []byte
		rev uint64
	}
	var drop []reaped
	it := t.ct.Root().Iterator()
	for k, r, ok := it.Next(); ok; k, r, ok = it.Next() {
		if r < before {
			drop = append(drop, reaped{k, r})
		}
	}
	for _, d := range drop {
		t.ct.Delete(d.key)
		t.put(bucketTombstones, tombKey(tombConfig, d.key), nil)
		ns, _, ok := bytes.Cut(d.key, []byte{0})
		if !ok {
			continue
		}
		if cur, ok := t.fl.Get(ns); !ok || d.rev > cur {
			t.fl.Insert(bytes.Clone(ns), d.rev)
			t.put(bucketTombstones, tombKey(tombFloor, ns), u64(d.rev))
		}
	}
	return len(drop)
}

// ConfigTombstones returns how many deleted config keys keep a tombstone.
func (v *View) ConfigTombstones() int { return v.ctombs.Len() }

// floorOf is namespace ns's reaped floor, 0 if none was reaped.
func (v *View) floorOf(ns string) uint64 {
	r, _ := v.floors.Get([]byte(ns))
	return r
}

// loadTombstones fills v's tombstone trees from the file, and v.cfgrev from
// them and revs (each namespace's newest modify revision, which the config
// load computed), and computes the revision of the newest event from what
// the state holds.
func loadTombstones(tx *bolt.Tx, v *View, revs map[string]uint64) error {
	ct := v.ctombs.Txn()
	nt := v.ntombs.Txn()
	fl := v.floors.Txn()
	bump := func(ns []byte, rev uint64) { revs[string(ns)] = max(revs[string(ns)], rev) }
	err := tx.Bucket(bucketTombstones).ForEach(func(k, b []byte) error {
		if len(k) < 2 || len(b) != 8 {
			return fmt.Errorf("tombstone %q: bad record", k)
		}
		rev := binary.BigEndian.Uint64(b)
		switch k[0] {
		case tombConfig:
			ct.Insert(bytes.Clone(k[1:]), rev)
			if ns, _, ok := bytes.Cut(k[1:], []byte{0}); ok {
				bump(ns, rev)
			}
		case tombNamespace:
			nt.Insert(bytes.Clone(k[1:]), rev)
		case tombFloor:
			fl.Insert(bytes.Clone(k[1:]), rev)
			bump(k[1:], rev)
		default:
			return fmt.Errorf("tombstone %q: unknown kind", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	v.ctombs, v.ntombs, v.floors = ct.Commit(), nt.Commit(), fl.Commit()
	cr := iradix.New[uint64]().Txn()
	for ns, r := range revs {
		cr.Insert([]byte(ns), r)
	}
	v.cfgrev = cr.Commit()
	// Every event leaves a trace that holds its revision: a put the entry's
	// modify revision (or, once deleted, a tombstone that is newer), a delete
	// a tombstone, a schema its create revision, a namespace its create
	// revision or tombstone. The newest trace is the newest event. cfgrev
	// holds the newest of the configs, their tombstones and the floors.
	v.lastEvent = max(
		maxUnder(v.ntombs, nil, revOf),
		maxUnder(v.cfgrev, nil, revOf),
		maxUnder(v.schemas, nil, schemaRev),
		maxUnder(v.namespaces, nil, nsRev),
	)
	return nil
}

// configRevisionOf is the newest config put or delete in namespace ns, 0
// if none (View.cfgrev).
func (v *View) configRevisionOf(ns string) uint64 {
	r, _ := v.cfgrev.Get([]byte(ns))
	return r
}

func revOf(r uint64) uint64                  { return r }
func entryRev(e *api.ConfigEntry) uint64     { return e.ModifyRevision }
func schemaRev(sv *api.SchemaVersion) uint64 { return sv.CreateRevision }
func nsRev(n *api.Namespace) uint64          { return n.CreateRevision }

// maxUnder returns the highest revision of the values under prefix, 0 if
// there are none. It visits every value under the prefix.
func maxUnder[T any](t *iradix.Tree[T], prefix []byte, rev func(T) uint64) uint64 {
	var m uint64
	it := t.Root().Iterator()
	it.SeekPrefix(prefix)
	for _, x, ok := it.Next(); ok; _, x, ok = it.Next() {
		m = max(m, rev(x))
	}
	return m
}

// prefixWatch returns the channel closed by any change under prefix.
func prefixWatch[T any](t *iradix.Tree[T], prefix []byte) <-chan struct{} {
	it := t.Root().Iterator()
	return it.SeekPrefixWatch(prefix)
}

// keyWatch returns the channel closed by a change of key (its insertion
// included).
func keyWatch[T any](t *iradix.Tree[T], key []byte) <-chan struct{} {
	ch, _, _ := t.Root().GetWatch(key)
	return ch
}

// WatchSet collects the channels that close when an answer may have
// changed. A nil *WatchSet collects nothing.
type WatchSet struct {
	Chans []<-chan struct{}
}

func (ws *WatchSet) add(ch <-chan struct{}) {
	if ws != nil && ch != nil {
		ws.Chans = append(ws.Chans, ch)
	}
}

// LastEventRevision is the revision of the newest event the view holds (the
// newest change to any object), at least 1. It is the revision of the
// namespace list, which changes whenever anything does.
func (v *View) LastEventRevision() uint64 { return max(v.lastEvent, 1) }

// missingNamespace is the revision of an answer about a namespace that does
// not exist: its delete, or 1 if it never existed.
func (v *View) missingNamespace(ns string, ws *WatchSet) uint64 {
	ws.add(keyWatch(v.namespaces, []byte(ns)))
	ws.add(keyWatch(v.ntombs, []byte(ns)))
	r, _ := v.ntombs.Get([]byte(ns))
	return max(r, 1)
}

// ConfigRevision is the revision of the answer about one config entry: its
// modify revision; if it does not exist, its delete, else the creation of
// its namespace; if the namespace does not exist, the namespace's delete. It
// never falls and is at least 1. ws, when not nil, receives the channels
// closed when it may change.
func (v *View) ConfigRevision(ns, key string, ws *WatchSet) uint64 {
	n, ok := v.namespaces.Get([]byte(ns))
	if !ok {
		return v.missingNamespace(ns, ws)
	}
	ws.add(keyWatch(v.ntombs, []byte(ns))) // closed by its delete; its counts do not matter here
	k := configKey(ns, key)
	ws.add(keyWatch(v.configs, k))
	ws.add(keyWatch(v.ctombs, k))
	if e, ok := v.configs.Get(k); ok {
		return max(e.ModifyRevision, 1)
	}
	if r, ok := v.ctombs.Get(k); ok {
		return max(r, 1)
	}
	ws.add(keyWatch(v.floors, []byte(ns)))
	return max(n.CreateRevision, v.floorOf(ns), 1)
}

// ConfigListRevision is the revision of a list of a namespace's config
// entries under prefix: the newest modify revision or delete under it, or
// the namespace's creation. Deletes raise it. For the whole namespace it is
// one lookup; for a prefix it visits every entry under the prefix.
func (v *View) ConfigListRevision(ns, prefix string, ws *WatchSet) uint64 {
	n, ok := v.namespaces.Get([]byte(ns))
	if !ok {
		return v.missingNamespace(ns, ws)
	}
	ws.add(keyWatch(v.ntombs, []byte(ns))) // closed by its delete; its counts do not matter here
	p := configKey(ns, prefix)
	ws.add(prefixWatch(v.configs, p))
	ws.add(prefixWatch(v.ctombs, p))
	if prefix == "" {
		return max(n.CreateRevision, v.configRevisionOf(ns), 1)
	}
	ws.add(keyWatch(v.floors, []byte(ns)))
	return max(n.CreateRevision, maxUnder(v.configs, p, entryRev), maxUnder(v.ctombs, p, revOf), v.floorOf(ns), 1)
}

// NamespaceRevision is the revision of the answer about a namespace: the
// newest change to anything in it (its counts change with its contents).
func (v *View) NamespaceRevision(ns string, ws *WatchSet) uint64 {
	n, ok := v.namespaces.Get([]byte(ns))
	if !ok {
		return v.missingNamespace(ns, ws)
	}
	ws.add(keyWatch(v.namespaces, []byte(ns)))
	p := nsPrefix(ns)
	ws.add(prefixWatch(v.configs, p))
	ws.add(prefixWatch(v.ctombs, p))
	ws.add(prefixWatch(v.schemas, p))
	return max(n.CreateRevision, v.configRevisionOf(ns), maxUnder(v.schemas, p, schemaRev), 1)
}

// SchemaRevision is the revision of the answer about one schema name (its
// latest version or its version list): its newest version's creation, or
// the namespace's creation.
func (v *View) SchemaRevision(ns, name string, ws *WatchSet) uint64 {
	n, ok := v.namespaces.Get([]byte(ns))
	if !ok {
		return v.missingNamespace(ns, ws)
	}
	ws.add(keyWatch(v.ntombs, []byte(ns))) // closed by its delete; its counts do not matter here
	p := schemaPrefix(ns, name)
	ws.add(prefixWatch(v.schemas, p))
	ws.add(prefixWatch(v.evo.meta, p))
	// A deleted version leaves its trace in the meta's modify revision
	// (evolution.go); the delete also changes the schemas tree, which wakes.
	return max(n.CreateRevision, maxUnder(v.schemas, p, schemaRev), maxUnder(v.evo.meta, p, metaRev), 1)
}

// SchemaListRevision is the revision of the list of a namespace's schemas.
func (v *View) SchemaListRevision(ns string, ws *WatchSet) uint64 {
	n, ok := v.namespaces.Get([]byte(ns))
	if !ok {
		return v.missingNamespace(ns, ws)
	}
	ws.add(keyWatch(v.ntombs, []byte(ns))) // closed by its delete; its counts do not matter here
	p := nsPrefix(ns)
	ws.add(prefixWatch(v.schemas, p))
	return max(n.CreateRevision, maxUnder(v.schemas, p, schemaRev), maxUnder(v.evo.meta, p, metaRev), 1)
}
