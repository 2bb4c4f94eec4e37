package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// readIndexer shares one read-index fetch among all the reads that ask
// while no fetch runs: reads arriving during a fetch join the next one. On
// the leader a fetch is one VerifyLeader (a quorum round), on a follower one
// ReadIndex RPC to the leader, so a node makes at most one such round per
// round trip however many reads wait.
type readIndexer struct {
	fetch   func(ctx context.Context) (uint64, error)
	mu      sync.Mutex
	next    *round
	running bool
}

type round struct {
	done chan struct{}
	idx  uint64
	err  error
}

// roundTimeout bounds one fetch; each waiting read is also bounded by its
// own context.
const roundTimeout = 5 * time.Second

func (ri *readIndexer) get(ctx context.Context) (uint64, error) {
	ri.mu.Lock()
	if ri.next == nil {
		ri.next = &round{done: make(chan struct{})}
	}
	r := ri.next
	if !ri.running {
		ri.running = true
		go ri.loop()
	}
	ri.mu.Unlock()
	select {
	case <-r.done:
		return r.idx, r.err
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %v", ErrReadTimeout, ctx.Err())
	}
}

func (ri *readIndexer) loop() {
	for {
		ri.mu.Lock()
		r := ri.next
		ri.next = nil
		if r == nil {
			ri.running = false
			ri.mu.Unlock()
			return
		}
		ri.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
		r.idx, r.err = ri.fetch(ctx)
		cancel()
		close(r.done)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
