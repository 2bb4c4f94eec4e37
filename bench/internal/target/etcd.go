package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/schemakv/schemakv/bench/internal/procs"
)

// etcdConnsPerNode is how many gRPC connections the target keeps to each
// node; concurrent callers are spread over them round-robin (as etcd's own
// benchmark tool does with --conns), so one HTTP/2 connection is not the
// bottleneck.
const etcdConnsPerNode = 8

// Etcd is an etcd cluster of processes driven through clientv3.
type Etcd struct {
	cfg   Config
	eps   []string
	args  [][]string
	procs []*procs.Proc
	cli   [][]*clientv3.Client // [node][conn]
	rr    []atomic.Uint64
}

// StartEtcd starts len(cfg.IPs) etcd members with a static --initial-cluster
// and waits until each reports a leader.
func StartEtcd(ctx context.Context, cfg Config) (*Etcd, error) {
	n := len(cfg.IPs)
	e := &Etcd{cfg: cfg, rr: make([]atomic.Uint64, n)}
	var peers, initial []string
	for i, ip := range cfg.IPs {
		cp, err := procs.FreePort(ip)
		if err != nil {
			return nil, err
		}
		pp, err := procs.FreePort(ip)
		if err != nil {
			return nil, err
		}
		e.eps = append(e.eps, "http://"+net.JoinHostPort(ip, strconv.Itoa(cp)))
		peers = append(peers, "http://"+net.JoinHostPort(ip, strconv.Itoa(pp)))
		initial = append(initial, fmt.Sprintf("e%d=%s", i+1, peers[i]))
	}
	token := fmt.Sprintf("bench-%d", time.Now().UnixNano()) // one per cluster
	for i := range n {
		id := fmt.Sprintf("e%d", i+1)
		e.args = append(e.args, []string{"--name", id, "--data-dir", filepath.Join(cfg.Dir, id),
			"--listen-client-urls", e.eps[i], "--advertise-client-urls", e.eps[i],
			"--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token,
			// 100,000 or 1,000,000 values of 1 KiB plus the workloads'
			// overwrites exceed the default 2 GiB quota only at the largest
			// size; raise it so the run never stops on NOSPACE.
			"--quota-backend-bytes", strconv.FormatInt(8<<30, 10),
			"--logger", "zap", "--log-level", "warn"})
	}
	e.procs = make([]*procs.Proc, n)
	for i := range n {
		if _, err := e.StartNode(i); err != nil {
			e.Close()
			return nil, err
		}
	}
	e.cli = make([][]*clientv3.Client, n)
	for i := range n {
		for range etcdConnsPerNode {
			c, err := clientv3.New(clientv3.Config{
				Endpoints: []string{e.eps[i]}, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
				MaxCallSendMsgSize: 8 << 20,
			})
			if err != nil {
				e.Close()
				return nil, err
			}
			e.cli[i] = append(e.cli[i], c)
		}
	}
	for i := range n {
		err := procs.Poll(ctx, cfg.StartTimeout, 50*time.Millisecond, func(ctx context.Context) error {
			if done, err := e.procs[i].Exited(); done {
				return fmt.Errorf("exited: %v", err)
			}
			st, err := e.cli[i][0].Status(ctx, e.eps[i])
			if err != nil {
				return err
			}
			if st.Leader == 0 {
				return errors.New("no leader")
			}
			return nil
		})
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("etcd node %d not ready: %w\n%s", i+1, err, e.procs[i].Tail(2000))
		}
	}
	return e, nil
}

func (e *Etcd) client(node int) *clientv3.Client {
	return e.cli[node][e.rr[node].Add(1)%etcdConnsPerNode]
}

func etcdKey(key string) string { return Namespace + "/" + key }

// Name implements Target.
func (e *Etcd) Name() string { return "etcd" }

// Nodes implements Target.
func (e *Etcd) Nodes() int { return len(e.eps) }

// Leader implements Target: the member whose status names itself leader.
func (e *Etcd) Leader(ctx context.Context) (int, error) {
	for i, ep := range e.eps {
		st, err := e.cli[i][0].Status(ctx, ep)
		if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
			return i, nil
		}
	}
	return 0, errors.New("etcd: no leader")
}

// Put implements Target.
func (e *Etcd) Put(ctx context.Context, node int, key string, value []byte) (uint64, error) {
	r, err := e.client(node).Put(ctx, etcdKey(key), string(value))
	if err != nil {
		return 0, err
	}
	return uint64(r.Header.Revision), nil
}

// PutBatch implements Target with one Txn (at most --max-txn-ops, 128).
func (e *Etcd) PutBatch(ctx context.Context, node int, keys []string, values [][]byte) error {
	ops := make([]clientv3.Op, len(keys))
	for i, k := range keys {
		ops[i] = clientv3.OpPut(etcdKey(k), string(values[i]))
	}
	_, err := e.client(node).Txn(ctx).Then(ops...).Commit()
	return err
}

// Get implements Target: Stale is a serializable read.
func (e *Etcd) Get(ctx context.Context, node int, key string, c Consistency) error {
	var opts []clientv3.OpOption
	if c == Stale {
		opts = append(opts, clientv3.WithSerializable())
	}
	r, err := e.client(node).Get(ctx, etcdKey(key), opts...)
	if err != nil {
		return err
	}
	if len(r.Kvs) == 0 {
		return errors.New("get: not found")
	}
	return nil
}

// Watch implements Target.
func (e *Etcd) Watch(ctx context.Context, node int, prefix string, created func(), onEvent func(uint64)) error {
	ch := e.client(node).Watch(clientv3.WithRequireLeader(ctx), etcdKey(prefix), clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	first := true
	for r := range ch {
		if err := r.Err(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if first && r.Created {
			first = false
			created()
			continue
		}
		for _, ev := range r.Events {
			onEvent(uint64(ev.Kv.ModRevision))
		}
	}
	return nil
}

// PIDs implements Target.
func (e *Etcd) PIDs() []int {
	out := make([]int, len(e.procs))
	for i, p := range e.procs {
		if p != nil {
			out[i] = p.PID()
		}
	}
	return out
}

// StopNode implements Target.
func (e *Etcd) StopNode(i int) {
	if e.procs[i] != nil {
		e.procs[i].Stop(30 * time.Second)
	}
}

// StartNode implements Target. A restarted member reuses its data dir; the
// --initial-cluster flags are ignored then.
func (e *Etcd) StartNode(i int) (time.Time, error) {
	t := time.Now()
	p, err := procs.Start(fmt.Sprintf("etcd-e%d", i+1), e.cfg.Bin, e.args[i], nil,
		filepath.Join(e.cfg.Dir, fmt.Sprintf("e%d.log", i+1)))
	if err != nil {
		return t, err
	}
	e.procs[i] = p
	return t, nil
}

// Close implements Target.
func (e *Etcd) Close() {
	for _, cs := range e.cli {
		for _, c := range cs {
			c.Close()
		}
	}
	for i := range e.procs {
		e.StopNode(i)
	}
}
