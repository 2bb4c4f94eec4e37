package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"sync"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/index"
	"github.com/schemakv/schemakv/store"
)

// The cluster RPC is net/rpc (gob) over the mux's RPC connections. Errors
// cross the hop as codes (errorCodes), never matched by text, and are
// rebuilt into the same sentinels on the caller's side.

// Codes of errors that cross an RPC hop.
const (
	codeNoLeader       = "no_leader"
	codeOutcomeUnknown = "outcome_unknown"
	codeShutdown       = "shutdown"
	codeReadTimeout    = "read_timeout"
)

var errorCodes = []struct {
	err  error
	code string
}{
	{ErrNoLeader, codeNoLeader},
	{ErrOutcomeUnknown, codeOutcomeUnknown},
	{ErrShutdown, codeShutdown},
	{ErrReadTimeout, codeReadTimeout},
	{ErrBadMembership, "bad_membership"},
	{ErrMemberNotFound, "member_not_found"},
	{store.ErrNamespaceNotFound, api.CodeNamespaceNotFound},
	{store.ErrNamespaceExists, api.CodeNamespaceExists},
	{store.ErrNamespaceNotEmpty, api.CodeNamespaceNotEmpty},
	{store.ErrSchemaNotFound, api.CodeSchemaNotFound},
	{store.ErrSchemaConflict, api.CodeSchemaConflict},
	{store.ErrConfigNotFound, api.CodeConfigNotFound},
	{store.ErrRevisionMismatch, api.CodeRevisionMismatch},
	{store.ErrRevisionNotFound, api.CodeRevisionNotFound},
	{store.ErrImportNotFound, api.CodeImportNotFound},
	{store.ErrImportFinished, api.CodeImportFinished},
	{store.ErrTooManyImports, api.CodeTooManyImports},
	{store.ErrImportSequence, "import_sequence"},
	{fsm.ErrEvolutionConflict, api.CodeEvolutionConflict},
	{fsm.ErrSchemaDeprecated, api.CodeSchemaDeprecated},
	{fsm.ErrSchemaInUse, api.CodeSchemaInUse},
	{fsm.ErrInvalidPolicy, api.CodeInvalidPolicy},
	{fsm.ErrMigrationNotFound, api.CodeMigrationNotFound},
	{fsm.ErrMigrationConflict, api.CodeMigrationConflict},
	{store.ErrIndexNotFound, api.CodeIndexNotFound},
	{store.ErrIndexExists, api.CodeIndexExists},
	{store.ErrTooManyIndexes, api.CodeTooManyIndexes},
	{store.ErrIndexCursorMoved, "index_cursor_moved"},
	{index.ErrInvalidPath, api.CodeInvalidPath},
	{store.ErrTokenNotFound, api.CodeTokenNotFound},
	{store.ErrTokenExists, "token_exists"},
	{store.ErrTokenRevoked, api.CodeTokenRevoked},
	{store.ErrBindingNotFound, api.CodeBindingNotFound},
	{store.ErrBindingExists, api.CodeBindingExists},
	{store.ErrAuthBootstrapped, api.CodeAuthBootstrapped},
}

// wireError is an error on the wire.
type wireError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Ops     []wireOpError   `json:"ops,omitempty"`
	CAS     *casFields      `json:"cas,omitempty"`
	Extra   json.RawMessage `json:"extra,omitempty"`
}

type wireOpError struct {
	Index int       `json:"index"`
	Err   wireError `json:"err"`
}

type casFields struct {
	Namespace, Key    string
	Expected, Current uint64
	Exists            bool
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	var te *fsm.TxnError
	if errors.As(err, &te) {
		w := &wireError{Code: "txn", Message: err.Error()}
		for _, o := range te.Ops {
			w.Ops = append(w.Ops, wireOpError{Index: o.Index, Err: *toWire(o.Err)})
		}
		return w
	}
	var rm *fsm.RevisionMismatchError
	if errors.As(err, &rm) {
		return &wireError{Code: api.CodeRevisionMismatch, Message: err.Error(), CAS: &casFields{
			Namespace: rm.Namespace, Key: rm.Key, Expected: rm.Expected, Current: rm.Current, Exists: rm.Exists}}
	}
	for _, ec := range errorCodes {
		if errors.Is(err, ec.err) {
			return &wireError{Code: ec.code, Message: err.Error()}
		}
	}
	return &wireError{Code: "internal", Message: err.Error()}
}

// remoteError is an error rebuilt from the wire: its text is the remote
// text and it matches the remote sentinel.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func fromWire(w *wireError) error {
	if w == nil {
		return nil
	}
	switch {
	case w.Code == "txn":
		te := &fsm.TxnError{}
		for _, o := range w.Ops {
			te.Ops = append(te.Ops, fsm.OpError{Index: o.Index, Err: fromWire(&o.Err)})
		}
		return te
	case w.CAS != nil:
		return &fsm.RevisionMismatchError{Namespace: w.CAS.Namespace, Key: w.CAS.Key,
			Expected: w.CAS.Expected, Current: w.CAS.Current, Exists: w.CAS.Exists}
	}
	for _, ec := range errorCodes {
		if ec.code == w.Code {
			return &remoteError{msg: w.Message, sentinel: ec.err}
		}
	}
	return errors.New(w.Message)
}

// wireResult is an fsm.Result on the wire (JSON inside the gob reply:
// gob cannot carry the nil pointers a Result holds).
type wireResult struct {
	Revision  uint64             `json:"revision"`
	Err       *wireError         `json:"err,omitempty"`
	Namespace *api.Namespace     `json:"namespace,omitempty"`
	Schema    *api.SchemaVersion `json:"schema,omitempty"`
	Entries   []*api.ConfigEntry `json:"entries,omitempty"`
	Index     *api.Index         `json:"index,omitempty"`
	Token     *api.Token         `json:"token,omitempty"`
	Bindings  []api.RoleBinding  `json:"bindings,omitempty"`
}

// ApplyArgs and the other types below are the RPC messages.
type ApplyArgs struct{ Cmd []byte }

// ApplyReply carries a JSON wireResult, or Err when the command was not
// applied by this leader.
type ApplyReply struct {
	Result []byte
	Err    []byte
}

// ReadIndexArgs asks the leader for a read index.
type ReadIndexArgs struct{}

// ReadIndexReply is the leader's read index, or Err.
type ReadIndexReply struct {
	Index uint64
	Err   []byte
}

// StatusArgs asks a node for its raft status.
type StatusArgs struct{}

// StatusReply is a node's raft status.
type StatusReply struct {
	Status   Status
	HasState bool
}

// RemoveArgs asks the leader to remove a server.
type RemoveArgs struct{ ID string }

// RemoveReply is empty on success, or carries Err.
type RemoveReply struct{ Err []byte }

// rpcService is the RPC server of one node, registered as "Cluster".
type rpcService struct{ c *Cluster }

// Apply applies a command if this node leads.
func (s *rpcService) Apply(args ApplyArgs, reply *ApplyReply) error {
	if !s.c.isLeader() {
		reply.Err = mustJSON(toWire(ErrNoLeader))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.ApplyTimeout)
	defer cancel()
	r, err := s.c.applyLocal(ctx, args.Cmd)
	if err != nil {
		reply.Err = mustJSON(toWire(err))
		return nil
	}
	reply.Result = mustJSON(&wireResult{Revision: r.Revision, Err: toWire(r.Err),
		Namespace: r.Namespace, Schema: r.Schema, Entries: r.Entries, Index: r.Index,
		Token: r.Token, Bindings: r.Bindings})
	return nil
}

// ReadIndex returns a read index if this node leads.
func (s *rpcService) ReadIndex(_ ReadIndexArgs, reply *ReadIndexReply) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.ApplyTimeout)
	defer cancel()
	idx, err := s.c.leaderReadIndex(ctx)
	if err != nil {
		reply.Err = mustJSON(toWire(err))
		return nil
	}
	reply.Index = idx
	return nil
}

// Remove removes a server if this node leads.
func (s *rpcService) Remove(args RemoveArgs, reply *RemoveReply) error {
	if err := s.c.removeLocal(args.ID); err != nil {
		reply.Err = mustJSON(toWire(err))
	}
	return nil
}

// Status returns this node's status.
func (s *rpcService) Status(_ StatusArgs, reply *StatusReply) error {
	reply.Status = s.c.Status()
	reply.HasState = s.c.hasState()
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cluster: encode %T: %v", v, err))
	}
	return b
}

// rpcClients pools one net/rpc client per peer address. net/rpc multiplexes
// concurrent calls over one connection.
type rpcClients struct {
	mu      sync.Mutex
	clients map[string]*rpc.Client
	timeout time.Duration
	tls     *tls.Config // nil: plain TCP
}

// errNotSent marks a call that certainly did not reach the peer (the dial
// failed), so it is safe to retry even for writes.
var errNotSent = errors.New("cluster: request not sent")

func (p *rpcClients) get(addr string) (*rpc.Client, error) {
	p.mu.Lock()
	c, ok := p.clients[addr]
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	conn, err := dial(addr, connRPC, p.timeout, p.tls)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %v", errNotSent, addr, err)
	}
	c = rpc.NewClient(conn)
	p.mu.Lock()
	if old, ok := p.clients[addr]; ok {
		p.mu.Unlock()
		_ = c.Close()
		return old, nil
	}
	p.clients[addr] = c
	p.mu.Unlock()
	return c, nil
}

func (p *rpcClients) drop(addr string, c *rpc.Client) {
	p.mu.Lock()
	if p.clients[addr] == c {
		delete(p.clients, addr)
	}
	p.mu.Unlock()
	_ = c.Close()
}

// call makes an idempotent RPC (a read or a status) over the pooled
// connection to addr, bounded by ctx. Any failure may be retried.
func (p *rpcClients) call(ctx context.Context, addr, method string, args, reply any) error {
	c, err := p.get(addr)
	if err != nil {
		return err
	}
	call := c.Go("Cluster."+method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		if call.Error != nil {
			var se rpc.ServerError
			if !errors.As(call.Error, &se) {
				p.drop(addr, c) // the connection is broken: redial next time
			}
			return fmt.Errorf("cluster: rpc %s to %s: %w", method, addr, call.Error)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: rpc %s to %s: %w", method, addr, ctx.Err())
	}
}

// callOnce makes a non-idempotent RPC (a write) on a connection of its own,
// so that whether it was sent is known exactly: only a failed dial returns
// errNotSent; any later failure means the outcome is unknown.
func (p *rpcClients) callOnce(ctx context.Context, addr, method string, args, reply any) error {
	conn, err := dial(addr, connRPC, p.timeout, p.tls)
	if err != nil {
		return fmt.Errorf("%w: dial %s: %v", errNotSent, addr, err)
	}
	c := rpc.NewClient(conn)
	defer c.Close()
	call := c.Go("Cluster."+method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		if call.Error != nil {
			return fmt.Errorf("cluster: rpc %s to %s: %w", method, addr, call.Error)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: rpc %s to %s: %w", method, addr, ctx.Err())
	}
}

func (p *rpcClients) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.clients {
		_ = c.Close()
		delete(p.clients, a)
	}
}

// serveRPC serves one RPC connection until it closes.
func serveRPC(srv *rpc.Server) func(net.Conn) {
	return func(conn net.Conn) { srv.ServeConn(conn) }
}
