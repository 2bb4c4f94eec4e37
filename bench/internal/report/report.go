// Package report measures the machine (cores, CPU model, raw fsync rate)
// and renders a comparison as Markdown.
package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine is what the results depend on besides the code.
type Machine struct {
	Cores     int
	CPU       string
	MemTotal  string
	Kernel    string
	FsyncRate float64 // 4 KiB write + fdatasync per second in the data dir
	LoadStart string  // /proc/loadavg when the run started
	LoadEnd   string
}

// ReadMachine reads /proc and measures fsync in dir for d.
func ReadMachine(dir string, d time.Duration) (Machine, error) {
	m := Machine{Cores: runtime.NumCPU(), LoadStart: LoadAvg()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				m.MemTotal = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	r, err := FsyncRate(dir, d)
	m.FsyncRate = r
	return m, err
}

// LoadAvg is the first three fields of /proc/loadavg.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// FsyncRate writes 4 KiB at offset 0 of a file in dir and fdatasyncs it,
// in a loop for d, and returns the rate per second: the ceiling for any
// system that syncs each commit.
func FsyncRate(dir string, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "fsync-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	if _, err := f.WriteAt(buf, 0); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := f.WriteAt(buf, 0); err != nil {
			return 0, err
		}
		if err := fdatasync(f); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// Cell is one system's figures in a row. Value and Unit are used by rows
// that are a single figure (RSS, restart time) instead of throughput.
type Cell struct {
	Throughput float64
	P50, P99   time.Duration
	Value      float64
	Missing    string // why there is no figure
	// ServerCPU and ClientCPU are CPU time per operation (0: not measured).
	ServerCPU, ClientCPU time.Duration
	Note                 string
}

// Kind says how a row is rendered and which figure its ratio compares.
type Kind int

const (
	KindOps     Kind = iota // ops/s, p50, p99; ratio of throughput
	KindWatch               // notifications/s, p50, p99; ratio of p99
	KindMiB                 // Value in MiB; ratio of Value
	KindSeconds             // Value in seconds; ratio of Value
)

// Row is one line of the table.
type Row struct {
	Workload string
	Kind     Kind
	S, E     Cell
}

// Ratio is schemakv / etcd on the row's figure, or 0 when either is
// missing.
func (r Row) Ratio() float64 {
	if r.S.Missing != "" || r.E.Missing != "" {
		return 0
	}
	var s, e float64
	switch r.Kind {
	case KindOps:
		s, e = r.S.Throughput, r.E.Throughput
	case KindWatch:
		s, e = float64(r.S.P99), float64(r.E.P99)
	default:
		s, e = r.S.Value, r.E.Value
	}
	if e == 0 {
		return 0
	}
	return s / e
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

func fmtNum(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (c Cell) cols(k Kind) []string {
	if c.Missing != "" {
		return []string{"n/a (" + c.Missing + ")", "—", "—"}
	}
	switch k {
	case KindOps:
		return []string{fmtNum(c.Throughput) + " ops/s", fmtDur(c.P50), fmtDur(c.P99)}
	case KindWatch:
		return []string{fmtNum(c.Throughput) + " notif/s", fmtDur(c.P50), fmtDur(c.P99)}
	case KindMiB:
		return []string{fmt.Sprintf("%.0f MiB", c.Value), "—", "—"}
	default:
		return []string{fmt.Sprintf("%.2f s", c.Value), "—", "—"}
	}
}

// Table renders rows as a Markdown table.
func Table(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| workload | schemakv | p50 | p99 | etcd | p50 | p99 | schemakv / etcd |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		cols := []string{r.Workload}
		cols = append(cols, r.S.cols(r.Kind)...)
		cols = append(cols, r.E.cols(r.Kind)...)
		ratio := "—"
		if v := r.Ratio(); v > 0 {
			switch r.Kind {
			case KindOps:
				ratio = fmt.Sprintf("%.2f× throughput", v)
			case KindWatch:
				ratio = fmt.Sprintf("%.2f× p99", v)
			case KindMiB:
				ratio = fmt.Sprintf("%.2f× RSS", v)
			default:
				ratio = fmt.Sprintf("%.2f× time", v)
			}
		}
		cols = append(cols, ratio)
		fmt.Fprintf(w, "| %s |\n", strings.Join(cols, " | "))
	}
}

// CPUTable renders the CPU cost per operation of the rows that have it.
func CPUTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| workload | schemakv servers | etcd servers | schemakv / etcd | client for schemakv | client for etcd |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		if r.S.ServerCPU == 0 && r.E.ServerCPU == 0 {
			continue
		}
		ratio := "—"
		if r.S.ServerCPU > 0 && r.E.ServerCPU > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(r.S.ServerCPU)/float64(r.E.ServerCPU))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.Workload, fmtCPU(r.S.ServerCPU), fmtCPU(r.E.ServerCPU), ratio,
			fmtCPU(r.S.ClientCPU), fmtCPU(r.E.ClientCPU))
	}
}

func fmtCPU(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

// Notes lists each row's notes (errors, delivery counts, per-node figures).
func Notes(w io.Writer, rows []Row) {
	for _, r := range rows {
		for _, c := range []struct {
			sys  string
			cell Cell
		}{{"schemakv", r.S}, {"etcd", r.E}} {
			if c.cell.Note != "" {
				fmt.Fprintf(w, "- %s, %s: %s\n", r.Workload, c.sys, c.cell.Note)
			}
		}
	}
}

// TempDir makes the run's directory under parent.
func TempDir(parent string) (string, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	d, err := os.MkdirTemp(parent, "schemakv-bench-*")
	if err != nil {
		return "", err
	}
	return filepath.Abs(d)
}
