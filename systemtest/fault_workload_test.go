package systemtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/schemakv/schemakv/api"
)

// kvWorkload is a set of clients, spread over the nodes, that run put /
// linearizable get / stale get / compare-and-set / delete on a few keys of
// one namespace with a unique value per write, and record every operation
// with its call and return time for the checkers.
//
// How an answer is recorded:
//   - 2xx, 404 config_not_found, 412 revision_mismatch: a definite result.
//   - connection refused, 503 no_leader: the request was not carried out
//     (the server says so); left out of the history, and its value is
//     remembered so that seeing it later is reported as a bug.
//   - anything else on a write (timeout, reset, 503 outcome_unknown, 5xx):
//     may or may not have happened; recorded with an unknown output and a
//     return time after the end of the history.
//   - anything else on a read: left out (a read that failed changed
//     nothing).
type kvWorkload struct {
	c       faultCluster
	ns      string
	keys    []string
	tag     string // prefix of every value, unique per history
	timeout time.Duration
	t0      time.Time

	stop atomic.Bool
	wg   sync.WaitGroup

	mu      sync.Mutex
	ops     []porcupine.Operation
	stale   []staleRead
	refused map[string]string // value -> why the write was refused (definite)
	odd     []string          // answers a correct server never gives (4xx other than the expected)
	counts  map[string]int    // outcome tallies for the report
}

// wlOp is one client operation before it becomes a porcupine operation.
type wlOp struct {
	client int
	node   string
	in     kvInput
	stale  bool
	call   int64
}

func newKVWorkload(c faultCluster, ns, tag string, keys []string, timeout time.Duration) *kvWorkload {
	return &kvWorkload{
		c: c, ns: ns, keys: keys, tag: tag, timeout: timeout, t0: time.Now(),
		refused: map[string]string{}, counts: map[string]int{},
	}
}

// now is the time since the history began, in nanoseconds (monotonic).
func (w *kvWorkload) now() int64 { return int64(time.Since(w.t0)) }

// start runs n clients; client i talks to node i mod len(nodes).
func (w *kvWorkload) start(n int) {
	nodes := w.c.Nodes()
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.client(i, nodes[i%len(nodes)])
		}()
	}
}

// halt stops the clients and waits for them.
func (w *kvWorkload) halt() {
	w.stop.Store(true)
	w.wg.Wait()
}

func (w *kvWorkload) client(id int, node string) {
	rng := rand.New(rand.NewPCG(uint64(id), uint64(w.t0.UnixNano())))
	known := map[string]uint64{} // key -> the modify revision this client last saw (0: absent)
	for seq := 0; !w.stop.Load(); seq++ {
		key := w.keys[rng.IntN(len(w.keys))]
		op := wlOp{client: id, node: node}
		value := fmt.Sprintf("%s-c%d-%d", w.tag, id, seq)
		switch r := rng.IntN(100); {
		case r < 30:
			op.in = kvInput{Op: kvGet, Key: key}
		case r < 40:
			op.in = kvInput{Op: kvGet, Key: key}
			op.stale = true
		case r < 65:
			op.in = kvInput{Op: kvPut, Key: key, Value: value}
		case r < 90:
			op.in = kvInput{Op: kvCAS, Key: key, Value: value, Expect: known[key]}
		default:
			op.in = kvInput{Op: kvDelete, Key: key}
		}
		out, ok := w.do(op)
		if !ok {
			// Not carried out or no answer: give a dead or cut-off node a
			// moment instead of spinning on it.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		switch {
		case out.Result == resOK && op.in.Op != kvDelete:
			known[key] = out.Rev
		case out.Result == resOK, out.Result == resNotFound:
			known[key] = 0
		case out.Result == resMismatch:
			known[key] = out.Current
		}
	}
}

// do runs one operation and records it; ok is false when it got no
// definite answer.
func (w *kvWorkload) do(op wlOp) (kvOutput, bool) {
	u := w.c.URL(op.node) + "/v1/namespaces/" + w.ns + "/configs/" + op.in.Key
	var (
		method = http.MethodGet
		body   any
		hdr    = http.Header{}
	)
	switch op.in.Op {
	case kvGet:
		if op.stale {
			u += "?consistency=stale"
		}
	case kvPut, kvCAS:
		method = http.MethodPut
		body = fmt.Sprintf(`{"schema": "item@1", "value": {"w": %q}}`, op.in.Value)
		if op.in.Op == kvCAS {
			if op.in.Expect == 0 {
				hdr.Set("If-None-Match", "*")
			} else {
				hdr.Set("If-Match", strconv.Quote(strconv.FormatUint(op.in.Expect, 10)))
			}
		}
	case kvDelete:
		method = http.MethodDelete
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	op.call = w.now()
	status, rh, b, err := doHTTP(ctx, method, u, body, hdr)
	ret := w.now()
	cancel()

	isWrite := op.in.Op != kvGet
	var code string
	if err == nil && status >= 300 {
		var eb api.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != nil {
			code = eb.Error.Code
		}
	}
	var out kvOutput
	switch {
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		w.refuse(op, "connection refused")
		return out, false
	case err != nil:
		if !isWrite {
			w.tally(op, "read failed")
			return out, false
		}
		out.Result = resUnknown
		w.record(op, out, "error: "+err.Error(), ret)
		return out, false
	case status == http.StatusOK || status == http.StatusCreated:
		out.Result = resOK
		if op.in.Op != kvDelete {
			var e api.ConfigEntry
			var v struct {
				W string `json:"w"`
			}
			if err := json.Unmarshal(b, &e); err != nil || json.Unmarshal(e.Value, &v) != nil {
				w.oddAnswer(op, status, b)
				return out, false
			}
			out.Value, out.Version, out.Rev = v.W, e.Version, e.ModifyRevision
			out.Created = status == http.StatusCreated
			if op.in.Op != kvGet {
				out.Value = ""
			}
		}
	case status == http.StatusNotFound && code == api.CodeConfigNotFound && (op.in.Op == kvGet || op.in.Op == kvDelete):
		out.Result = resNotFound
	case status == http.StatusPreconditionFailed && code == api.CodeRevisionMismatch && op.in.Op == kvCAS:
		out.Result = resMismatch
		var eb api.ErrorBody
		_ = json.Unmarshal(b, &eb)
		out.Current = eb.Error.Revision
	case status == http.StatusServiceUnavailable && code == api.CodeNoLeader:
		w.refuse(op, "503 no_leader")
		return out, false
	case status >= 400 && status < 500:
		w.oddAnswer(op, status, b)
		return out, false
	default: // 5xx: outcome_unknown, shutting_down, timeout, internal
		if !isWrite {
			w.tally(op, "read failed")
			return out, false
		}
		out.Result = resUnknown
		w.record(op, out, fmt.Sprintf("%d %s", status, code), ret)
		return out, false
	}
	if op.stale {
		idx, _ := strconv.ParseUint(rh.Get("X-Schemakv-Index"), 10, 64)
		w.mu.Lock()
		w.stale = append(w.stale, staleRead{
			Node: op.node, Key: op.in.Key, Call: op.call, Return: ret, Index: idx,
			Found: out.Result == resOK, Value: out.Value, Version: out.Version, Rev: out.Rev,
		})
		w.counts["stale read"]++
		w.mu.Unlock()
		return out, true
	}
	w.record(op, out, "", ret)
	return out, true
}

func (w *kvWorkload) record(op wlOp, out kvOutput, note string, ret int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	meta := op.node
	if note != "" {
		meta += ": " + note
	}
	w.ops = append(w.ops, porcupine.Operation{
		ClientId: op.client, Input: op.in, Call: op.call, Output: out, Return: ret, Metadata: meta,
	})
	switch out.Result {
	case resUnknown:
		w.counts["indeterminate "+op.in.Op.String()]++
	case resMismatch:
		w.counts["cas refused (412)"]++
	case resNotFound:
		w.counts[op.in.Op.String()+" not found"]++
	default:
		w.counts[op.in.Op.String()+" ok"]++
	}
}

func (w *kvWorkload) refuse(op wlOp, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts["not carried out: "+why]++
	if op.in.Value != "" {
		w.refused[op.in.Value] = fmt.Sprintf("%s of %s on %s refused with %s", op.in.Op, op.in.Key, op.node, why)
	}
}

func (w *kvWorkload) tally(_ wlOp, what string) {
	w.mu.Lock()
	w.counts[what]++
	w.mu.Unlock()
}

func (w *kvWorkload) oddAnswer(op wlOp, status int, b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.odd = append(w.odd, fmt.Sprintf("%s %s on %s: status %d: %s", op.in.Op, op.in.Key, op.node, status, b))
}

// history returns the recorded operations, indeterminate ones returning
// after everything else, and the stale reads.
func (w *kvWorkload) history() ([]porcupine.Operation, []staleRead) {
	w.mu.Lock()
	defer w.mu.Unlock()
	end := w.now() + int64(time.Second)
	ops := make([]porcupine.Operation, len(w.ops))
	for i, op := range w.ops {
		if op.Output.(kvOutput).Result == resUnknown {
			op.Return = end
		}
		ops[i] = op
	}
	return ops, append([]staleRead(nil), w.stale...)
}

// refusedButSeen lists writes the server refused definitively whose value
// some read returned anyway: a write reported as not done that was done.
func (w *kvWorkload) refusedButSeen(ops []porcupine.Operation, stale []staleRead) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	seen := func(v, how string) {
		if why, ok := w.refused[v]; ok {
			out = append(out, fmt.Sprintf("%s, yet %s returned its value %q", why, how, v))
			delete(w.refused, v)
		}
	}
	for _, op := range ops {
		if o := op.Output.(kvOutput); o.Result == resOK && o.Value != "" {
			seen(o.Value, "a linearizable read")
		}
	}
	for _, r := range stale {
		if r.Found {
			seen(r.Value, "a stale read on "+r.Node)
		}
	}
	return out
}

// firstAckAfter is the time from at (nanoseconds since the history began)
// to the return of the first write sent at or after at that got a definite
// answer, and a description of that write.
func (w *kvWorkload) firstAckAfter(at int64) (time.Duration, string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first *porcupine.Operation
	for i, op := range w.ops {
		in, out := op.Input.(kvInput), op.Output.(kvOutput)
		if in.Op == kvGet || out.Result == resUnknown || op.Call < at {
			continue
		}
		if first == nil || op.Return < first.Return {
			first = &w.ops[i]
		}
	}
	if first == nil {
		return 0, "", false
	}
	return time.Duration(first.Return - at), fmt.Sprintf("%s on %v, sent %v after the fault",
		describeKV(first.Input.(kvInput), first.Output.(kvOutput)), first.Metadata, time.Duration(first.Call-at).Round(time.Millisecond)), true
}

// longestWriteGap is the longest interval between two consecutive definite
// answers to writes, and when it began (history time).
func (w *kvWorkload) longestWriteGap() (time.Duration, int64) {
	w.mu.Lock()
	var rets []int64
	for _, op := range w.ops {
		if op.Input.(kvInput).Op != kvGet && op.Output.(kvOutput).Result != resUnknown {
			rets = append(rets, op.Return)
		}
	}
	w.mu.Unlock()
	slices.Sort(rets)
	var gap, at int64
	for i := 1; i < len(rets); i++ {
		if d := rets[i] - rets[i-1]; d > gap {
			gap, at = d, rets[i-1]
		}
	}
	return time.Duration(gap), at
}
