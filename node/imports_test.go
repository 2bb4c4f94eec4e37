package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/node"
)

// Bulk import scenarios on real in-process clusters (real raft, HTTP,
// bbolt). The 100,000-entry cases run at full size unless -short.

// importEntries writes n NDJSON entries for namespace app (schema s@1 from
// setup); every entry whose index is a multiple of invalidEvery (when > 0)
// fails its schema. Values are padded to about valueBytes.
func importEntries(w io.Writer, from, n, invalidEvery, valueBytes int) {
	bw := bufio.NewWriter(w)
	pad := ""
	if valueBytes > 0 {
		pad = strings.Repeat("x", valueBytes)
	}
	for i := from; i < from+n; i++ {
		val := fmt.Sprintf(`{"n":%d}`, i)
		if valueBytes > 0 {
			val = fmt.Sprintf(`{"n":%d,"pad":%q}`, i, pad)
		}
		if invalidEvery > 0 && i%invalidEvery == 0 {
			val = fmt.Sprintf(`{"n":"not a number %d"}`, i)
		}
		fmt.Fprintf(bw, `{"namespace":"app","key":"k/%07d","schema":"s@1","value":%s}`+"\n", i, val)
	}
	_ = bw.Flush()
}

func ndjson(from, n, invalidEvery int) []byte {
	var b bytes.Buffer
	importEntries(&b, from, n, invalidEvery, 0)
	return b.Bytes()
}

// rawCall sends a raw body and decodes a JSON answer (success or error).
func rawCall(t testing.TB, method, url, ctype string, body io.Reader, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d: decode %q: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func startImport(t testing.TB, base, query string, body []byte) api.ImportJob {
	t.Helper()
	var j api.ImportJob
	if st := rawCall(t, http.MethodPost, base+"/v1/imports?"+query, "application/x-ndjson", bytes.NewReader(body), &j); st != http.StatusAccepted {
		t.Fatalf("POST /v1/imports: status %d: %+v", st, j)
	}
	if j.ID == "" {
		t.Fatal("no job id")
	}
	return j
}

// waitJob polls a job until it ends.
func waitJob(t testing.TB, base, id string) api.ImportJob {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var j api.ImportJob
		if st := rawCall(t, http.MethodGet, base+"/v1/imports/"+id, "", nil, &j); st == http.StatusOK && j.Final() {
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("import %s did not end within 3m", id)
	return api.ImportJob{}
}

func configCount(t testing.TB, base string) int {
	t.Helper()
	var n api.Namespace
	mustOK(t, http.MethodGet, base+"/v1/namespaces/app", nil, &n)
	return n.ConfigCount
}

func importSize(t *testing.T) int {
	if testing.Short() {
		return 5_000
	}
	return 100_000
}

func TestImport_AtomicWithInvalidPublishesNothing(t *testing.T) {
	tc := startClusterWith(t, 1, unpaced)
	base := tc.url(0)
	setup(t, base)
	n := importSize(t)
	j := startImport(t, base, "mode=atomic&reason=onboard", ndjson(0, n, 100))
	j = waitJob(t, base, j.ID)
	want := n / 100
	if j.State != api.ImportFailed || j.Received != int64(n) || j.Failed != int64(want) || j.Applied != 0 {
		t.Fatalf("job = state %s received %d failed %d applied %d (%s); want failed, %d, %d, 0", j.State, j.Received, j.Failed, j.Applied, j.Message, n, want)
	}
	if len(j.Errors)+int(j.ErrorsOmitted) != want || len(j.Errors) != min(want, 1000) {
		t.Fatalf("errors listed %d + omitted %d; want %d", len(j.Errors), j.ErrorsOmitted, want)
	}
	for i, e := range j.Errors {
		if e.Index != int64(i*100) || e.Key != fmt.Sprintf("k/%07d", i*100) || e.Code != api.CodeValidationFailed || len(e.Details) == 0 || e.Details[0].Pointer != "/n" {
			t.Fatalf("error %d = %+v", i, e)
		}
	}
	if c := configCount(t, base); c != 0 {
		t.Fatalf("%d configs visible after a failed atomic import", c)
	}
	if s := tc.nodes[0].Store().View().StagedCount(j.ID); s != 0 {
		t.Fatalf("%d entries still staged", s)
	}
}

func TestImport_BestEffortPublishesExactlyTheValid(t *testing.T) {
	tc := startClusterWith(t, 1, unpaced)
	base := tc.url(0)
	setup(t, base)
	n := importSize(t)
	j := startImport(t, base, "mode=best-effort&reason=onboard", ndjson(0, n, 100))
	j = waitJob(t, base, j.ID)
	want := n - n/100
	if j.State != api.ImportPartial || j.Applied != int64(want) || j.Failed != int64(n/100) {
		t.Fatalf("job = %s applied %d failed %d (%s); want partial, %d, %d", j.State, j.Applied, j.Failed, j.Message, want, n/100)
	}
	if c := configCount(t, base); c != want {
		t.Fatalf("%d configs, want %d", c, want)
	}
	v := tc.nodes[0].Store().View()
	for i := 0; i < n; i++ {
		e, ok := v.Config("app", fmt.Sprintf("k/%07d", i))
		if ok != (i%100 != 0) {
			t.Fatalf("entry %d present = %v", i, ok)
		}
		if ok && (e.ModifiedBy != testAdminAudit || e.Reason != "onboard" || e.Version != 1) {
			t.Fatalf("entry %d = by %q reason %q version %d", i, e.ModifiedBy, e.Reason, e.Version)
		}
	}
	var hist api.History
	mustOK(t, http.MethodGet, base+"/v1/namespaces/app/history/k/0000001", nil, &hist)
	if len(hist.Items) != 1 || hist.Items[0].Principal != testAdminAudit || hist.Items[0].Reason != "onboard" {
		t.Fatalf("history = %+v", hist.Items)
	}
}

// An atomic import larger than 65,535 entries (16 bits of event sequence, the
// store's old limit per revision) publishes every entry at one revision, each
// with its own history event.
func TestImport_AtomicLargePublishesAtOneRevision(t *testing.T) {
	tc := startClusterWith(t, 1, unpaced)
	base := tc.url(0)
	setup(t, base)
	n := importSize(t)
	j := waitJob(t, base, startImport(t, base, "mode=atomic&reason=big", ndjson(0, n, 0)).ID)
	if j.State != api.ImportSucceeded || j.Applied != int64(n) || j.PublishRevision == 0 {
		t.Fatalf("job = state %s applied %d publish %d (%s); want succeeded, %d", j.State, j.Applied, j.PublishRevision, j.Message, n)
	}
	v := tc.nodes[0].Store().View()
	for _, i := range []int{0, n / 2, n - 1} {
		key := fmt.Sprintf("k/%07d", i)
		e, ok := v.Config("app", key)
		if !ok || e.ModifyRevision != j.PublishRevision {
			t.Fatalf("entry %s = %+v %v; want it at revision %d", key, e, ok, j.PublishRevision)
		}
		var hist api.History
		mustOK(t, http.MethodGet, base+"/v1/namespaces/app/history/"+key, nil, &hist)
		if len(hist.Items) != 1 || hist.Items[0].Key != key || hist.Items[0].Revision != j.PublishRevision {
			t.Fatalf("history of %s = %+v", key, hist.Items)
		}
	}
}

// A watcher sees an atomic import as one revision: one message, every event
// at the job's publish revision.
func TestImport_AtomicIsOneRevisionForWatchers(t *testing.T) {
	tc := startClusterWith(t, 1, unpaced)
	base := tc.url(0)
	setup(t, base)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/watch?namespace=app&kinds=config&format=ndjson&progress=50ms", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msgs := make(chan api.WatchMessage, 1024)
	go func() {
		dec := json.NewDecoder(resp.Body)
		for {
			var m api.WatchMessage
			if dec.Decode(&m) != nil {
				close(msgs)
				return
			}
			msgs <- m
		}
	}()
	<-msgs // the first progress: the stream is live
	const n = 3000
	j := waitJob(t, base, startImport(t, base, "reason=one-revision", ndjson(0, n, 0)).ID)
	if j.State != api.ImportSucceeded || j.Applied != n || j.PublishRevision == 0 {
		t.Fatalf("job = %+v", j)
	}
	got := 0
	deadline := time.After(30 * time.Second)
	for got < n {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("stream ended")
			}
			if m.Type != api.WatchEvents {
				continue
			}
			if m.Revision != j.PublishRevision || len(m.Events) != n {
				t.Fatalf("events message at revision %d with %d events; want one message of %d at %d", m.Revision, len(m.Events), n, j.PublishRevision)
			}
			got += len(m.Events)
		case <-deadline:
			t.Fatalf("saw %d of %d events", got, n)
		}
	}
}

// The leader is killed while a follower drives an atomic import: the follower
// re-proposes through the new leader and the job ends with exactly the
// uploaded entries, each written once.
func TestImport_LeaderKilledMidJob(t *testing.T) {
	tc := startClusterWith(t, 3, unpaced)
	leader := tc.waitLeader()
	f := tc.follower()
	base := tc.url(f)
	setup(t, base)
	const total = 30000
	pr, pw := io.Pipe()
	type answer struct {
		st  int
		job api.ImportJob
	}
	done := make(chan answer, 1)
	go func() {
		var j api.ImportJob
		st := rawCall(t, http.MethodPost, base+"/v1/imports?mode=atomic&reason=failover", "application/x-ndjson", pr, &j)
		done <- answer{st, j}
	}()
	// The upload keeps flowing while the leader stops, so chunk proposals
	// are in flight when it goes.
	go func() {
		importEntries(pw, 0, total, 0, 0)
		_ = pw.Close()
	}()
	// Wait until chunks are committed, then stop the leader mid-job.
	deadline := time.Now().Add(30 * time.Second)
	var id string
	for id == "" || tc.nodes[f].Store().View().StagedCount(id) < 3000 {
		if time.Now().After(deadline) {
			t.Fatal("no chunks staged within 30s")
		}
		for _, j := range tc.nodes[f].Store().View().ImportJobs() {
			id = j.ID
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Kill, not stop: raft shuts down under the in-flight proposals (no
	// leadership transfer, no draining), so their outcome is unknown to the
	// driver, which re-proposes them through the next leader.
	if err := tc.nodes[leader].Cluster().Close(); err != nil {
		t.Logf("kill leader: %v", err)
	}
	tc.stop(leader)
	if tc.nodes[f].Store().View().StagedCount(id) >= total {
		t.Fatal("the upload ended before the leader stopped")
	}
	a := <-done
	if a.st != http.StatusAccepted {
		t.Fatalf("upload answered %d: %+v", a.st, a.job)
	}
	j := waitJob(t, base, id)
	if j.State != api.ImportSucceeded || j.Applied != total || j.Received != total {
		t.Fatalf("job = %s applied %d received %d (%s)", j.State, j.Applied, j.Received, j.Message)
	}
	for i, nd := range tc.nodes {
		if nd == nil {
			continue
		}
		if !nd.Store().WaitApplied(ctxDone(t, 10*time.Second), j.PublishRevision) {
			t.Fatalf("node %d did not apply the publish", i)
		}
		v := nd.Store().View()
		if c := v.ConfigCount(); c != total {
			t.Fatalf("node %d holds %d configs, want %d", i, c, total)
		}
		for k := 0; k < total; k++ {
			e, ok := v.Config("app", fmt.Sprintf("k/%07d", k))
			if !ok || e.Version != 1 || e.ModifyRevision != j.PublishRevision {
				t.Fatalf("node %d entry %d = %+v", i, k, e)
			}
		}
	}
}

func ctxDone(t *testing.T, d time.Duration) <-chan struct{} {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx.Done()
}

// A job created empty takes its data in resumable pieces; cancelling an
// atomic job leaves nothing, on any node.
func TestImport_ResumeAndCancel(t *testing.T) {
	tc := startClusterWith(t, 3, unpaced)
	base := tc.url(tc.follower())
	setup(t, base)

	// Resume: two uploads, the second at the acknowledged offset.
	var j api.ImportJob
	if st := rawCall(t, http.MethodPost, base+"/v1/imports?mode=atomic", "", nil, &j); st != http.StatusAccepted {
		t.Fatalf("create: %d", st)
	}
	// A progress stream follows the job until it ends.
	lines := make(chan []api.ImportJob, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/imports/"+j.ID+"?watch=true", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			lines <- nil
			return
		}
		defer resp.Body.Close()
		var out []api.ImportJob
		dec := json.NewDecoder(resp.Body)
		for {
			var l api.ImportJob
			if dec.Decode(&l) != nil {
				break
			}
			out = append(out, l)
		}
		lines <- out
	}()
	part1, part2 := ndjson(0, 2500, 0), ndjson(2500, 2500, 0)
	if st := rawCall(t, http.MethodPut, base+"/v1/imports/"+j.ID+"/data?offset=0", "", bytes.NewReader(part1), &j); st != http.StatusOK || j.Offset != int64(len(part1)) {
		t.Fatalf("part 1: %d offset %d, want %d", st, j.Offset, len(part1))
	}
	var e api.ErrorBody
	if st := rawCall(t, http.MethodPut, base+"/v1/imports/"+j.ID+"/data?offset=5", "", bytes.NewReader(part2), &e); st != http.StatusConflict || e.Error.Code != api.CodeImportOffset {
		t.Fatalf("wrong offset: %d %+v", st, e.Error)
	}
	url := fmt.Sprintf("%s/v1/imports/%s/data?offset=%d&final=true", tc.url(tc.waitLeader()), j.ID, j.Offset)
	if st := rawCall(t, http.MethodPut, url, "", bytes.NewReader(part2), &j); st != http.StatusAccepted {
		t.Fatalf("part 2: %d", st)
	}
	if j = waitJob(t, base, j.ID); j.State != api.ImportSucceeded || j.Applied != 5000 {
		t.Fatalf("resumed job = %s applied %d", j.State, j.Applied)
	}
	progress := <-lines
	if len(progress) < 3 || progress[0].State != api.ImportRunning || progress[len(progress)-1].State != api.ImportSucceeded {
		t.Fatalf("progress stream: %d lines, first %+v", len(progress), progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].Received < progress[i-1].Received {
			t.Fatalf("progress went back: %d after %d", progress[i].Received, progress[i-1].Received)
		}
	}

	// Cancel: staged entries are dropped, nothing is published.
	rawCall(t, http.MethodPost, base+"/v1/imports?mode=atomic", "", nil, &j)
	if st := rawCall(t, http.MethodPut, base+"/v1/imports/"+j.ID+"/data?offset=0", "", bytes.NewReader(ndjson(10000, 3000, 0)), &j); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	if s := tc.nodes[tc.follower()].Store().View().StagedCount(j.ID); s != 3000 {
		t.Fatalf("%d staged, want 3000", s)
	}
	if st := rawCall(t, http.MethodDelete, base+"/v1/imports/"+j.ID, "", nil, &j); st != http.StatusOK || j.State != api.ImportCancelled {
		t.Fatalf("cancel: %d %s", st, j.State)
	}
	if st := rawCall(t, http.MethodPut, base+"/v1/imports/"+j.ID+"/data?offset="+fmt.Sprint(j.Offset), "", bytes.NewReader(ndjson(0, 1, 0)), &e); st != http.StatusConflict || e.Error.Code != api.CodeImportFinished {
		t.Fatalf("upload after cancel: %d %+v", st, e.Error)
	}
	waitSameState(t, tc)
	for i, nd := range tc.nodes {
		v := nd.Store().View()
		if v.StagedCount(j.ID) != 0 || v.ConfigCount() != 5000 {
			t.Fatalf("node %d: staged %d, configs %d", i, v.StagedCount(j.ID), v.ConfigCount())
		}
	}
}

func TestImport_BadInputAndLimits(t *testing.T) {
	cfg := clusterConfig(t, "n1", 1, nil)
	cfg.Limits.Imports.MaxEntries = 100
	cfg.Limits.Imports.MaxRunning = 2
	unpaced(&cfg)
	tc := &testCluster{t: t, cfgs: []node.Config{cfg}, nodes: make([]*node.Node, 1)}
	tc.start(0)
	t.Cleanup(tc.closeAll)
	tc.waitLeader()
	base := tc.url(0)
	setup(t, base)
	cases := []struct {
		name, query, ctype, body string
		status                   int
		code                     string
	}{
		{"not json", "", "", "hello: yaml\n", 400, api.CodeInvalidImport},
		{"broken array", "", "application/json", `[{"namespace":"app","key":"a","schema":"s","value":{"n":1}}, oops]`, 400, api.CodeInvalidImport},
		{"data after array", "", "application/json", `[] []`, 400, api.CodeInvalidImport},
		{"bad mode", "mode=sometimes", "", "{}\n", 400, api.CodeBadRequest},
		{"bad format", "format=yaml", "", "{}\n", 400, api.CodeBadRequest},
		{"bad media type", "", "text/csv", "a,b\n", 415, api.CodeUnsupportedMedia},
		{"too many entries", "", "", string(ndjson(0, 101, 0)), 413, api.CodeImportTooLarge},
	}
	for _, tt := range cases {
		var e api.ErrorBody
		st := rawCall(t, http.MethodPost, base+"/v1/imports?"+tt.query, tt.ctype, strings.NewReader(tt.body), &e)
		if st != tt.status || e.Error == nil || e.Error.Code != tt.code {
			t.Errorf("%s: %d %+v; want %d %s", tt.name, st, e.Error, tt.status, tt.code)
		}
	}
	// Entries that are JSON but not entries fail one by one.
	j := waitJob(t, base, startImport(t, base, "mode=best-effort", []byte(
		`{"namespace":"app","key":"ok","schema":"s@1","value":{"n":1}}`+"\n"+
			`{"namespace":"app","key":"x","schema":"s@1","value":{"n":1},"extra":1}`+"\n"+
			`{"namespace":"nope","key":"x","schema":"s@1","value":{"n":1}}`+"\n"+
			`{"namespace":"app","key":"../x","schema":"s@1","value":{"n":1}}`+"\n"+
			`{"namespace":"app","key":"y","schema":"zz@1","value":{"n":1}}`+"\n")).ID)
	codes := []string{}
	for _, e := range j.Errors {
		codes = append(codes, e.Code)
	}
	if j.State != api.ImportPartial || j.Applied != 1 || fmt.Sprint(codes) != fmt.Sprint([]string{api.CodeInvalidJSON, api.CodeNamespaceNotFound, api.CodeInvalidKey, api.CodeSchemaNotFound}) {
		t.Fatalf("job = %s applied %d codes %v", j.State, j.Applied, codes)
	}
	// The running jobs limit.
	for i := 0; i < 2; i++ {
		if st := rawCall(t, http.MethodPost, base+"/v1/imports", "", nil, nil); st != http.StatusAccepted {
			t.Fatalf("create %d: %d", i, st)
		}
	}
	var e api.ErrorBody
	if st := rawCall(t, http.MethodPost, base+"/v1/imports", "", nil, &e); st != http.StatusTooManyRequests || e.Error.Code != api.CodeTooManyImports {
		t.Fatalf("third running job: %d %+v", st, e.Error)
	}
	var list api.ImportList
	rawCall(t, http.MethodGet, base+"/v1/imports", "", nil, &list)
	if len(list.Items) < 4 {
		t.Fatalf("list holds %d jobs", len(list.Items))
	}
	if st := rawCall(t, http.MethodGet, base+"/v1/imports/imp-none", "", nil, &e); st != 404 || e.Error.Code != api.CodeImportNotFound {
		t.Fatalf("missing job: %d %+v", st, e.Error)
	}
}

// unpaced lets imports run at full speed, so that tests stay quick.
func unpaced(c *node.Config) { c.Limits.Imports.MaxEntriesPerSecond = -1 }

// The node driving an upload stops mid-job: the client resumes the upload on
// another node from the acknowledged offset, and every entry is written
// exactly once.
func TestImport_DriverLostResumesElsewhere(t *testing.T) {
	tc := startClusterWith(t, 3, unpaced)
	leader := tc.waitLeader()
	f := tc.follower()
	setup(t, tc.url(leader))
	var j api.ImportJob
	if st := rawCall(t, http.MethodPost, tc.url(f)+"/v1/imports?mode=atomic&reason=resume", "", nil, &j); st != http.StatusAccepted {
		t.Fatalf("create: %d", st)
	}
	all := ndjson(0, 4000, 0)
	cut := bytes.Index(all, []byte(`"k/0002500"`))
	cut = bytes.LastIndexByte(all[:cut], '\n') + 1
	if st := rawCall(t, http.MethodPut, tc.url(f)+"/v1/imports/"+j.ID+"/data?offset=0", "", bytes.NewReader(all[:cut]), &j); st != http.StatusOK {
		t.Fatalf("part 1: %d", st)
	}
	tc.stop(f)
	leader = tc.waitLeader()
	rawCall(t, http.MethodGet, tc.url(leader)+"/v1/imports/"+j.ID, "", nil, &j)
	if j.Offset != int64(cut) || j.State != api.ImportRunning {
		t.Fatalf("after the driver stopped: offset %d (want %d), state %s", j.Offset, cut, j.State)
	}
	url := fmt.Sprintf("%s/v1/imports/%s/data?offset=%d&final=true", tc.url(leader), j.ID, j.Offset)
	if st := rawCall(t, http.MethodPut, url, "", bytes.NewReader(all[j.Offset:]), &j); st != http.StatusAccepted {
		t.Fatalf("resume: %d", st)
	}
	j = waitJob(t, tc.url(leader), j.ID)
	if j.State != api.ImportSucceeded || j.Applied != 4000 || j.Received != 4000 {
		t.Fatalf("job = %s applied %d received %d (%s)", j.State, j.Applied, j.Received, j.Message)
	}
	v := tc.nodes[leader].Store().View()
	for k := 0; k < 4000; k++ {
		if e, ok := v.Config("app", fmt.Sprintf("k/%07d", k)); !ok || e.Version != 1 || e.ModifiedBy != testAdminAudit || e.Reason != "resume" {
			t.Fatalf("entry %d = %+v", k, e)
		}
	}
}
