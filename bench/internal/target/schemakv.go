package target

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/bench/internal/procs"
)

// Namespace and Schema are what the schemakv target writes to.
const (
	Namespace = "bench"
	Schema    = "service"
)

// Schemakv is a schemakv cluster of processes driven over HTTP.
type Schemakv struct {
	cfg   Config
	urls  []string // http://ip:port per node
	pprof []string // http://ip:port per node when cfg.Pprof
	args  [][]string
	procs []*procs.Proc
	token string       // bootstrap admin token
	hc    *http.Client // requests with a bounded answer
	wc    *http.Client // watch streams
	mux   watchMux     // multiplexed watch streams being filled
}

// StartSchemakv starts len(cfg.IPs) nodes (with --bootstrap-expect N and
// --join when N > 1), waits until each answers /v1/ready, then creates the
// namespace and registers schema (a JSON Schema document) as "service".
func StartSchemakv(ctx context.Context, cfg Config, schema []byte) (*Schemakv, error) {
	n := len(cfg.IPs)
	s := &Schemakv{cfg: cfg}
	type addrs struct{ http, raft, gossip string }
	as := make([]addrs, n)
	var gossip []string
	for i, ip := range cfg.IPs {
		for j, p := range []*string{&as[i].http, &as[i].raft, &as[i].gossip} {
			port, err := procs.FreePort(ip)
			if err != nil {
				return nil, err
			}
			_ = j
			*p = net.JoinHostPort(ip, strconv.Itoa(port))
		}
		gossip = append(gossip, as[i].gossip)
	}
	for i := range n {
		id := fmt.Sprintf("s%d", i+1)
		args := []string{"server", "--node-id", id, "--data-dir", filepath.Join(cfg.Dir, id),
			"--http-addr", as[i].http, "--raft-addr", as[i].raft, "--gossip-addr", as[i].gossip,
			"--log-level", "warn", "--log-format", "json"}
		if n > 1 {
			args = append(args, "--join", strings.Join(gossip, ","), "--bootstrap-expect", strconv.Itoa(n))
		} else {
			args = append(args, "--bootstrap-expect", "1")
		}
		s.args = append(s.args, args)
		if cfg.Pprof {
			port, err := procs.FreePort(cfg.IPs[i])
			if err != nil {
				return nil, err
			}
			s.pprof = append(s.pprof, net.JoinHostPort(cfg.IPs[i], strconv.Itoa(port)))
		}
		s.urls = append(s.urls, "http://"+as[i].http)
	}
	s.procs = make([]*procs.Proc, n)
	// The cluster's bootstrap admin token: the nodes get it in the
	// environment, every request carries it (authentication stays on, as
	// in production).
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	s.token = "skv_" + hex.EncodeToString(tok)
	s.hc = &http.Client{Transport: bearer{token: s.token, rt: &http.Transport{
		MaxIdleConns: 4096, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true,
	}}}
	s.wc = &http.Client{Transport: bearer{token: s.token, rt: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: -1}}}
	for i := range n {
		if _, err := s.StartNode(i); err != nil {
			s.Close()
			return nil, err
		}
	}
	for i := range n {
		err := procs.Poll(ctx, cfg.StartTimeout, 50*time.Millisecond, func(ctx context.Context) error {
			if done, err := s.procs[i].Exited(); done {
				return fmt.Errorf("exited: %v", err)
			}
			return s.ready(ctx, i)
		})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("schemakv node %d not ready: %w\n%s", i+1, err, s.procs[i].Tail(2000))
		}
	}
	if err := s.setup(ctx, schema); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Schemakv) ready(ctx context.Context, i int) error {
	st, _, err := s.do(ctx, http.MethodGet, s.urls[i]+"/v1/ready", nil)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("ready: %d", st)
	}
	return nil
}

func (s *Schemakv) setup(ctx context.Context, schema []byte) error {
	st, b, err := s.do(ctx, http.MethodPut, s.urls[0]+"/v1/namespaces/"+Namespace, []byte(`{"description":"benchmark"}`))
	if err != nil || (st != http.StatusCreated && st != http.StatusConflict) {
		return fmt.Errorf("create namespace: %d %s %v", st, b, err)
	}
	st, _, err = s.do(ctx, http.MethodGet, s.urls[0]+"/v1/namespaces/"+Namespace+"/schemas/"+Schema, nil)
	if err == nil && st == http.StatusOK {
		return nil
	}
	body, _ := json.Marshal(map[string]json.RawMessage{"schema": schema})
	st, b, err = s.do(ctx, http.MethodPost, s.urls[0]+"/v1/namespaces/"+Namespace+"/schemas/"+Schema, body)
	if err != nil || st != http.StatusCreated {
		return fmt.Errorf("register schema: %d %s %v", st, b, err)
	}
	return nil
}

// do sends one request and reads the whole answer (keeping the connection
// reusable).
func (s *Schemakv) do(ctx context.Context, method, u string, body []byte) (int, []byte, error) {
	st, b, _, err := s.doH(ctx, method, u, body)
	return st, b, err
}

func (s *Schemakv) doH(ctx context.Context, method, u string, body []byte) (int, []byte, http.Header, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// Name implements Target.
func (s *Schemakv) Name() string { return "schemakv" }

// Nodes implements Target.
func (s *Schemakv) Nodes() int { return len(s.urls) }

// Leader implements Target: the node whose /v1/health says leader.
func (s *Schemakv) Leader(ctx context.Context) (int, error) {
	for i, u := range s.urls {
		st, b, err := s.do(ctx, http.MethodGet, u+"/v1/health", nil)
		if err != nil || st != http.StatusOK {
			continue
		}
		var h api.Health
		if json.Unmarshal(b, &h) == nil && h.Leader {
			return i, nil
		}
	}
	return 0, errors.New("schemakv: no leader")
}

func (s *Schemakv) configURL(node int, key string) string {
	return s.urls[node] + "/v1/namespaces/" + Namespace + "/configs/" + key
}

// Put implements Target: PUT .../configs/{key} with schema "service", so
// every write is validated against the schema.
func (s *Schemakv) Put(ctx context.Context, node int, key string, value []byte) (uint64, error) {
	body := make([]byte, 0, len(value)+40)
	body = append(body, `{"schema":"`+Schema+`","value":`...)
	body = append(body, value...)
	body = append(body, '}')
	st, b, h, err := s.doH(ctx, http.MethodPut, s.configURL(node, key), body)
	if err != nil {
		return 0, err
	}
	if st != http.StatusOK && st != http.StatusCreated {
		return 0, fmt.Errorf("put: %d %s", st, b)
	}
	return strconv.ParseUint(h.Get("X-Schemakv-Index"), 10, 64)
}

// PutBatch implements Target with POST /v1/batch.
func (s *Schemakv) PutBatch(ctx context.Context, node int, keys []string, values [][]byte) error {
	req := api.BatchRequest{Ops: make([]api.BatchOp, len(keys))}
	for i, k := range keys {
		req.Ops[i] = api.BatchOp{Op: "put", Namespace: Namespace, Key: k, Schema: Schema, Value: values[i]}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	st, b, err := s.do(ctx, http.MethodPost, s.urls[node]+"/v1/batch", body)
	if err != nil {
		return err
	}
	if st != http.StatusOK && st != http.StatusCreated {
		return fmt.Errorf("batch: %d %.300s", st, b)
	}
	return nil
}

// Get implements Target.
func (s *Schemakv) Get(ctx context.Context, node int, key string, c Consistency) error {
	u := s.configURL(node, key)
	if c == Stale {
		u += "?consistency=stale"
	}
	st, b, err := s.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("get: %d %.200s", st, b)
	}
	return nil
}

// Watch implements Target with GET /v1/watch as Server-Sent Events: the
// revision is read from each message's "id:" line, so the client does not
// decode the JSON body (the server still encodes it).
func (s *Schemakv) Watch(ctx context.Context, node int, prefix string, created func(), onEvent func(uint64)) error {
	if WatchesPerStream > 1 {
		return s.watchMuxed(ctx, node, prefix, created, onEvent)
	}
	u := s.urls[node] + "/v1/watch?namespace=" + Namespace + "&prefix=" + url.QueryEscape(prefix) + "&format=sse"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := s.wc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("watch: %d %s", resp.StatusCode, b)
	}
	created()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var id uint64
	var event string
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch {
		case bytes.HasPrefix(line, []byte("id: ")):
			id, _ = strconv.ParseUint(string(bytes.TrimSpace(line[4:])), 10, 64)
		case bytes.HasPrefix(line, []byte("event: ")):
			event = string(bytes.TrimSpace(line[7:]))
		case len(line) == 1 && line[0] == '\n':
			switch event {
			case api.WatchEvents:
				onEvent(id)
			case api.WatchCut:
				return fmt.Errorf("watch cut at %d", id)
			}
			event = ""
		}
	}
}

// PprofURL is node's /debug/pprof/ base URL, or "" without Config.Pprof.
func (s *Schemakv) PprofURL(node int) string {
	if len(s.pprof) == 0 {
		return ""
	}
	return "http://" + s.pprof[node] + "/debug/pprof/"
}

// PIDs implements Target.
func (s *Schemakv) PIDs() []int {
	out := make([]int, len(s.procs))
	for i, p := range s.procs {
		if p != nil {
			out[i] = p.PID()
		}
	}
	return out
}

// StopNode implements Target.
func (s *Schemakv) StopNode(i int) {
	if s.procs[i] != nil {
		s.procs[i].Stop(30 * time.Second)
	}
}

// StartNode implements Target.
func (s *Schemakv) StartNode(i int) (time.Time, error) {
	t := time.Now()
	env := []string{"SCHEMAKV_BOOTSTRAP_TOKEN=" + s.token}
	if s.cfg.Pprof {
		env = append(env, "SCHEMAKV_BENCH_PPROF="+s.pprof[i])
	}
	p, err := procs.Start(fmt.Sprintf("schemakv-s%d", i+1), s.cfg.Bin, s.args[i], env,
		filepath.Join(s.cfg.Dir, fmt.Sprintf("s%d.log", i+1)))
	if err != nil {
		return t, err
	}
	s.procs[i] = p
	return t, nil
}

// Close implements Target.
func (s *Schemakv) Close() {
	for i := range s.procs {
		s.StopNode(i)
	}
	s.hc.CloseIdleConnections()
	s.wc.CloseIdleConnections()
}

// bearer adds the token to every request.
type bearer struct {
	token string
	rt    *http.Transport
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (b bearer) CloseIdleConnections() { b.rt.CloseIdleConnections() }
