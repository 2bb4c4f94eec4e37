package fsm

import (
	"encoding/json"
	"fmt"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// applyFunc applies one decoded command body at the transaction's revision.
type applyFunc func(tx *store.Txn, rev uint64, body []byte) *Result

// dispatch is the one table of command types. A type missing here is
// unknown to this build.
var dispatch = map[Type]applyFunc{
	TypeCreateNamespace: applyCreateNamespace,
	TypeDeleteNamespace: applyDeleteNamespace,
	TypeRegisterSchema:  applyRegisterSchema,
	TypeTxn:             applyTxn,
	TypeImportCreate:    applyImportCreate,
	TypeImportChunk:     applyImportChunk,
	TypeImportFinish:    applyImportFinish,
	TypeImportCancel:    applyImportCancel,
	TypeImportExpire:    applyImportExpire,
	// Schema evolution (evolution.go).
	TypeRegisterSchemas:  applyRegisterSchemas,
	TypeSetSchemaPolicy:  applySetSchemaPolicy,
	TypeDeprecateVersion: applyDeprecateVersion,
	TypeDeleteSchemaVer:  applyDeleteSchemaVersion,
	TypeStartMigration:   applyStartMigration,
	TypeMigrateChunk:     applyMigrateChunk,
	TypeCreateIndex:      applyCreateIndex,
	TypeDropIndex:        applyDropIndex,
	TypeIndexChunk:       applyIndexChunk,
	TypeCreateToken:      applyCreateToken,
	TypeRevokeToken:      applyRevokeToken,
	TypeBind:             applyBind,
	TypeUnbind:           applyUnbind,
	TypeReapTombstones:   applyReapTombstones,
}

// applyEntry decodes and applies one log entry's data. It returns nil for an
// unknown command that may be ignored, and panics on an unknown command that
// may not or on a body that does not decode: both mean this node cannot
// follow the log safely.
func applyEntry(tx *store.Txn, rev uint64, data []byte) *Result {
	if len(data) < 2 {
		panic(fmt.Sprintf("fsm: entry %d: short command (%d bytes)", rev, len(data)))
	}
	t, flags := Type(data[0]), data[1]
	fn, ok := dispatch[t]
	if !ok {
		if flags&FlagIgnoreUnknown != 0 {
			return nil
		}
		panic(fmt.Sprintf("fsm: entry %d: unknown command type %d (upgrade this node)", rev, t))
	}
	return fn(tx, rev, data[2:])
}

func mustDecode(rev uint64, body []byte, v any) {
	if err := json.Unmarshal(body, v); err != nil {
		panic(fmt.Sprintf("fsm: entry %d: decode %T: %v", rev, v, err))
	}
}

// mustWrite turns a store I/O failure into a panic: the entry is committed,
// and a node that cannot apply it must stop rather than diverge.
func mustWrite(rev uint64, err error) {
	if err != nil {
		panic(fmt.Sprintf("fsm: entry %d: %v", rev, err))
	}
}

func fail(rev uint64, err error) *Result { return &Result{Revision: rev, Err: err} }

func applyCreateNamespace(tx *store.Txn, rev uint64, body []byte) *Result {
	var c CreateNamespace
	mustDecode(rev, body, &c)
	if _, ok := tx.Namespace(c.Name); ok {
		return fail(rev, fmt.Errorf("%w: %q", store.ErrNamespaceExists, c.Name))
	}
	n, err := tx.CreateNamespace(c.Name, c.Description, c.Audit.store())
	mustWrite(rev, err)
	return &Result{Revision: rev, Namespace: n}
}

func applyDeleteNamespace(tx *store.Txn, rev uint64, body []byte) *Result {
	var c DeleteNamespace
	mustDecode(rev, body, &c)
	n, ok := tx.Namespace(c.Name)
	if !ok {
		return fail(rev, fmt.Errorf("%w: %q", store.ErrNamespaceNotFound, c.Name))
	}
	if !c.Force && (n.ConfigCount > 0 || n.SchemaCount > 0) {
		return fail(rev, fmt.Errorf("%w: %q holds %d configs and %d schemas (delete them, or force)",
			store.ErrNamespaceNotEmpty, c.Name, n.ConfigCount, n.SchemaCount))
	}
	mustWrite(rev, tx.DeleteNamespace(c.Name, c.Force, c.Audit.store()))
	return &Result{Revision: rev}
}

func applyRegisterSchema(tx *store.Txn, rev uint64, body []byte) *Result {
	var c RegisterSchema
	mustDecode(rev, body, &c)
	if _, ok := tx.Namespace(c.Namespace); !ok {
		return fail(rev, fmt.Errorf("%w: %q", store.ErrNamespaceNotFound, c.Namespace))
	}
	if latest := tx.LatestSchemaVersion(c.Namespace, c.Name); c.Version != latest+1 {
		return fail(rev, fmt.Errorf("%w: %s/%s: version %d was checked, but the next version is %d",
			store.ErrSchemaConflict, c.Namespace, c.Name, c.Version, latest+1))
	}
	sv, err := tx.PutSchemaVersion(api.SchemaVersion{
		Namespace: c.Namespace, Name: c.Name, Version: c.Version,
		Schema: c.Schema, Description: c.Description,
	}, c.Audit.store())
	mustWrite(rev, err)
	return &Result{Revision: rev, Schema: sv}
}

func applyTxn(tx *store.Txn, rev uint64, body []byte) *Result {
	c := decodeTxn(rev, body)
	// Check every operation before writing any, so a failure changes nothing.
	var failed []OpError
	for i, op := range c.Ops {
		if err := checkOp(tx, op); err != nil {
			failed = append(failed, OpError{Index: i, Err: err})
		}
	}
	if len(failed) > 0 {
		return fail(rev, &TxnError{Ops: failed})
	}
	a := c.Audit.store()
	res := &Result{Revision: rev, Entries: make([]*api.ConfigEntry, len(c.Ops))}
	for i, op := range c.Ops {
		switch op.Op {
		case api.BatchPut:
			e, err := tx.PutConfig(op.Namespace, op.Key, op.Schema, op.SchemaVersion, op.Value, a, op.RollbackOf)
			mustWrite(rev, err)
			res.Entries[i] = e
		case api.BatchDelete:
			mustWrite(rev, tx.DeleteConfig(op.Namespace, op.Key, a))
		}
	}
	return res
}

func checkOp(tx *store.Txn, op Op) error {
	if _, ok := tx.Namespace(op.Namespace); !ok {
		return fmt.Errorf("%w: %q", store.ErrNamespaceNotFound, op.Namespace)
	}
	cur, exists := tx.Config(op.Namespace, op.Key)
	if op.Revision != nil {
		// An existing key's modify revision is a raft index, never 0, so
		// comparing against 0 for an absent key covers "must not exist".
		var current uint64
		if exists {
			current = cur.ModifyRevision
		}
		if want := *op.Revision; current != want {
			return &RevisionMismatchError{
				Namespace: op.Namespace, Key: op.Key,
				Expected: want, Current: current, Exists: exists,
			}
		}
	}
	switch op.Op {
	case api.BatchPut:
		sv, ok := tx.SchemaVersion(op.Namespace, op.Schema, op.SchemaVersion)
		if !ok || sv.CreateRevision != op.SchemaRevision {
			return fmt.Errorf("%w: %s/%s no longer exists as validated",
				store.ErrSchemaNotFound, op.Namespace, api.SchemaRef(op.Schema, op.SchemaVersion))
		}
		if err := checkNotDeprecated(tx, op); err != nil {
			return err
		}
	case api.BatchDelete:
		if !exists {
			return fmt.Errorf("%w: %s/%s", store.ErrConfigNotFound, op.Namespace, op.Key)
		}
	case api.BatchCheck:
		if op.Revision == nil {
			return fmt.Errorf("%w: check of %s/%s carries no revision", store.ErrRevisionMismatch, op.Namespace, op.Key)
		}
	default:
		return fmt.Errorf("fsm: unknown op %q", op.Op)
	}
	return nil
}
