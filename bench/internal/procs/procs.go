// Package procs starts and stops the server processes a benchmark run owns,
// and reads what the kernel says about them (RSS).
//
// Every process started through Start is registered in a package-level set
// so that StopAll, deferred in main and called on SIGINT/SIGTERM, stops
// everything the run started and nothing else. Children also get
// Pdeathsig=SIGKILL, so a bench tool killed with -9 does not leave servers
// behind. Safe for concurrent use.
package procs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one running server process.
type Proc struct {
	Name    string
	Bin     string
	Args    []string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

var (
	mu      sync.Mutex
	running = map[*Proc]struct{}{}
)

// Start runs bin with args and extra environment variables (KEY=VALUE),
// its stdout and stderr appended to logPath.
func Start(name, bin string, args, env []string, logPath string) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a Ctrl-C in the terminal reaches only the bench
	// tool, which then stops the servers in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Bin: bin, Args: args, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	mu.Lock()
	running[p] = struct{}{}
	mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		mu.Lock()
		delete(running, p)
		mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits up to grace, then SIGKILL.
func (p *Proc) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// StopAll stops every process still running that Start started.
func StopAll(grace time.Duration) {
	mu.Lock()
	ps := make([]*Proc, 0, len(running))
	for p := range running {
		ps = append(ps, p)
	}
	mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop(grace) }()
	}
	wg.Wait()
}

// RSS returns the resident set size (VmRSS) of the process in bytes.
func (p *Proc) RSS() (int64, error) { return RSSOf(p.PID()) }

// RSSOf reads VmRSS from /proc/PID/status.
func RSSOf(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fs := strings.Fields(v)
			if len(fs) < 1 {
				break
			}
			kb, err := strconv.ParseInt(fs[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("VmRSS not found")
}

// Tail returns the last n bytes of the process's log, for error messages.
func (p *Proc) Tail(n int64) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// FreePort returns a port on ip that is free for both TCP and UDP (gossip
// listens on both with one number).
func FreePort(ip string) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, errors.New("no free port")
}

// Poll calls f every interval until it returns nil, ctx ends or timeout
// passes; it returns f's last error on failure.
func Poll(ctx context.Context, timeout, interval time.Duration, f func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		c, cancel := context.WithTimeout(ctx, max(interval*10, time.Second))
		last = f(c)
		cancel()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// CPUTime returns the user + system CPU time pid has used so far (pid 0:
// this process).
func CPUTime(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its closing
	// parenthesis start at field 3 (state). utime and stime are 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bad stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// CPUOf sums CPUTime over pids; failures count as zero.
func CPUOf(pids []int) time.Duration {
	var t time.Duration
	for _, p := range pids {
		v, _ := CPUTime(p)
		t += v
	}
	return t
}
