package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/index"
)

// DefaultMaxExamined is the default bound on the entries one where-query
// may look at.
const DefaultMaxExamined = 100_000

// Index returns one index definition with its counts.
func (v *View) Index(ns, name string) (*api.Index, bool) {
	d, ok := v.indexes.Get(indexDefKey(ns, name))
	if !ok {
		return nil, false
	}
	return v.withTotal(d), true
}

// Indexes returns a namespace's indexes in name order.
func (v *View) Indexes(ns string) []*api.Index {
	var out []*api.Index
	it := v.indexes.Root().Iterator()
	it.SeekPrefix(nsPrefix(ns))
	for _, d, ok := it.Next(); ok; _, d, ok = it.Next() {
		out = append(out, v.withTotal(d))
	}
	return out
}

// BuildingIndex returns the first index (in namespace and name order) that
// is still building.
func (v *View) BuildingIndex() (*api.Index, bool) {
	it := v.indexes.Root().Iterator()
	for _, d, ok := it.Next(); ok; _, d, ok = it.Next() {
		if d.State == api.IndexBuilding {
			return d, true
		}
	}
	return nil, false
}

// IndexCount returns the number of indexes of a namespace.
func (v *View) IndexCount(ns string) int { return len(v.Indexes(ns)) }

func (v *View) withTotal(d *api.Index) *api.Index {
	c := *d
	if n, ok := v.namespaces.Get([]byte(d.Namespace)); ok {
		c.Total = n.ConfigCount
	}
	return &c
}

// Query is a where-query over one namespace's config entries.
type Query struct {
	Namespace string
	// Prefix keeps only keys that start with it; After starts after this key.
	Prefix, After string
	// Schema keeps only entries pinned to this schema name; it also lets
	// the query use indexes restricted to that schema.
	Schema string
	// Clauses are combined with AND; at least one.
	Clauses []index.Clause
	// Limit is the page size (at least 1).
	Limit int
	// AllowScan permits a scan in key order when no clause has a ready
	// index.
	AllowScan bool
	// MaxExamined bounds the entries looked at (0: DefaultMaxExamined).
	MaxExamined int
}

// QueryResult is one page of a where-query.
type QueryResult struct {
	Items []*api.ConfigEntry
	// More reports that matching entries remain after the page.
	More bool
	// Plan is "index:NAME" or "scan".
	Plan string
	// Examined counts the entries looked at.
	Examined int
}

// Query answers a where-query. The plan: the most selective clause that a
// ready index serves drives the query (its index's entries are the
// candidates; the other clauses are checked on each candidate's value), and
// the matches are sorted by key. When the driving clause has more than
// MaxExamined candidates, or no clause has a ready index and AllowScan is
// set, entries are scanned in key order instead, at most MaxExamined of
// them. Errors: ErrIndexRequired (no ready index, no AllowScan) and
// ErrQueryTooBroad (a scan ran out of its bound before filling the page).
func (v *View) Query(q Query) (*QueryResult, error) {
	if q.MaxExamined <= 0 {
		q.MaxExamined = DefaultMaxExamined
	}
	q.Limit = max(q.Limit, 1)
	best, bestDef := -1, (*api.Index)(nil)
	for i, c := range q.Clauses {
		d := v.readyIndexFor(q.Namespace, c.Path.String(), q.Schema)
		if d == nil {
			continue
		}
		if best < 0 || c.Selectivity() < q.Clauses[best].Selectivity() {
			best, bestDef = i, d
		}
	}
	if best < 0 {
		if !q.AllowScan {
			paths := make([]string, len(q.Clauses))
			for i, c := range q.Clauses {
				paths[i] = c.Path.String()
			}
			return nil, fmt.Errorf("%w: no ready index on %s in namespace %q (declare one, or pass allow_scan=true for a scan of at most %d entries)",
				ErrIndexRequired, strings.Join(paths, ", "), q.Namespace, q.MaxExamined)
		}
		return v.scanQuery(q)
	}
	res, ok := v.indexQuery(q, best, bestDef)
	if !ok {
		return v.scanQuery(q)
	}
	return res, nil
}

// readyIndexFor returns a ready index on path usable by a query of schema.
// A namespace-wide index wins over a schema-restricted one.
func (v *View) readyIndexFor(ns, path, schema string) *api.Index {
	var found *api.Index
	it := v.indexes.Root().Iterator()
	it.SeekPrefix(nsPrefix(ns))
	for _, d, ok := it.Next(); ok; _, d, ok = it.Next() {
		if d.Path != path || d.State != api.IndexReady {
			continue
		}
		if d.Schema == "" {
			return d
		}
		if d.Schema == schema && found == nil {
			found = d
		}
	}
	return found
}

// indexQuery collects the candidates of clause best from index d; ok is
// false when there are more than q.MaxExamined of them.
func (v *View) indexQuery(q Query, best int, d *api.Index) (*QueryResult, bool) {
	prefix := indexEntryPrefix(q.Namespace, d.Name)
	var keys []string
	for _, r := range q.Clauses[best].Ranges() {
		lo := append(bytes.Clone(prefix), r.Lo...)
		var hi []byte
		if r.Hi != nil {
			hi = append(bytes.Clone(prefix), r.Hi...)
		} else {
			hi = index.PrefixEnd(prefix)
		}
		it := v.ientries.Root().Iterator()
		it.SeekLowerBound(lo)
		for k, _, ok := it.Next(); ok; k, _, ok = it.Next() {
			if hi != nil && bytes.Compare(k, hi) >= 0 {
				break
			}
			if len(keys) == q.MaxExamined {
				return nil, false
			}
			rest := k[len(prefix):]
			n := index.EncodedLen(rest)
			if n < 0 || n >= len(rest) {
				continue // cannot happen: entries are written by indexEntryKey
			}
			keys = append(keys, string(rest[n+1:]))
		}
	}
	res := &QueryResult{Plan: api.PlanIndex + ":" + d.Name, Examined: len(keys)}
	slices.Sort(keys)
	for _, key := range keys {
		if !strings.HasPrefix(key, q.Prefix) || (q.After != "" && key <= q.After) {
			continue
		}
		e, ok := v.configs.Get(configKey(q.Namespace, key))
		if !ok || !q.matches(e, best) {
			continue
		}
		if len(res.Items) == q.Limit {
			res.More = true
			break
		}
		res.Items = append(res.Items, e)
	}
	return res, true
}

// matches checks every clause but skip (-1: none) and the schema filter.
func (q *Query) matches(e *api.ConfigEntry, skip int) bool {
	if q.Schema != "" && e.Schema != q.Schema {
		return false
	}
	for i, c := range q.Clauses {
		if i != skip && !c.MatchValue(e.Value) {
			return false
		}
	}
	return true
}

// scanQuery checks entries in key order, at most q.MaxExamined of them.
func (v *View) scanQuery(q Query) (*QueryResult, error) {
	res := &QueryResult{Plan: api.PlanScan}
	full := configKey(q.Namespace, q.Prefix)
	start := full
	afterKey := configKey(q.Namespace, q.After)
	if q.After != "" && bytes.Compare(afterKey, full) > 0 {
		start = afterKey
	}
	it := v.configs.Root().Iterator()
	it.SeekLowerBound(start)
	for k, e, ok := it.Next(); ok; k, e, ok = it.Next() {
		if !bytes.HasPrefix(k, full) {
			break
		}
		if q.After != "" && bytes.Equal(k, afterKey) {
			continue
		}
		if res.Examined == q.MaxExamined {
			return nil, fmt.Errorf("%w: the scan examined %d entries of namespace %q and found %d of the %d asked for; declare an index on one of the paths, narrow the prefix, or page with a smaller limit",
				ErrQueryTooBroad, q.MaxExamined, q.Namespace, len(res.Items), q.Limit)
		}
		res.Examined++
		if !q.matches(e, -1) {
			continue
		}
		if len(res.Items) == q.Limit {
			res.More = true
			break
		}
		res.Items = append(res.Items, e)
	}
	return res, nil
}
