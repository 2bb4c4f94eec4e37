// Package testport hands out loopback ports for tests and benchmarks that
// must know a node's address before the node starts (gossip seeds, raft
// addresses kept across restarts).
//
// Asking the kernel for ":0", closing the listener and reusing the number
// races with every other socket the machine binds to ":0" in between: on a
// busy CI machine another test's raft or HTTP listener takes the port and
// the node fails with "address already in use". Ports here come from below
// the kernel's ephemeral range, which ":0" never hands out, so the only
// possible clash is with another caller of this package, made unlikely by
// random choice and ruled out within one process.
package testport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

var (
	mu    sync.Mutex
	given = map[string]bool{}
)

// Free returns a port on ip that is free for both TCP and UDP at the moment
// and that this process has not handed out before.
func Free(ip string) (int, error) {
	lo, hi := window()
	mu.Lock()
	defer mu.Unlock()
	for range 500 {
		port := lo + rand.IntN(hi-lo)
		key := net.JoinHostPort(ip, strconv.Itoa(port))
		if given[key] {
			continue
		}
		l, err := net.Listen("tcp", key)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", key)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		given[key] = true
		return port, nil
	}
	return 0, fmt.Errorf("testport: no free port on %s in [%d, %d)", ip, lo, hi)
}

// Addr returns "ip:port" for a port from Free.
func Addr(ip string) (string, error) {
	p, err := Free(ip)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(ip, strconv.Itoa(p)), nil
}

// window is the range ports are drawn from: [10000, 30000) cut to end
// below the kernel's ephemeral range.
func window() (lo, hi int) {
	lo, hi = 10000, 30000
	if eph, err := ephemeralLow(); err == nil && eph-1000 < hi {
		hi = max(eph-1000, lo+1000)
	}
	return lo, hi
}

func ephemeralLow() (int, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("testport: empty ip_local_port_range")
	}
	return strconv.Atoi(f[0])
}
