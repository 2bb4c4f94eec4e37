package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
)

// Default batch limits: the server's (DESIGN.md §9), with room in the byte
// budget for the request envelope.
const (
	DefaultMaxBatchOps   = 1000
	DefaultMaxBatchBytes = 4<<20 - 16<<10
)

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// MaxBatchOps and MaxBatchBytes bound one batch request; zero means the
	// defaults. They must not exceed the server's limits.
	MaxBatchOps   int
	MaxBatchBytes int
	// Progress, when set, is called after each step with the number of
	// config operations committed so far and the total.
	Progress func(done, total int)
}

// ApplyResult reports what Apply committed.
type ApplyResult struct {
	NamespacesCreated int      `json:"namespaces_created"`
	SchemasRegistered []string `json:"schemas_registered,omitempty"`
	// Batches lists the revision of each committed config batch, in order.
	Batches        []uint64 `json:"batches,omitempty"`
	ConfigsWritten int      `json:"configs_written"`
}

// Conflict is an object that changed on the server after the plan was made.
type Conflict struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	// Planned is what the plan expected (a modify revision, or for a schema
	// the latest version); Current what the server had (0: absent).
	Planned uint64 `json:"planned"`
	Current uint64 `json:"current"`
}

// ConflictError reports that the server changed between plan and apply. The
// operations that met a conflict were not applied, and nothing after them
// was sent; steps before them (listed in Result) were committed.
type ConflictError struct {
	Conflicts []Conflict
	Result    *ApplyResult
}

// Error lists the conflicts.
func (e *ConflictError) Error() string {
	lines := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		switch c.Kind {
		case api.KindSchema:
			lines[i] = fmt.Sprintf("schema %s/%s: planned as the next version after %d, the server is at %d", c.Namespace, c.Key, c.Planned, c.Current)
		case api.KindNamespace:
			lines[i] = fmt.Sprintf("namespace %s: created by someone else since the plan", c.Namespace)
		default:
			lines[i] = fmt.Sprintf("config %s/%s: planned at revision %d, now %s", c.Namespace, c.Key, c.Planned, revOrAbsent(c.Current))
		}
	}
	msg := fmt.Sprintf("gitops: %d object(s) changed on the server since the plan (not overwritten; plan again):\n  %s",
		len(e.Conflicts), strings.Join(lines, "\n  "))
	if r := e.Result; r != nil && (r.NamespacesCreated > 0 || len(r.SchemasRegistered) > 0 || len(r.Batches) > 0) {
		msg += fmt.Sprintf("\napplied before the conflict: %d namespace(s), schema versions %v, %d config change(s) in batches at revisions %v",
			r.NamespacesCreated, r.SchemasRegistered, r.ConfigsWritten, r.Batches)
	}
	return msg
}

func revOrAbsent(r uint64) string {
	if r == 0 {
		return "absent"
	}
	return fmt.Sprintf("revision %d", r)
}

// Apply carries out a plan: namespaces first, then schema versions in order,
// then config changes through atomic batches (POST /v1/batch), as few as the
// limits allow, each operation conditional on the revision seen at plan
// time. When the server changed since the plan, Apply stops at the first
// step that meets the change and returns a *ConflictError; nothing is
// overwritten. Batches before it stay committed (a plan that fits one batch
// applies its configs all or nothing).
func Apply(ctx context.Context, c *client.Client, p *Plan, opts ApplyOptions) (*ApplyResult, error) {
	if p.Format != PlanFormat {
		return nil, fmt.Errorf("gitops: plan format %d, want %d", p.Format, PlanFormat)
	}
	if opts.MaxBatchOps <= 0 {
		opts.MaxBatchOps = DefaultMaxBatchOps
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = DefaultMaxBatchBytes
	}
	res := &ApplyResult{}
	wo := &client.WriteOptions{Reason: p.Reason}

	for _, n := range p.CreateNamespaces {
		_, _, err := c.Namespaces().Create(ctx, n.Name, api.CreateNamespaceRequest{Description: n.Description, Reason: p.Reason}, wo)
		if isCode(err, api.CodeNamespaceExists) {
			return res, &ConflictError{Conflicts: []Conflict{{Kind: api.KindNamespace, Namespace: n.Name}}, Result: res}
		}
		if err != nil {
			return res, fmt.Errorf("gitops: creating namespace %s: %w", n.Name, err)
		}
		res.NamespacesCreated++
	}

	for _, s := range p.Schemas {
		latest := 0
		sv, _, err := c.Schemas().Latest(ctx, s.Namespace, s.Name, nil)
		switch {
		case err == nil:
			latest = sv.Version
		case isCode(err, api.CodeSchemaNotFound):
		default:
			return res, fmt.Errorf("gitops: reading schema %s/%s: %w", s.Namespace, s.Name, err)
		}
		if latest != s.Version-1 {
			return res, &ConflictError{Conflicts: []Conflict{{Kind: api.KindSchema, Namespace: s.Namespace, Key: s.Name, Planned: uint64(s.Version - 1), Current: uint64(latest)}}, Result: res}
		}
		got, _, err := c.Schemas().Register(ctx, s.Namespace, s.Name, api.RegisterSchemaRequest{Schema: s.Schema, Reason: p.Reason}, wo)
		if isCode(err, api.CodeSchemaConflict) {
			return res, &ConflictError{Conflicts: []Conflict{{Kind: api.KindSchema, Namespace: s.Namespace, Key: s.Name, Planned: uint64(s.Version - 1), Current: uint64(s.Version)}}, Result: res}
		}
		if err != nil {
			return res, fmt.Errorf("gitops: registering schema %s/%s@%d (%s): %w", s.Namespace, s.Name, s.Version, s.File, err)
		}
		if got.Version != s.Version {
			// A concurrent registration slipped in between the check and
			// ours: the config writes pinned to s.Version would mean
			// something else now.
			return res, &ConflictError{Conflicts: []Conflict{{Kind: api.KindSchema, Namespace: s.Namespace, Key: s.Name, Planned: uint64(s.Version - 1), Current: uint64(got.Version - 1)}}, Result: res}
		}
		res.SchemasRegistered = append(res.SchemasRegistered, fmt.Sprintf("%s/%s@%d", s.Namespace, s.Name, s.Version))
	}

	batches, err := splitBatches(p.Configs, opts.MaxBatchOps, opts.MaxBatchBytes-len(p.Reason)*6)
	if err != nil {
		return res, err
	}
	total := len(p.Configs)
	if opts.Progress != nil {
		opts.Progress(0, total)
	}
	for _, b := range batches {
		ops := make([]api.BatchOp, len(b))
		for i, ch := range b {
			ops[i] = batchOp(ch)
		}
		br, _, err := c.Batch(ctx, api.BatchRequest{Ops: ops, Reason: p.Reason}, nil)
		if err != nil {
			if ce := conflictsOf(err, b); ce != nil {
				ce.Result = res
				return res, ce
			}
			return res, fmt.Errorf("gitops: applying a batch of %d config change(s) (%s/%s ...): %w", len(b), b[0].Namespace, b[0].Key, err)
		}
		res.Batches = append(res.Batches, br.Revision)
		res.ConfigsWritten += len(b)
		if opts.Progress != nil {
			opts.Progress(res.ConfigsWritten, total)
		}
	}
	return res, nil
}

func batchOp(ch ConfigChange) api.BatchOp {
	rev := ch.Revision
	op := api.BatchOp{Namespace: ch.Namespace, Key: ch.Key, Revision: &rev}
	switch ch.Action {
	case ActionDelete:
		op.Op = api.BatchDelete
	default:
		op.Op, op.Schema, op.Value = api.BatchPut, ch.Schema, ch.Value
	}
	return op
}

// splitBatches cuts the changes into consecutive batches of at most maxOps
// operations and about maxBytes of JSON each.
func splitBatches(changes []ConfigChange, maxOps, maxBytes int) ([][]ConfigChange, error) {
	var out [][]ConfigChange
	var cur []ConfigChange
	size := 0
	for _, ch := range changes {
		b, err := json.Marshal(batchOp(ch))
		if err != nil {
			return nil, fmt.Errorf("gitops: encoding %s/%s: %w", ch.Namespace, ch.Key, err)
		}
		n := len(b) + 1
		if n > maxBytes {
			return nil, fmt.Errorf("gitops: %s/%s: the operation alone is %d bytes, more than a batch may hold (%d)", ch.Namespace, ch.Key, n, maxBytes)
		}
		if len(cur) == maxOps || size+n > maxBytes {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, ch)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// conflictsOf returns the compare-and-set failures of a failed batch, or nil
// when it failed for another reason.
func conflictsOf(err error, batch []ConfigChange) *ConflictError {
	var ae *api.Error
	if !errors.As(err, &ae) {
		return nil
	}
	if ae.Code == api.CodeRevisionMismatch && len(batch) == 1 {
		return &ConflictError{Conflicts: []Conflict{{Kind: api.KindConfig, Namespace: batch[0].Namespace, Key: batch[0].Key, Planned: batch[0].Revision, Current: ae.Revision}}}
	}
	if ae.Code != api.CodeBatchFailed {
		return nil
	}
	var ce ConflictError
	for _, it := range ae.Items {
		if it.Code != api.CodeRevisionMismatch || it.Index < 0 || it.Index >= len(batch) {
			continue
		}
		ch := batch[it.Index]
		ce.Conflicts = append(ce.Conflicts, Conflict{Kind: api.KindConfig, Namespace: ch.Namespace, Key: ch.Key, Planned: ch.Revision, Current: it.Revision})
	}
	if len(ce.Conflicts) == 0 {
		return nil
	}
	return &ce
}
