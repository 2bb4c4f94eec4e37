package cluster

import "sync"

// leadershipSignal is a channel closed and replaced whenever this node's
// leadership (as IsLeader reports it) may have changed.
type leadershipSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (l *leadershipSignal) get() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ch == nil {
		l.ch = make(chan struct{})
	}
	return l.ch
}

func (l *leadershipSignal) changed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ch != nil {
		close(l.ch)
	}
	l.ch = make(chan struct{})
}

// LeadershipCh returns a channel that is closed when this node's leadership
// next changes: it became the leader and is ready (IsLeader turned true), or
// it lost leadership. Use it as: ch := c.LeadershipCh(); if c.IsLeader() {...}; <-ch.
// Leader-only background work (the index build loop) waits on it instead of
// polling.
func (c *Cluster) LeadershipCh() <-chan struct{} { return c.leadership.get() }
