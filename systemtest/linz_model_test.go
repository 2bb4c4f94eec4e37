package systemtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability checker: a history of operations on a few config
// keys, checked with porcupine against a model of one key (the history is
// partitioned by key, so each key is checked on its own).
//
// The model's state of a key is whether it exists, its value and its
// per-key version. Compare-and-set conditions name a modify revision (a
// raft index) that the model cannot predict for a write whose outcome is
// unknown; but every write carries a unique value, so a revision belongs
// to exactly one value. The checker collects the (value, revision) pairs
// that any answer revealed (kvFacts) before it checks, and the model
// compares a condition's revision with the revision of the value it holds.
// A condition names a revision a client saw, with its value or alone (a
// 412's current revision); a value whose revision nobody saw may match a
// revision that no other value is known to hold.

// kvOpKind is the kind of an operation.
type kvOpKind uint8

const (
	kvGet    kvOpKind = iota // linearizable GET
	kvPut                    // unconditional PUT
	kvCAS                    // PUT with If-Match (Expect > 0) or If-None-Match: * (Expect == 0)
	kvDelete                 // unconditional DELETE
)

func (k kvOpKind) String() string {
	return [...]string{"get", "put", "cas", "delete"}[k]
}

// kvInput is what a client asked.
type kvInput struct {
	Op     kvOpKind
	Key    string
	Value  string // put, cas: the new (unique) value
	Expect uint64 // cas: the modify revision required; 0 = the key must not exist
}

// kvResult is how an operation ended.
type kvResult uint8

const (
	resOK       kvResult = iota // 2xx
	resNotFound                 // 404 config_not_found (get, delete)
	resMismatch                 // 412 revision_mismatch (cas)
	resUnknown                  // timeout, transport error, 503 outcome_unknown, 5xx: may or may not have happened
)

// kvOutput is what the client observed.
type kvOutput struct {
	Result  kvResult
	Value   string // get: the value read
	Version uint64 // get, put, cas: the entry's version
	Rev     uint64 // get, put, cas: the entry's modify revision
	Created bool   // put, cas: 201 (the key did not exist)
	Current uint64 // cas mismatch: the key's revision the server reported (0: absent)
}

// kvState is the model's state of one key.
type kvState struct {
	Exists  bool
	Value   string
	Version uint64
}

// kvFacts are the (value, revision) pairs that answers revealed.
type kvFacts struct {
	revOf map[string]uint64 // value -> its modify revision
	valOf map[string]string // key + "@" + revision -> value
}

func revKey(key string, rev uint64) string { return fmt.Sprintf("%s@%d", key, rev) }

// collectFacts gathers every (value, revision) pair the history shows and
// returns the contradictions found on the way (one revision with two
// values of a key, or one value at two revisions).
func collectFacts(ops []porcupine.Operation, stale []staleRead) (kvFacts, []string) {
	f := kvFacts{revOf: map[string]uint64{}, valOf: map[string]string{}}
	var problems []string
	add := func(key, value string, rev uint64, where string) {
		if value == "" || rev == 0 {
			return
		}
		if r, ok := f.revOf[value]; ok && r != rev {
			problems = append(problems, fmt.Sprintf("value %q of %s seen at revisions %d and %d (%s)", value, key, r, rev, where))
		}
		if v, ok := f.valOf[revKey(key, rev)]; ok && v != value {
			problems = append(problems, fmt.Sprintf("%s at revision %d seen as %q and %q (%s)", key, rev, v, value, where))
		}
		f.revOf[value] = rev
		f.valOf[revKey(key, rev)] = value
	}
	for _, op := range ops {
		in, out := op.Input.(kvInput), op.Output.(kvOutput)
		if out.Result != resOK {
			continue
		}
		switch in.Op {
		case kvGet:
			add(in.Key, out.Value, out.Rev, "linearizable read")
		case kvPut, kvCAS:
			add(in.Key, in.Value, out.Rev, "write acknowledgement")
		}
	}
	for _, r := range stale {
		if r.Found {
			add(r.Key, r.Value, r.Rev, "stale read on "+r.Node)
		}
	}
	return f, problems
}

// matches reports whether a key in state s satisfies a condition on
// revision rev (0: the key must not exist). A client can learn a revision
// without its value, from a 412's current revision, and name it in its next
// condition; the value written there may be one whose write had an unknown
// outcome and that nobody read. So, as in mayBeAt, a value whose revision
// nobody saw may be the one at rev unless rev is known to be another
// value's.
func (f kvFacts) matches(s kvState, key string, rev uint64) bool {
	return f.mayBeAt(s, key, rev)
}

// mayBeAt reports whether state s can be the one the server described as
// "the key's modify revision is cur" (0: absent) in a 412.
func (f kvFacts) mayBeAt(s kvState, key string, cur uint64) bool {
	if cur == 0 {
		return !s.Exists
	}
	if !s.Exists {
		return false
	}
	if r, ok := f.revOf[s.Value]; ok {
		return r == cur
	}
	// A value nobody saw the revision of: it may be the one at cur unless
	// cur is known to be another value's.
	_, known := f.valOf[revKey(key, cur)]
	return !known
}

// kvModel is the porcupine model of one key, partitioned by key.
func kvModel(f kvFacts) porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			var keys []string
			for _, op := range history {
				k := op.Input.(kvInput).Key
				if _, ok := byKey[k]; !ok {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], op)
			}
			sort.Strings(keys)
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, byKey[k])
			}
			return out
		},
		Init: func() any { return kvState{} },
		Step: func(state, input, output any) (bool, any) {
			return kvStep(f, state.(kvState), input.(kvInput), output.(kvOutput))
		},
		DescribeOperation: func(input, output any) string {
			return describeKV(input.(kvInput), output.(kvOutput))
		},
		DescribeState: func(state any) string {
			s := state.(kvState)
			if !s.Exists {
				return "absent"
			}
			if r, ok := f.revOf[s.Value]; ok {
				return fmt.Sprintf("%s v%d @%d", s.Value, s.Version, r)
			}
			return fmt.Sprintf("%s v%d @?", s.Value, s.Version)
		},
	}
}

// kvStep is the sequential specification of one key.
func kvStep(f kvFacts, s kvState, in kvInput, out kvOutput) (bool, kvState) {
	written := kvState{Exists: true, Value: in.Value, Version: s.Version + 1}
	if !s.Exists {
		written.Version = 1
	}
	wroteOK := func() bool {
		return out.Version == written.Version && out.Created == !s.Exists
	}
	switch in.Op {
	case kvGet:
		switch out.Result {
		case resOK:
			return s.Exists && s.Value == out.Value && s.Version == out.Version, s
		case resNotFound:
			return !s.Exists, s
		}
	case kvPut:
		switch out.Result {
		case resOK:
			return wroteOK(), written
		case resUnknown:
			return true, written
		}
	case kvCAS:
		ok := f.matches(s, in.Key, in.Expect)
		switch out.Result {
		case resOK:
			return ok && wroteOK(), written
		case resMismatch:
			return !ok && f.mayBeAt(s, in.Key, out.Current), s
		case resUnknown:
			if ok {
				return true, written
			}
			return true, s
		}
	case kvDelete:
		switch out.Result {
		case resOK:
			return s.Exists, kvState{}
		case resNotFound:
			return !s.Exists, s
		case resUnknown:
			return true, kvState{}
		}
	}
	return false, s
}

func describeKV(in kvInput, out kvOutput) string {
	var b strings.Builder
	switch in.Op {
	case kvGet:
		fmt.Fprintf(&b, "get(%s)", in.Key)
	case kvPut:
		fmt.Fprintf(&b, "put(%s, %s)", in.Key, in.Value)
	case kvCAS:
		fmt.Fprintf(&b, "cas(%s, if @%d, %s)", in.Key, in.Expect, in.Value)
	case kvDelete:
		fmt.Fprintf(&b, "delete(%s)", in.Key)
	}
	switch out.Result {
	case resOK:
		switch in.Op {
		case kvGet:
			fmt.Fprintf(&b, " -> %s v%d @%d", out.Value, out.Version, out.Rev)
		case kvPut, kvCAS:
			fmt.Fprintf(&b, " -> ok v%d @%d", out.Version, out.Rev)
			if out.Created {
				b.WriteString(" created")
			}
		default:
			b.WriteString(" -> ok")
		}
	case resNotFound:
		b.WriteString(" -> not found")
	case resMismatch:
		fmt.Fprintf(&b, " -> 412 (current @%d)", out.Current)
	case resUnknown:
		b.WriteString(" -> ? (unknown)")
	}
	return b.String()
}

// linzResult is the outcome of checking one history.
type linzResult struct {
	Result   porcupine.CheckResult
	Ops      int // operations checked
	Unknown  int // of which indeterminate
	Keys     int // partitions
	Elapsed  time.Duration
	Problems []string // contradictions among revealed (value, revision) pairs
	HTML     string   // visualisation, written when Result is not Ok
}

// checkLinearizable checks ops with porcupine (timeout bounds the search;
// running out of it is a failure, as in etcd's robustness tests) and, when
// the history is not linearizable or the check ran out of time, writes the
// visualisation to name.html in the artifacts directory.
func checkLinearizable(dir, name string, ops []porcupine.Operation, stale []staleRead, notes []porcupine.Annotation, timeout time.Duration) (linzResult, error) {
	facts, problems := collectFacts(ops, stale)
	model := kvModel(facts)
	r := linzResult{Ops: len(ops), Problems: problems}
	keys := map[string]bool{}
	for _, op := range ops {
		keys[op.Input.(kvInput).Key] = true
		if op.Output.(kvOutput).Result == resUnknown {
			r.Unknown++
		}
	}
	r.Keys = len(keys)
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	r.Elapsed = time.Since(start)
	r.Result = res
	if res == porcupine.Ok {
		return r, nil
	}
	info.AddAnnotations(notes)
	r.HTML = filepath.Join(dir, sanitize(name)+".html")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	if err := porcupine.VisualizePath(model, info, r.HTML); err != nil {
		return r, fmt.Errorf("visualise %s: %w", r.HTML, err)
	}
	return r, nil
}

// staleRead is a GET with consistency=stale.
type staleRead struct {
	Node         string
	Key          string
	Call, Return int64 // nanoseconds since the history began
	Index        uint64
	Found        bool
	Value        string
	Version      uint64
	Rev          uint64
}

// checkStaleReads checks the one promise stale reads make: a node never
// goes back in time. For two stale reads on the same node where the first
// returned before the second was sent, the second's X-Schemakv-Index must
// not be lower, and when both found the key, its modify revision must not
// be lower either. Each read must also be internally consistent: a found
// entry's modify revision is at most the index the answer reflects.
func checkStaleReads(reads []staleRead) []string {
	var problems []string
	byNode := map[string][]staleRead{}
	for _, r := range reads {
		byNode[r.Node] = append(byNode[r.Node], r)
		if r.Found && r.Rev > r.Index {
			problems = append(problems, fmt.Sprintf("%s: stale read of %s at index %d returned modify_revision %d", r.Node, r.Key, r.Index, r.Rev))
		}
	}
	nodes := make([]string, 0, len(byNode))
	for n := range byNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		rs := byNode[n]
		byCall := slices.Clone(rs)
		slices.SortFunc(byCall, func(a, b staleRead) int { return cmpInt64(a.Call, b.Call) })
		byReturn := slices.Clone(rs)
		slices.SortFunc(byReturn, func(a, b staleRead) int { return cmpInt64(a.Return, b.Return) })
		var (
			maxIdx   staleRead // the completed read with the highest index
			haveIdx  bool
			maxByKey = map[string]staleRead{} // per key, the completed found read with the highest revision
			j        int
		)
		for _, r := range byCall {
			for j < len(byReturn) && byReturn[j].Return < r.Call {
				d := byReturn[j]
				if !haveIdx || d.Index > maxIdx.Index {
					maxIdx, haveIdx = d, true
				}
				if d.Found {
					if m, ok := maxByKey[d.Key]; !ok || d.Rev > m.Rev {
						maxByKey[d.Key] = d
					}
				}
				j++
			}
			if haveIdx && r.Index < maxIdx.Index {
				problems = append(problems, fmt.Sprintf("%s went back in time: a stale read of %s sent at %v answered index %d, after a read that returned at %v with index %d",
					n, r.Key, time.Duration(r.Call), r.Index, time.Duration(maxIdx.Return), maxIdx.Index))
			}
			if m, ok := maxByKey[r.Key]; ok && r.Found && r.Rev < m.Rev {
				problems = append(problems, fmt.Sprintf("%s went back in time on %s: a stale read sent at %v returned %s @%d, after a read that returned at %v with %s @%d",
					n, r.Key, time.Duration(r.Call), r.Value, r.Rev, time.Duration(m.Return), m.Value, m.Rev))
			}
		}
	}
	return problems
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
