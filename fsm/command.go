package fsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/jsonutil"
	"github.com/schemakv/schemakv/store"
)

// Type identifies a command. Numbers are never reused or renumbered.
type Type uint8

// Command types.
const (
	TypeCreateNamespace Type = 1
	TypeDeleteNamespace Type = 2
	TypeRegisterSchema  Type = 3
	TypeTxn             Type = 4
	TypeCreateIndex     Type = 9  // index.go
	TypeDropIndex       Type = 10 // index.go
	TypeIndexChunk      Type = 11 // index.go
)

// FlagIgnoreUnknown marks a command that a node which does not know its type
// may skip.
const FlagIgnoreUnknown byte = 1

// Audit is the who, why and when stamped into every command by the node that
// proposes it.
type Audit struct {
	Principal string `json:"principal"`
	Reason    string `json:"reason,omitempty"`
	// Time is Unix nanoseconds on the proposing node's clock.
	Time int64 `json:"time"`
}

// NewAudit stamps the current time.
func NewAudit(principal, reason string) Audit {
	return Audit{Principal: principal, Reason: reason, Time: time.Now().UnixNano()}
}

func (a Audit) store() store.Audit {
	return store.Audit{Principal: a.Principal, Reason: a.Reason, Time: time.Unix(0, a.Time).UTC()}
}

// CreateNamespace creates a namespace.
type CreateNamespace struct {
	Audit
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// DeleteNamespace deletes a namespace; Force removes its contents too.
type DeleteNamespace struct {
	Audit
	Name  string `json:"name"`
	Force bool   `json:"force,omitempty"`
}

// RegisterSchema stores version Version of a schema. The proposer compiled
// the schema assuming Version is the next one; if another version got there
// first, the command fails with store.ErrSchemaConflict.
type RegisterSchema struct {
	Audit
	Namespace   string          `json:"namespace"`
	Name        string          `json:"name"`
	Version     int             `json:"version"`
	Schema      json.RawMessage `json:"schema"`
	Description string          `json:"description,omitempty"`
}

// Txn is an atomic set of config operations: all apply at one revision, or
// none does.
type Txn struct {
	Audit
	Ops []Op `json:"ops"`
}

// Op is one operation of a Txn.
type Op struct {
	// Op is api.BatchPut, api.BatchDelete or api.BatchCheck.
	Op        string `json:"op"`
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	// Schema, SchemaVersion and SchemaRevision (the create revision of that
	// version) name the exact schema version the value was validated
	// against; apply fails if it no longer exists.
	Schema         string          `json:"schema,omitempty"`
	SchemaVersion  int             `json:"schema_version,omitempty"`
	SchemaRevision uint64          `json:"schema_revision,omitempty"`
	Value          json.RawMessage `json:"value,omitempty"`
	// Revision is a compare-and-set condition on the key's modify revision;
	// 0 means the key must not exist. Required for check.
	Revision *uint64 `json:"revision,omitempty"`
	// RollbackOf records that this put restores the value of a revision.
	RollbackOf uint64 `json:"rollback_of,omitempty"`
}

// Encode builds a log entry from a command.
//
// A Txn, the command of every config write, is written by hand
// (appendJSON), and its values are copied as they are: each Op.Value must be
// compact, valid JSON, as the HTTP layer makes every value it validates.
// Other commands go through encoding/json.
func Encode(cmd any) ([]byte, error) {
	var t Type
	switch cmd.(type) {
	case *CreateNamespace:
		t = TypeCreateNamespace
	case *DeleteNamespace:
		t = TypeDeleteNamespace
	case *RegisterSchema:
		t = TypeRegisterSchema
	case *Txn:
		t = TypeTxn
	case *ImportCreate:
		t = TypeImportCreate
	case *ImportChunk:
		t = TypeImportChunk
	case *ImportFinish:
		t = TypeImportFinish
	case *ImportCancel:
		t = TypeImportCancel
	case *ImportExpire:
		t = TypeImportExpire
	case *RegisterSchemas:
		t = TypeRegisterSchemas
	case *SetSchemaPolicy:
		t = TypeSetSchemaPolicy
	case *DeprecateVersion:
		t = TypeDeprecateVersion
	case *DeleteSchemaVersion:
		t = TypeDeleteSchemaVer
	case *StartMigration:
		t = TypeStartMigration
	case *MigrateChunk:
		t = TypeMigrateChunk
	case *CreateIndex:
		t = TypeCreateIndex
	case *DropIndex:
		t = TypeDropIndex
	case *IndexChunk:
		t = TypeIndexChunk
	case *CreateToken:
		t = TypeCreateToken
	case *RevokeToken:
		t = TypeRevokeToken
	case *Bind:
		t = TypeBind
	case *Unbind:
		t = TypeUnbind
	case *ReapTombstones:
		t = TypeReapTombstones
	default:
		return nil, fmt.Errorf("fsm: encode: unknown command %T", cmd)
	}
	if c, ok := cmd.(*Txn); ok {
		return c.appendJSON([]byte{byte(t), 0}), nil
	}
	// Without HTML escaping, so values and schemas reach the store byte for
	// byte as the caller sent them ("<" stays "<", not "\u003c").
	buf := bytes.NewBuffer([]byte{byte(t), 0})
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cmd); err != nil {
		return nil, fmt.Errorf("fsm: encode %T: %w", cmd, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Result is what applying one entry returns to the proposer (as the raft
// ApplyFuture's response).
type Result struct {
	// Revision is the entry's index: the revision of everything it wrote.
	Revision uint64
	// Err is a business failure; nothing was changed.
	Err error

	Namespace *api.Namespace
	Schema    *api.SchemaVersion
	// Entries holds, per Txn op, the entry written (nil for delete and
	// check).
	Entries []*api.ConfigEntry
	// Index is the index declared or advanced by CreateIndex / IndexChunk.
	Index *api.Index
	// Token and Bindings are what an auth command wrote (auth.go).
	Token    *api.Token
	Bindings []api.RoleBinding
}

// OpError is the failure of one operation of a Txn.
type OpError struct {
	Index int
	Err   error
}

// TxnError reports every failing operation of a Txn that was not applied.
type TxnError struct {
	Ops []OpError
}

func (e *TxnError) Error() string {
	if len(e.Ops) == 1 {
		return e.Ops[0].Err.Error()
	}
	return fmt.Sprintf("fsm: %d operations failed; first: op %d: %v", len(e.Ops), e.Ops[0].Index, e.Ops[0].Err)
}

// Unwrap returns the operations' errors, so errors.Is matches any of them.
func (e *TxnError) Unwrap() []error {
	out := make([]error, len(e.Ops))
	for i, o := range e.Ops {
		out[i] = o.Err
	}
	return out
}

// RevisionMismatchError is the failure of an operation's compare-and-set
// condition. It carries the key's current modify revision so the caller can
// report it (and a client retry without another read). It matches
// store.ErrRevisionMismatch with errors.Is.
//
// It is built from the state the entry applied to, so every replica returns
// the same one; like every business failure it changes nothing.
type RevisionMismatchError struct {
	Namespace, Key string
	// Expected is the condition: the modify revision the caller saw, 0 for
	// "the key must not exist".
	Expected uint64
	// Current is the key's modify revision when the entry applied; 0 when
	// the key does not exist.
	Current uint64
	// Exists reports whether the key existed when the entry applied.
	Exists bool
}

func (e *RevisionMismatchError) Error() string {
	switch {
	case e.Expected == 0:
		return fmt.Sprintf("%v: %s/%s exists (modify revision %d), expected absent",
			store.ErrRevisionMismatch, e.Namespace, e.Key, e.Current)
	case !e.Exists:
		return fmt.Sprintf("%v: %s/%s does not exist, expected modify revision %d",
			store.ErrRevisionMismatch, e.Namespace, e.Key, e.Expected)
	default:
		return fmt.Sprintf("%v: %s/%s is at modify revision %d, expected %d",
			store.ErrRevisionMismatch, e.Namespace, e.Key, e.Current, e.Expected)
	}
}

// Is makes errors.Is(err, store.ErrRevisionMismatch) true.
func (e *RevisionMismatchError) Is(target error) bool { return target == store.ErrRevisionMismatch }

// appendJSON appends c as encoding/json encodes it (without HTML escaping),
// but copies each op's value as it is instead of re-validating and
// compacting it: on the write path that scan was a large share of a put's
// CPU. TestTxn_AppendJSONMatchesEncodingJSON keeps the two in step.
func (c *Txn) appendJSON(b []byte) []byte {
	n := 64
	for i := range c.Ops {
		n += 160 + len(c.Ops[i].Namespace) + len(c.Ops[i].Key) + len(c.Ops[i].Schema) + len(c.Ops[i].Value)
	}
	b = slices.Grow(b, n+len(c.Principal)+len(c.Reason))
	b = append(b, `{"principal":`...)
	b = jsonutil.AppendString(b, c.Principal)
	if c.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonutil.AppendString(b, c.Reason)
	}
	b = append(b, `,"time":`...)
	b = jsonutil.AppendInt(b, c.Time)
	b = append(b, `,"ops":`...)
	if c.Ops == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Ops {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.Ops[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (o *Op) appendJSON(b []byte) []byte {
	b = append(b, `{"op":`...)
	b = jsonutil.AppendString(b, o.Op)
	b = append(b, `,"namespace":`...)
	b = jsonutil.AppendString(b, o.Namespace)
	b = append(b, `,"key":`...)
	b = jsonutil.AppendString(b, o.Key)
	if o.Schema != "" {
		b = append(b, `,"schema":`...)
		b = jsonutil.AppendString(b, o.Schema)
	}
	if o.SchemaVersion != 0 {
		b = append(b, `,"schema_version":`...)
		b = jsonutil.AppendInt(b, int64(o.SchemaVersion))
	}
	if o.SchemaRevision != 0 {
		b = append(b, `,"schema_revision":`...)
		b = jsonutil.AppendUint(b, o.SchemaRevision)
	}
	if len(o.Value) > 0 {
		b = append(b, `,"value":`...)
		b = append(b, o.Value...)
	}
	if o.Revision != nil {
		b = append(b, `,"revision":`...)
		b = jsonutil.AppendUint(b, *o.Revision)
	}
	if o.RollbackOf != 0 {
		b = append(b, `,"rollback_of":`...)
		b = jsonutil.AppendUint(b, o.RollbackOf)
	}
	return append(b, '}')
}
