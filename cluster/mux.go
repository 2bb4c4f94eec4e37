package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// One TCP port carries raft and the cluster's own RPC. A connection's first
// byte says which (Consul and rqlite do the same): peers need one address
// per node, and both protocols get the same network path and, later, the
// same TLS.
//
// With TLS (Config.TLS) the whole connection is TLS from its first byte:
// the handshake comes first, mutual and verified against the cluster CA,
// and the kind byte travels inside. A peer without a certificate from the
// cluster CA, or speaking plain TCP, never reaches raft or the RPC server.
const (
	connRaft byte = 1
	connRPC  byte = 2
)

// mux accepts connections on the cluster port and hands each to raft or to
// the RPC server by its first byte.
type mux struct {
	ln        net.Listener
	advertise net.Addr
	raftCh    chan net.Conn
	rpc       func(net.Conn)
	tls       *tls.Config // nil: plain TCP
	log       *slog.Logger
	closeCh   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	connsMu sync.Mutex
	conns   map[net.Conn]struct{} // RPC connections being served, closed with the mux
}

func newMux(bind, advertise string, tlsCfg *tls.Config, log *slog.Logger) (*mux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen %s: %w", bind, err)
	}
	var adv net.Addr = ln.Addr()
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("cluster: advertise address %q: %w", advertise, err)
		}
		adv = a
	} else if tcp, ok := adv.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("cluster: %s listens on every interface: set an advertise address peers can dial", bind)
	}
	if log == nil {
		log = slog.Default()
	}
	return &mux{ln: ln, advertise: adv, raftCh: make(chan net.Conn), closeCh: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, tls: tlsCfg, log: log}, nil
}

// serve accepts connections until close. rpc handles RPC connections.
func (m *mux) serve(rpc func(net.Conn)) {
	m.rpc = rpc
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			conn, err := m.ln.Accept()
			if err != nil {
				select {
				case <-m.closeCh:
					return
				default:
				}
				time.Sleep(10 * time.Millisecond) // e.g. EMFILE: back off, then go on
				continue
			}
			go m.route(conn)
		}
	}()
}

func (m *mux) route(conn net.Conn) {
	if m.tls != nil {
		tc := tls.Server(conn, m.tls)
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			m.log.Warn("cluster: refused a connection: TLS handshake failed",
				"remote", conn.RemoteAddr().String(), "err", err)
			_ = conn.Close()
			return
		}
		conn = tc
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		_ = conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	switch b[0] {
	case connRaft:
		select {
		case m.raftCh <- conn:
		case <-m.closeCh:
			_ = conn.Close()
		}
	case connRPC:
		// Served connections are tracked so that closing the node closes
		// them: a peer's pooled client must not keep talking to a node that
		// has stopped.
		m.connsMu.Lock()
		select {
		case <-m.closeCh:
			m.connsMu.Unlock()
			_ = conn.Close()
			return
		default:
		}
		m.conns[conn] = struct{}{}
		m.connsMu.Unlock()
		m.rpc(conn)
		m.connsMu.Lock()
		delete(m.conns, conn)
		m.connsMu.Unlock()
	default:
		_ = conn.Close()
	}
}

func (m *mux) close() error {
	var err error
	m.closeOnce.Do(func() {
		m.connsMu.Lock()
		close(m.closeCh)
		for c := range m.conns {
			_ = c.Close()
		}
		m.connsMu.Unlock()
		err = m.ln.Close()
		m.wg.Wait()
	})
	return err
}

// handshakeTimeout bounds a TLS handshake on the cluster port.
const handshakeTimeout = 10 * time.Second

// dial opens a connection of the given kind to a peer's cluster port, over
// TLS when tlsCfg is set; timeout bounds the dial and the handshake.
func dial(addr string, kind byte, timeout time.Duration, tlsCfg *tls.Config) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		tc := tls.Client(conn, tlsCfg)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("cluster: TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte{kind}); err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// raftLayer is the raft.StreamLayer over the mux.
type raftLayer struct{ m *mux }

var _ raft.StreamLayer = raftLayer{}

func (l raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.m.raftCh:
		return c, nil
	case <-l.m.closeCh:
		return nil, errors.New("cluster: listener closed")
	}
}

func (l raftLayer) Close() error   { return l.m.close() }
func (l raftLayer) Addr() net.Addr { return l.m.advertise }

func (l raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dial(string(addr), connRaft, timeout, l.m.tls)
}
