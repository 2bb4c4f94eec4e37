package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/internal/jsonutil"
	"github.com/schemakv/schemakv/schema"
	"github.com/schemakv/schemakv/store"
)

// The import driver runs one upload request into a job as a pipeline of
// three goroutines joined by small buffered channels, so memory holds a few
// chunks, never the upload:
//
//	read (the handler goroutine): decode the stream into chunks of raw entries
//	validate: check each chunk's entries on the node's validation pool
//	propose: propose each chunk through raft, in order, re-proposing on a
//	         leader change (chunks are idempotent per sequence number)
//
// The validation pool has GOMAXPROCS-1 workers (at least 1), shared by every
// upload on the node, so request handling always keeps a core.

type rawEntry struct {
	index int64
	data  []byte
	// file is set for an entry of a tar upload: data is then the file's
	// content (imports_tar.go).
	file *tarFile
}

type rawChunk struct {
	entries []rawEntry
	end     int64 // upload offset after the last entry
}

// driverSet records the jobs whose upload runs on this node: one at a time
// per job.
type driverSet struct {
	mu   sync.Mutex
	jobs map[string]bool
}

func (d *driverSet) begin(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.jobs == nil {
		d.jobs = map[string]bool{}
	}
	if d.jobs[id] {
		return false
	}
	d.jobs[id] = true
	return true
}

func (d *driverSet) end(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.jobs, id)
}

// validationWorkers is the size of a node's validation pool.
func validationWorkers() int { return max(1, runtime.GOMAXPROCS(0)-1) }

type driver struct {
	s     *Server
	c     *gin.Context
	job   *api.ImportJob
	audit fsm.Audit
	// final is set when this request ends the upload: a tar that ends
	// inside a file is then truncated, not a part to continue.
	final bool
	// schemas are the registered schema versions a tar's schema files
	// are compared with (the view the upload validates against).
	schemas schema.Source
}

// run uploads body, which starts at offset of the job's upload. It returns
// the sequence number of the last chunk committed.
func (d *driver) run(ctx context.Context, body io.Reader, offset int64) (int64, error) {
	v, err := d.s.writeView(d.c)
	if err != nil {
		return d.job.Chunks, err
	}
	d.schemas = v
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	raw := make(chan rawChunk, 2)
	valid := make(chan *fsm.ImportChunk, 2)
	go func() {
		defer close(valid)
		for rc := range raw {
			valid <- d.validate(v, rc)
		}
	}()
	lastSeq := d.job.Chunks
	var proposeErr error
	proposed := make(chan struct{})
	go func() {
		defer close(proposed)
		start, sent := time.Now(), int64(0)
		for cmd := range valid {
			if proposeErr != nil {
				continue // drain
			}
			if rate := d.s.importLimits.MaxEntriesPerSecond; rate > 0 {
				due := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
				select {
				case <-time.After(time.Until(due)):
				case <-ctx.Done():
				}
			}
			sent += cmd.Received
			cmd.Seq = lastSeq + 1
			if _, err := d.s.proposeImport(ctx, cmd); err != nil {
				proposeErr = err
				cancel()
				continue
			}
			lastSeq = cmd.Seq
		}
	}()
	readErr := d.read(ctx, body, offset, raw)
	close(raw)
	<-proposed
	if proposeErr != nil {
		return lastSeq, proposeErr
	}
	return lastSeq, readErr
}

// read decodes the stream into chunks and sends them on out.
func (d *driver) read(ctx context.Context, body io.Reader, offset int64, out chan<- rawChunk) error {
	br := bufio.NewReaderSize(body, 64<<10)
	format := d.job.Format
	if format == "" {
		// A tar header carries a magic number; a gzip stream too, but
		// its format must be said (it decides whether the job resumes).
		head, _ := br.Peek(tarBlock)
		if isTarHeader(head) {
			format = api.ImportTar
		} else if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
			return apiErr(api.CodeInvalidImport, "the upload is gzip-compressed: a compressed tar needs its job created with ?format=tar.gz (or Content-Type: application/gzip)")
		}
	}
	st := &chunker{d: d, ctx: ctx, out: out, index: d.job.Received, maxEntry: int64(d.s.cfg.Limits.MaxValueBytes) + 64<<10}
	if format == api.ImportTar || format == api.ImportTarGzip {
		return st.readTar(br, offset, format == api.ImportTarGzip)
	}
	first, skipped, err := peekNonSpace(br)
	if err == io.EOF {
		return nil // no data
	}
	if err != nil {
		return err
	}
	if format == "" {
		format = api.ImportNDJSON
		if first == '[' {
			format = api.ImportJSONArray
		}
	}
	if format == api.ImportJSONArray && (first != '[' || offset > 0) {
		return apiErr(api.CodeInvalidImport, "a JSON array upload must start with '[' at offset 0")
	}
	if format == api.ImportNDJSON && first != '{' {
		return apiErr(api.CodeInvalidImport, "expected NDJSON (one {\"namespace\",\"key\",\"schema\",\"value\"} object per line), a JSON array of them, or a tar of the GitOps layout (?format=tar); the upload starts with %q", first)
	}
	if format == api.ImportJSONArray {
		return st.readArray(br, skipped)
	}
	return st.readNDJSON(br, offset+skipped)
}

// peekNonSpace skips leading white space and returns the first other byte
// (still unread) and the number of bytes skipped.
func peekNonSpace(br *bufio.Reader) (byte, int64, error) {
	var skipped int64
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, skipped, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			skipped++
			continue
		}
		return b[0], skipped, nil
	}
}

// chunker groups decoded entries into chunks.
type chunker struct {
	d        *driver
	ctx      context.Context
	out      chan<- rawChunk
	cur      rawChunk
	bytes    int
	index    int64 // index of the next entry in the whole upload
	maxEntry int64
}

func (ch *chunker) add(data []byte, end int64) error { return ch.addEntry(data, nil, end) }

// addEntry adds one entry that ends at upload offset end.
func (ch *chunker) addEntry(data []byte, file *tarFile, end int64) error {
	lim := ch.d.s.importLimits
	if ch.index >= lim.MaxEntries {
		return apiErr(api.CodeImportTooLarge, "import holds more than %d entries", lim.MaxEntries)
	}
	if end > lim.MaxBytes {
		return apiErr(api.CodeImportTooLarge, "import upload exceeds %d bytes", lim.MaxBytes)
	}
	ch.cur.entries = append(ch.cur.entries, rawEntry{index: ch.index, data: data, file: file})
	ch.cur.end = end
	ch.index++
	ch.bytes += len(data)
	if len(ch.cur.entries) >= lim.ChunkEntries || ch.bytes >= lim.ChunkBytes {
		return ch.flush()
	}
	return nil
}

func (ch *chunker) flush() error {
	if len(ch.cur.entries) == 0 {
		return nil
	}
	select {
	case ch.out <- ch.cur:
	case <-ch.ctx.Done():
		return ch.ctx.Err()
	}
	ch.cur, ch.bytes = rawChunk{}, 0
	return nil
}

func (ch *chunker) readNDJSON(br *bufio.Reader, offset int64) error {
	pos := offset
	line := int64(0)
	var buf []byte
	for {
		buf = buf[:0]
		var err error
		for {
			var part []byte
			part, err = br.ReadSlice('\n')
			buf = append(buf, part...)
			if int64(len(buf)) > ch.maxEntry {
				return apiErr(api.CodeInvalidImport, "line at byte %d is longer than %d bytes", pos, ch.maxEntry)
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("httpapi: read import upload at byte %d: %w", pos+int64(len(buf)), err)
		}
		line++
		pos += int64(len(buf))
		if t := bytes.TrimSpace(buf); len(t) > 0 {
			if aerr := ch.add(bytes.Clone(t), pos); aerr != nil {
				return aerr
			}
		}
		if err == io.EOF {
			return ch.flush()
		}
	}
}

// readArray decodes a JSON array that starts base bytes into the upload.
func (ch *chunker) readArray(br *bufio.Reader, base int64) error {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil {
		return apiErr(api.CodeInvalidImport, "JSON array: %v", err)
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return apiErr(api.CodeInvalidImport, "JSON array element %d (near byte %d): %v", ch.index, base+dec.InputOffset(), err)
		}
		if int64(len(raw)) > ch.maxEntry {
			return apiErr(api.CodeInvalidImport, "JSON array element %d is longer than %d bytes", ch.index, ch.maxEntry)
		}
		if err := ch.add(raw, base+dec.InputOffset()); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return apiErr(api.CodeInvalidImport, "JSON array: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apiErr(api.CodeInvalidImport, "data after the JSON array (near byte %d)", base+dec.InputOffset())
	}
	return ch.flush()
}

// validate checks a chunk's entries on the validation pool and builds the
// chunk command (its Seq is set by the proposer).
func (d *driver) validate(v *store.View, rc rawChunk) *fsm.ImportChunk {
	n := len(rc.entries)
	ops := make([]*fsm.ImportOp, n)
	errs := make([]*api.ImportError, n)
	parts := min(validationWorkers(), n)
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		lo, hi := p*n/parts, (p+1)*n/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.s.importSem <- struct{}{}
			defer func() { <-d.s.importSem }()
			for i := lo; i < hi; i++ {
				ops[i], errs[i] = d.entry(v, rc.entries[i])
			}
		}()
	}
	wg.Wait()
	lim := d.s.importLimits
	cmd := &fsm.ImportChunk{Audit: fsm.NewAudit(d.audit.Principal, d.audit.Reason), ID: d.job.ID,
		Node: d.s.cfg.NodeID, Offset: rc.end, Received: int64(n), MaxErrors: lim.MaxErrors, MaxAtomic: lim.MaxAtomic}
	for i := range n {
		if ops[i] != nil {
			cmd.Ops = append(cmd.Ops, *ops[i])
			if !slices.Contains(cmd.Namespaces, ops[i].Namespace) {
				cmd.Namespaces = append(cmd.Namespaces, ops[i].Namespace)
			}
		} else {
			cmd.Errors = append(cmd.Errors, *errs[i])
		}
	}
	return cmd
}

// importError is the failure of the entry numbered index, going to e's
// namespace and key (as far as they are known).
func importError(index int64, e *api.ImportEntry, err error) *api.ImportError {
	ae := toAPIError(err)
	return &api.ImportError{Index: index, Namespace: e.Namespace, Key: e.Key,
		Code: ae.Code, Message: ae.Message, Details: ae.Details}
}

// entry decodes and validates one entry.
func (d *driver) entry(v *store.View, re rawEntry) (*fsm.ImportOp, *api.ImportError) {
	if re.file != nil {
		return d.fileEntry(v, re)
	}
	var e api.ImportEntry
	if err := jsonutil.Check(re.data, d.s.cfg.Limits.MaxJSONDepth); err != nil {
		return nil, importError(re.index, &e, err)
	}
	dec := json.NewDecoder(bytes.NewReader(re.data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, importError(re.index, &e, apiErr(api.CodeInvalidJSON, "entry is not a {\"namespace\",\"key\",\"schema\",\"value\"} object: %v", err))
	}
	if dec.More() {
		return nil, importError(re.index, &e, apiErr(api.CodeInvalidJSON, "data after the entry object"))
	}
	return d.check(v, re.index, &e)
}

// check validates one decoded entry.
func (d *driver) check(v *store.View, index int64, e *api.ImportEntry) (*fsm.ImportOp, *api.ImportError) {
	fail := func(err error) (*fsm.ImportOp, *api.ImportError) { return nil, importError(index, e, err) }
	if err := api.ValidateName(e.Namespace); err != nil {
		return fail(err)
	}
	if err := api.ValidateKey(e.Key); err != nil {
		return fail(err)
	}
	if _, ok := v.Namespace(e.Namespace); !ok {
		return fail(apiErr(api.CodeNamespaceNotFound, "namespace %q not found", e.Namespace))
	}
	if err := d.s.importNamespaceAllowed(d.c, e.Namespace); err != nil {
		return fail(err)
	}
	op, err := d.s.validatedPut(v, e.Namespace, e.Key, e.Schema, e.Value)
	if err != nil {
		return fail(err)
	}
	return &fsm.ImportOp{Index: index, StagedEntry: store.StagedEntry{
		Namespace: op.Namespace, Key: op.Key, Schema: op.Schema, SchemaVersion: op.SchemaVersion,
		SchemaRevision: op.SchemaRevision, Value: op.Value,
	}}, nil
}

// marshalLine encodes v as one NDJSON line.
func marshalLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
