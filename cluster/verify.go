package cluster

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/hashicorp/raft"
)

// verifier shares one raft.VerifyLeader round among all reads that ask while
// no round is running: reads arriving during a round join the next one, so a
// node makes at most one quorum round per heartbeat round trip however many
// reads wait.
type verifier struct {
	r       *raft.Raft
	mu      sync.Mutex
	next    *round
	running bool
}

type round struct {
	done chan struct{}
	err  error
}

func (v *verifier) verify(ctx context.Context) error {
	v.mu.Lock()
	if v.next == nil {
		v.next = &round{done: make(chan struct{})}
	}
	r := v.next
	if !v.running {
		v.running = true
		go v.loop()
	}
	v.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrReadTimeout, ctx.Err())
	}
}

func (v *verifier) loop() {
	for {
		v.mu.Lock()
		r := v.next
		v.next = nil
		if r == nil {
			v.running = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		if err := v.r.VerifyLeader().Error(); err != nil {
			r.err = fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
		close(r.done)
	}
}

type netAddr struct{ *net.TCPAddr }

func resolveTCP(addr string) (*net.TCPAddr, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", addr, err)
	}
	return a, nil
}
