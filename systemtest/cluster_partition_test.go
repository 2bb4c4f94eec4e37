package systemtest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// procPartitioner cuts loopback traffic between processes of a procCluster
// with iptables rules in chains of its own (SKV-<pid>-<n>, and one
// SKV-<pid>-<n>-<i> per isolated node, jumped to from the first), hooked into
// OUTPUT: every loopback packet passes OUTPUT, and only there can the
// owner match tell which process sent it. It never touches a rule it did
// not add, and removes its chain in t.Cleanup.
//
// Isolating node A (address a, raft port rA, gossip port gA, group gidA)
// drops
//   - every packet to a:rA or a:gA (peers dialling A, gossip to A),
//   - every packet from a:rA or a:gA (A's answers, A's UDP gossip),
//   - every packet A's processes send to another node's raft or gossip
//     port (A dialling out: on loopback those leave from 127.0.0.1, so
//     only the sender's group id tells them apart).
//
// Packets are dropped, not rejected: a partition is silence, and TCP
// connections open across it stall until it heals or they time out.
type procPartitioner struct {
	c     *procCluster
	chain string

	mu        sync.Mutex
	installed bool
	subs      []string // one chain per isolated node, jumped to from chain

	probeOnce sync.Once
	ok        bool
	why       string
}

var chainSeq struct {
	sync.Mutex
	n int
}

func newProcPartitioner(t testing.TB, c *procCluster) *procPartitioner {
	chainSeq.Lock()
	chainSeq.n++
	n := chainSeq.n
	chainSeq.Unlock()
	p := &procPartitioner{c: c, chain: fmt.Sprintf("SKV-%d-%d", os.Getpid(), n)}
	t.Cleanup(func() { p.remove(t) })
	return p
}

// iptablesPackage is the Debian/Ubuntu package that provides iptables.
const iptablesPackage = "iptables"

// usable probes once whether partitions can be made here: root, iptables
// on PATH, and a chain with an owner match can be created and removed.
func (p *procPartitioner) usable() (bool, string) {
	p.probeOnce.Do(func() {
		switch {
		case os.Geteuid() != 0:
			p.why = "partitions need root (iptables rules and per-process group ids); running as uid " + strconv.Itoa(os.Geteuid())
			return
		}
		if _, err := exec.LookPath("iptables"); err != nil {
			p.why = "iptables is not on PATH (install the " + iptablesPackage + " package)"
			return
		}
		probe := p.chain + "-p"
		if out, err := iptables("-N", probe); err != nil {
			p.why = fmt.Sprintf("iptables cannot create a chain: %v: %s", err, out)
			return
		}
		defer func() { _, _ = iptables("-X", probe) }()
		out, err := iptables("-A", probe, "-p", "tcp", "-m", "owner", "--gid-owner", "1", "-j", "DROP")
		_, _ = iptables("-F", probe)
		if err != nil {
			p.why = fmt.Sprintf("iptables has no owner match: %v: %s", err, out)
			return
		}
		p.ok = true
	})
	return p.ok, p.why
}

func iptables(args ...string) (string, error) {
	out, err := exec.Command("iptables", append([]string{"-w", "10"}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (p *procPartitioner) mustIptables(t testing.TB, args ...string) {
	t.Helper()
	if out, err := iptables(args...); err != nil {
		t.Fatalf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// isolate drops n's raft and gossip traffic to and from every other node.
func (p *procPartitioner) isolate(t testing.TB, n *procNode) {
	t.Helper()
	if ok, why := p.usable(); !ok {
		t.Fatalf("partition: %s", why)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.installed {
		p.mustIptables(t, "-N", p.chain)
		p.mustIptables(t, "-I", "OUTPUT", "1", "-j", p.chain)
		p.installed = true
	}
	ports := fmt.Sprintf("%d,%d", n.raftPort, n.gossipPrt)
	gossip := strconv.Itoa(n.gossipPrt)
	rules := [][]string{
		{"-d", n.ip, "-p", "tcp", "-m", "multiport", "--dports", ports},
		{"-d", n.ip, "-p", "udp", "--dport", gossip},
		{"-s", n.ip, "-p", "tcp", "-m", "multiport", "--sports", ports},
		{"-s", n.ip, "-p", "udp", "--sport", gossip},
	}
	for _, o := range p.c.nodes {
		if o == n {
			continue
		}
		rules = append(rules,
			[]string{"-m", "owner", "--gid-owner", strconv.Itoa(int(n.gid)), "-d", o.ip, "-p", "tcp",
				"-m", "multiport", "--dports", fmt.Sprintf("%d,%d", o.raftPort, o.gossipPrt)},
			[]string{"-m", "owner", "--gid-owner", strconv.Itoa(int(n.gid)), "-d", o.ip, "-p", "udp",
				"--dport", strconv.Itoa(o.gossipPrt)},
		)
	}
	// Fill a chain of its own first and jump to it last, so that the cut
	// is one rule change, not ten spread over a hundred milliseconds.
	sub := fmt.Sprintf("%s-%d", p.chain, len(p.subs))
	p.mustIptables(t, "-N", sub)
	p.subs = append(p.subs, sub)
	for _, r := range rules {
		p.mustIptables(t, append(append([]string{"-A", sub}, r...), "-j", "DROP")...)
	}
	p.mustIptables(t, "-A", p.chain, "-j", sub)
}

// heal removes every partition (the main chain stays, empty and hooked
// into OUTPUT, until the test ends).
func (p *procPartitioner) heal(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.installed {
		return
	}
	p.mustIptables(t, "-F", p.chain) // one change: every cut heals at once
	for _, sub := range p.subs {
		p.mustIptables(t, "-F", sub)
		p.mustIptables(t, "-X", sub)
	}
	p.subs = nil
}

// remove unhooks and deletes the chain; it is the test's cleanup.
func (p *procPartitioner) remove(t testing.TB) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.installed {
		return
	}
	cmds := [][]string{{"-D", "OUTPUT", "-j", p.chain}, {"-F", p.chain}}
	for _, sub := range p.subs {
		cmds = append(cmds, []string{"-F", sub}, []string{"-X", sub})
	}
	cmds = append(cmds, []string{"-X", p.chain})
	for _, args := range cmds {
		if out, err := iptables(args...); err != nil {
			t.Errorf("cleanup: iptables %s: %v: %s (remove chain %s by hand)", strings.Join(args, " "), err, out, p.chain)
		}
	}
	p.installed = false
}
