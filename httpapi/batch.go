package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/store"
)

// batch applies many operations across keys and namespaces in one raft entry:
// all at one revision, or none. Every operation is checked before anything is
// proposed, and every failing one is reported.
func (s *Server) batch(c *gin.Context) {
	var req api.BatchRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok || len(req.Ops) == 0 {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"ops": [...]} with at least one operation`))
		return
	}
	if len(req.Ops) > s.cfg.Limits.MaxBatchOps {
		s.fail(c, apiErr(api.CodeBatchTooLarge, "batch of %d operations exceeds %d", len(req.Ops), s.cfg.Limits.MaxBatchOps))
		return
	}
	for _, bo := range req.Ops {
		// Every operation's namespace, before anything else: a batch
		// with one forbidden operation is refused whole.
		if !s.authorizeNamespace(c, auth.ActionWrite, bo.Namespace) {
			return
		}
	}
	a, err := s.audit(c, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.writeView(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ops := make([]fsm.Op, len(req.Ops))
	var items []api.ItemError
	seen := make(map[[2]string]int, len(req.Ops))
	for i, bo := range req.Ops {
		op, err := s.batchOp(v, bo)
		if err == nil {
			k := [2]string{bo.Namespace, bo.Key}
			if j, dup := seen[k]; dup {
				err = apiErr(api.CodeBadRequest, "%s/%s is also operation %d: a batch may touch a key once", bo.Namespace, bo.Key, j)
			}
			seen[k] = i
		}
		if err != nil {
			items = append(items, itemError(i, err))
			continue
		}
		ops[i] = op
	}
	if len(items) > 0 {
		s.fail(c, &api.Error{Code: api.CodeBatchFailed, Message: batchMessage(len(items)), Items: items})
		return
	}
	r, err := s.apply(c, &fsm.Txn{Audit: a, Ops: ops})
	if err != nil {
		var te *fsm.TxnError
		if errors.As(err, &te) {
			// Report failures as items even when only one operation failed.
			e := &api.Error{Code: api.CodeBatchFailed, Message: batchMessage(len(te.Ops))}
			for _, o := range te.Ops {
				e.Items = append(e.Items, itemError(o.Index, o.Err))
			}
			err = e
		}
		s.fail(c, err)
		return
	}
	out := api.BatchResult{Revision: r.Revision, Results: make([]api.BatchOpResult, len(ops))}
	for i, op := range ops {
		res := api.BatchOpResult{Op: op.Op, Namespace: op.Namespace, Key: op.Key}
		if e := r.Entries[i]; e != nil {
			res.ModifyRevision, res.Version = e.ModifyRevision, e.Version
		}
		out.Results[i] = res
	}
	s.render(c, http.StatusOK, out)
}

func (s *Server) batchOp(v *store.View, bo api.BatchOp) (fsm.Op, error) {
	if err := api.ValidateName(bo.Namespace); err != nil {
		return fsm.Op{}, err
	}
	if err := api.ValidateKey(bo.Key); err != nil {
		return fsm.Op{}, err
	}
	switch bo.Op {
	case api.BatchPut:
		if _, ok := v.Namespace(bo.Namespace); !ok {
			return fsm.Op{}, apiErr(api.CodeNamespaceNotFound, "namespace %q not found", bo.Namespace)
		}
		op, err := s.validatedPut(v, bo.Namespace, bo.Key, bo.Schema, bo.Value)
		op.Revision = bo.Revision
		return op, err
	case api.BatchDelete:
		if len(bo.Value) > 0 || bo.Schema != "" {
			return fsm.Op{}, apiErr(api.CodeBadRequest, "delete takes no value or schema")
		}
		return fsm.Op{Op: bo.Op, Namespace: bo.Namespace, Key: bo.Key, Revision: bo.Revision}, nil
	case api.BatchCheck:
		if bo.Revision == nil {
			return fsm.Op{}, apiErr(api.CodeBadRequest, "check needs a revision (0: the key must not exist)")
		}
		return fsm.Op{Op: bo.Op, Namespace: bo.Namespace, Key: bo.Key, Revision: bo.Revision}, nil
	default:
		return fsm.Op{}, apiErr(api.CodeBadRequest, "op must be put, delete or check, not %q", bo.Op)
	}
}

func batchMessage(n int) string {
	if n == 1 {
		return "1 operation failed; nothing was applied"
	}
	return strconv.Itoa(n) + " operations failed; nothing was applied"
}
