package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	iradix "github.com/hashicorp/go-immutable-radix/v2"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/index"
	bolt "go.etcd.io/bbolt"
)

// Secondary indexes (see DESIGN.md, "Secondary indexes").
//
// Definitions live in the indexes bucket (ns \0 name -> JSON) and in the
// view's indexes tree. Entries live only in memory, in the view's ientries
// tree, keyed ns \0 name \0 encoded scalar \0 config key; they are derived
// from the definitions and the config entries, maintained by the same Txn
// that writes a config entry, and rebuilt on load and restore.
//
// An index covers a config entry when the entry is in its scope (its schema
// matches, if the index names one) and the entry has been reached: every key
// once the index is ready, the keys up to the build cursor while it builds.
// Writes maintain exactly the covered entries and the build's chunks extend
// the cursor, so the entries are a function of the replicated state and a
// rebuild gives the same ones on every node, after a restart and after a
// snapshot install.

var bucketIndexes = []byte("indexes")

func indexDefKey(ns, name string) []byte { return configKey(ns, name) }

// indexEntryPrefix is the prefix of every entry of one index.
func indexEntryPrefix(ns, name string) []byte {
	b := make([]byte, 0, len(ns)+len(name)+2)
	b = append(b, ns...)
	b = append(b, 0)
	b = append(b, name...)
	return append(b, 0)
}

func indexEntryKey(prefix, enc []byte, key string) []byte {
	b := make([]byte, 0, len(prefix)+len(enc)+1+len(key))
	b = append(b, prefix...)
	b = append(b, enc...)
	b = append(b, 0)
	return append(b, key...)
}

// covers reports whether an index covers the entry e of key.
func covers(def *api.Index, key string, e *api.ConfigEntry) bool {
	if def.Schema != "" && def.Schema != e.Schema {
		return false
	}
	return def.State == api.IndexReady || (def.Cursor != "" && key <= def.Cursor)
}

// encodedAt is the encoded scalar of e at the index's path, nil if none.
func encodedAt(def *api.Index, e *api.ConfigEntry) []byte {
	p, err := index.ParsePath(def.Path)
	if err != nil {
		return nil // never stored: paths are checked before they are declared
	}
	s, ok := index.Extract(e.Value, p)
	if !ok {
		return nil
	}
	return index.EncodeScalar(s)
}

// Index reads an index definition, seeing this transaction's writes.
func (t *Txn) Index(ns, name string) (*api.Index, bool) {
	return t.idx.Get(indexDefKey(ns, name))
}

// IndexCount returns the number of indexes of a namespace.
func (t *Txn) IndexCount(ns string) int {
	n := 0
	it := t.idx.Root().Iterator()
	it.SeekPrefix(nsPrefix(ns))
	for _, _, ok := it.Next(); ok; _, _, ok = it.Next() {
		n++
	}
	return n
}

func (t *Txn) nsIndexes(ns string) []*api.Index {
	var out []*api.Index
	it := t.idx.Root().Iterator()
	it.SeekPrefix(nsPrefix(ns))
	for _, d, ok := it.Next(); ok; _, d, ok = it.Next() {
		out = append(out, d)
	}
	return out
}

// putIndexDef stores a definition (persist: also in bbolt; counts are
// derived and not persisted).
func (t *Txn) putIndexDef(d *api.Index, persist bool) error {
	if persist {
		c := *d
		c.Entries, c.Total = 0, 0
		b, err := marshal(&c)
		if err != nil {
			return fmt.Errorf("store: encode index: %w", err)
		}
		t.put(bucketIndexes, indexDefKey(d.Namespace, d.Name), b)
	}
	t.idx.Insert(indexDefKey(d.Namespace, d.Name), d)
	return nil
}

// CreateIndex declares an index. Callers check that the namespace exists,
// that the name is free and the path valid. An index of a namespace without
// config entries is ready at once; otherwise it is building with its cursor
// before the first key.
func (t *Txn) CreateIndex(ns, name, path, schema string, a Audit) (*api.Index, error) {
	d := &api.Index{
		Namespace: ns, Name: name, Path: path, Schema: schema, State: api.IndexBuilding,
		CreateRevision: t.rev, ModifyRevision: t.rev, CreatedBy: a.Principal, CreatedAt: a.Time,
	}
	it := t.cfg.Root().Iterator()
	it.SeekPrefix(nsPrefix(ns))
	if _, _, ok := it.Next(); !ok {
		d.State = api.IndexReady
	}
	return d, t.putIndexDef(d, true)
}

// DropIndex removes an index and its entries.
func (t *Txn) DropIndex(ns, name string) {
	t.ient.DeletePrefix(indexEntryPrefix(ns, name))
	t.idx.Delete(indexDefKey(ns, name))
	t.put(bucketIndexes, indexDefKey(ns, name), nil)
}

// dropNamespaceIndexes removes every index of a namespace.
func (t *Txn) dropNamespaceIndexes(ns string) {
	for _, d := range t.nsIndexes(ns) {
		t.DropIndex(ns, d.Name)
	}
}

// IndexChunk indexes the next n config keys after the build cursor of a
// building index and advances the cursor; the index becomes ready when no
// key is left. after must be the cursor the proposer saw: a chunk proposed
// twice (or by two leaders) fails with ErrIndexCursorMoved the second time
// and changes nothing.
func (t *Txn) IndexChunk(ns, name, after string, n int) (*api.Index, error) {
	d, ok := t.Index(ns, name)
	if !ok {
		return nil, fmt.Errorf("%w: %s/%s", ErrIndexNotFound, ns, name)
	}
	if d.State != api.IndexBuilding || d.Cursor != after {
		return nil, fmt.Errorf("%w: %s/%s is %s at cursor %q, the chunk expected %q",
			ErrIndexCursorMoved, ns, name, d.State, d.Cursor, after)
	}
	c := *d
	c.ModifyRevision = t.rev
	p, err := index.ParsePath(d.Path)
	if err != nil {
		return nil, fmt.Errorf("store: index %s/%s: %w", ns, name, err)
	}
	prefix := nsPrefix(ns)
	eprefix := indexEntryPrefix(ns, name)
	it := t.cfg.Root().Iterator()
	it.SeekLowerBound(configKey(ns, after))
	done := true
	for k, e, ok := it.Next(); ok; k, e, ok = it.Next() {
		if !bytes.HasPrefix(k, prefix) {
			break
		}
		key := string(k[len(prefix):])
		if key == after {
			continue
		}
		if n == 0 {
			done = false
			break
		}
		n--
		c.Cursor = key
		c.Processed++
		if d.Schema != "" && d.Schema != e.Schema {
			continue
		}
		if s, ok := index.Extract(e.Value, p); ok {
			if _, existed := t.ient.Insert(indexEntryKey(eprefix, index.EncodeScalar(s), key), struct{}{}); !existed {
				c.Entries++
			}
		}
	}
	if done {
		c.State = api.IndexReady
	}
	return &c, t.putIndexDef(&c, true)
}

// indexPut keeps the indexes of ns in step with the write of key from old
// (nil: absent) to e (nil: deleted).
func (t *Txn) indexPut(ns, key string, old, e *api.ConfigEntry) {
	for _, d := range t.nsIndexes(ns) {
		var oldEnc, newEnc []byte
		if old != nil && covers(d, key, old) {
			oldEnc = encodedAt(d, old)
		}
		if e != nil && covers(d, key, e) {
			newEnc = encodedAt(d, e)
		}
		if bytes.Equal(oldEnc, newEnc) {
			continue
		}
		c := *d
		prefix := indexEntryPrefix(ns, d.Name)
		if oldEnc != nil {
			if _, ok := t.ient.Delete(indexEntryKey(prefix, oldEnc, key)); ok {
				c.Entries--
			}
		}
		if newEnc != nil {
			if _, existed := t.ient.Insert(indexEntryKey(prefix, newEnc, key), struct{}{}); !existed {
				c.Entries++
			}
		}
		_ = t.putIndexDef(&c, false)
	}
}

// loadIndexes reads the definitions and rebuilds every index's entries from
// the loaded config entries.
func loadIndexes(tx *bolt.Tx, v *View) error {
	b := tx.Bucket(bucketIndexes)
	if b == nil {
		return nil
	}
	idx := v.indexes.Txn()
	ient := v.ientries.Txn()
	err := b.ForEach(func(k, raw []byte) error {
		var d api.Index
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("index %q: %w", k, err)
		}
		d.Entries = buildEntries(v.configs, ient, &d)
		idx.Insert(bytes.Clone(k), &d)
		return nil
	})
	if err != nil {
		return err
	}
	v.indexes, v.ientries = idx.Commit(), ient.Commit()
	return nil
}

// buildEntries inserts the entries of d for the config entries it covers
// and returns their count.
func buildEntries(configs *iradix.Tree[*api.ConfigEntry], ient *iradix.Txn[struct{}], d *api.Index) int {
	p, err := index.ParsePath(d.Path)
	if err != nil {
		return 0
	}
	prefix := nsPrefix(d.Namespace)
	eprefix := indexEntryPrefix(d.Namespace, d.Name)
	n := 0
	it := configs.Root().Iterator()
	it.SeekPrefix(prefix)
	for k, e, ok := it.Next(); ok; k, e, ok = it.Next() {
		key := string(k[len(prefix):])
		if !covers(d, key, e) {
			if d.State != api.IndexReady && key > d.Cursor {
				break
			}
			continue
		}
		if s, ok := index.Extract(e.Value, p); ok {
			ient.Insert(indexEntryKey(eprefix, index.EncodeScalar(s), key), struct{}{})
			n++
		}
	}
	return n
}
