package httpapi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/gitops/layout"
	"github.com/schemakv/schemakv/internal/jsonutil"
	"github.com/schemakv/schemakv/store"
)

// Tar uploads: a tar of the GitOps directory layout (package gitops), read
// as a stream with archive/tar. The archive's root is the layout's root, so
// config files are namespaces/<ns>/configs/<key>.yaml|.yml|.json (a leading
// "./" is ignored). Paths mean what they mean to gitops.Load: they are
// classified by layout.Classify and config files parsed by
// layout.ParseConfig, in the validation pool.
//
//   - Each config file is one entry of the job, fed to the same chunks,
//     validation and proposals as an NDJSON line; its failures carry the
//     file's path and line.
//   - namespace.yaml is not applied (imports load config entries only).
//     A schema version file is checked: a version the server does not have,
//     or has with other content, is a failed entry (so an atomic job
//     publishes nothing); a matching one is not an entry.
//   - Hidden names (".git/...") and anything outside namespaces/ are
//     skipped, as gitops.Load skips them; any other path the layout does not
//     allow is a failed entry naming it (once per directory).
//   - Entries other than regular files and directories (links, devices)
//     and paths that are absolute or contain ".." are failed entries. A
//     sparse file makes the whole upload a 400 (its holes are not read). A config file larger than the value limit + 64 KiB fails
//     without being read.
//
// Offsets: the acknowledged offset after an entry is the end of its file's
// data rounded up to the 512-byte block, where the next tar header starts;
// a PUT at that offset with the rest of the archive resumes exactly there
// (archive/tar reads an archive from any header). A key given twice within
// one request fails the second time, as in gitops.Load; across a resumed
// request it is not noticed. A gzip-compressed tar (tar.gz) reports the
// compressed bytes read as its offset and cannot resume: its decompressed
// size counts against the byte limit too.

// tarBlock is the tar block size: headers start at multiples of it.
const tarBlock = 512

// errCompressedResume answers a resume of a tar.gz upload.
const errCompressedResume = "import %s is a compressed (tar.gz) upload: offsets of a gzip stream cannot be resumed, so compressed uploads always restart from byte 0 in a new job (cancel this one); upload an uncompressed tar (format=tar) to resume"

// tarFile is an entry of a tar upload: a config file, or a file that failed
// on its own.
type tarFile struct {
	path    string // in the archive, cleaned
	ns, key string // of a config file
	// fail is set for a file that fails without being parsed.
	fail *api.ImportError
}

// isTarHeader reports whether b starts with a POSIX or GNU tar header.
func isTarHeader(b []byte) bool {
	return len(b) >= 263 && bytes.Equal(b[257:262], []byte("ustar"))
}

// countingReader counts the bytes read through it and keeps the first error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// tarName cleans an archive member's name: a leading "./" and a trailing
// "/" go. ok is false for an absolute name or one with a ".." element.
func tarName(name string) (string, bool) {
	if strings.HasPrefix(name, "/") {
		return name, false
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return name, false
		}
	}
	return path.Clean(name), true
}

// tarReader is the state of one tar upload request.
type tarReader struct {
	ch     *chunker
	offset int64           // where this request starts in the upload
	body   *countingReader // the request body
	plain  *countingReader // the decompressed stream of a tar.gz; nil for a tar
	// reported holds the directories whose problem was reported, so that
	// the files below them are not reported again.
	reported map[string]bool
	// keys maps ns/key to the file that gave it.
	keys map[string]string
	// sawLayout is set once a path below namespaces/ was seen; outside is
	// the first path that was not.
	sawLayout bool
	outside   string
}

// pos is the position in the tar stream (from the archive's start).
func (t *tarReader) pos() int64 {
	if t.plain != nil {
		return t.plain.n
	}
	return t.offset + t.body.n
}

// ack is the upload offset acknowledged after an entry that ends at tar
// position end.
func (t *tarReader) ack(end int64) int64 {
	if t.plain != nil {
		return t.body.n // compressed: progress only
	}
	return (end + tarBlock - 1) / tarBlock * tarBlock
}

// readTar reads a tar (or, gz, a tar.gz) that starts offset bytes into the
// upload.
func (ch *chunker) readTar(r io.Reader, offset int64, gz bool) error {
	t := &tarReader{ch: ch, offset: offset, body: &countingReader{r: r},
		reported: map[string]bool{}, keys: map[string]string{}}
	var src io.Reader = t.body
	if gz {
		if offset > 0 {
			return apiErr(api.CodeImportOffset, errCompressedResume, ch.d.job.ID)
		}
		zr, err := gzip.NewReader(t.body)
		if err == io.EOF {
			return nil // no data
		}
		if err != nil {
			return t.broken(err, "not a gzip stream")
		}
		t.plain = &countingReader{r: zr}
		src = t.plain
	}
	tr := tar.NewReader(src)
	lim := ch.d.s.importLimits
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			if err := ch.flush(); err != nil {
				return err
			}
			return t.checkLayoutSeen()
		}
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && hdr != nil) {
			return t.broken(err, "not a valid tar archive")
		}
		if hdr.Size > lim.MaxBytes || t.pos()+hdr.Size > lim.MaxBytes {
			return apiErr(api.CodeImportTooLarge, "import upload exceeds %d bytes (the tar's %s of %d bytes starts at byte %d)", lim.MaxBytes, hdr.Name, hdr.Size, t.pos())
		}
		if hdr.Typeflag == tar.TypeGNUSparse || isSparse(hdr) {
			// Its holes would be read as data to find its end: refuse
			// the archive rather than expand them.
			return t.broken(fmt.Errorf("%s is a sparse file; an import reads only regular files and directories", hdr.Name), "sparse member")
		}
		f, data, err := t.member(tr, hdr)
		if err != nil {
			return t.broken(err, "not a valid tar archive")
		}
		// Whatever was not read of the member's data is read now, so
		// that the position is the end of its data.
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return t.broken(err, "not a valid tar archive")
		}
		if f == nil {
			continue
		}
		if err := ch.addEntry(data, f, t.ack(t.pos())); err != nil {
			return err
		}
	}
}

// member looks at one archive member and returns the entry it makes (with
// a config file's content), or nil when it makes none.
func (t *tarReader) member(tr *tar.Reader, hdr *tar.Header) (*tarFile, []byte, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil, nil, nil // pax metadata for the archive (git archive writes one)
	}
	name, ok := tarName(hdr.Name)
	if !ok {
		return t.failed(hdr.Name, api.CodeInvalidImport, "the path is absolute or leaves the archive's root (..): refused"), nil, nil
	}
	if name == layout.NamespacesDir || strings.HasPrefix(name, layout.NamespacesDir+"/") {
		t.sawLayout = true
	} else if t.outside == "" && name != "." {
		t.outside = name
	}
	isDir := hdr.Typeflag == tar.TypeDir
	p, prob := layout.Classify(name, isDir)
	switch {
	case prob == nil && p.Kind == layout.KindSkip:
		return nil, nil, nil
	case hdr.Typeflag != tar.TypeReg && !isDir:
		return t.failed(name, api.CodeInvalidImport, "a %s: an import reads only regular files and directories", tarType(hdr.Typeflag)), nil, nil
	case prob != nil:
		if t.reported[prob.File] {
			return nil, nil, nil // its directory is reported already
		}
		t.reported[prob.File] = true
		return t.failed(prob.File, api.CodeInvalidImport, "%s", prob.Message), nil, nil
	}
	maxFile := t.ch.maxEntry
	switch p.Kind {
	case layout.KindSchema:
		if hdr.Size > maxFile {
			return t.failed(name, api.CodeSchemaTooLarge, "schema file of %d bytes exceeds %d bytes", hdr.Size, maxFile), nil, nil
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, err
		}
		return t.schemaFile(name, p, data), nil, nil
	case layout.KindConfig:
		fail := func(code, format string, args ...any) (*tarFile, []byte, error) {
			f := t.failed(name, code, format, args...)
			f.fail.Namespace, f.fail.Key = p.Namespace, p.Key
			return f, nil, nil
		}
		id := p.Namespace + "/" + p.Key
		if prev, dup := t.keys[id]; dup {
			return fail(api.CodeInvalidImport, "key %q is also %s", p.Key, prev)
		}
		t.keys[id] = name
		if hdr.Size > maxFile {
			return fail(api.CodeValueTooLarge, "config file of %d bytes exceeds the limit of %d bytes for one file (the value limit + 64 KiB)", hdr.Size, maxFile)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, err
		}
		return &tarFile{path: name, ns: p.Namespace, key: p.Key}, data, nil
	}
	return nil, nil, nil // a directory the layout allows, or namespace.yaml
}

// failed is an entry that fails on its own.
func (t *tarReader) failed(file, code, format string, args ...any) *tarFile {
	return &tarFile{path: file, fail: &api.ImportError{File: file, Code: code, Message: fmt.Sprintf(format, args...)}}
}

// schemaFile compares a schema version file with the registered version: a
// match makes no entry.
func (t *tarReader) schemaFile(name string, p layout.Path, data []byte) *tarFile {
	spec, ps := layout.ParseSchema(name, p.Namespace, p.Schema, p.Version, data)
	if ps != nil {
		e := t.failed(name, api.CodeInvalidImport, "%s", problemsMessage(ps))
		e.fail.Line = ps[0].Line
		return e
	}
	have, ok := t.ch.d.schemas.SchemaText(p.Namespace, p.Schema, p.Version)
	switch {
	case !ok:
		e := t.failed(name, api.CodeSchemaNotFound, "schema %s/%s@%d is not registered on the server: an import loads config entries only; register the layout's schema versions first (schemakv sync apply)", p.Namespace, p.Schema, p.Version)
		e.fail.Line = spec.Loc.Line
		return e
	case !layout.JSONEqual(spec.Doc, have):
		e := t.failed(name, api.CodeSchemaConflict, "differs from version %d of %s/%s on the server: versions are immutable, so the configs would be checked against another schema than the archive's", p.Version, p.Namespace, p.Schema)
		e.fail.Line = spec.Loc.Line
		return e
	}
	return nil
}

// checkLayoutSeen fails a whole archive that has nothing below namespaces/,
// which is most likely packed from the wrong directory.
func (t *tarReader) checkLayoutSeen() error {
	if t.sawLayout || t.offset > 0 || !t.ch.d.final || t.outside == "" {
		return nil
	}
	return apiErr(api.CodeInvalidImport, "the tar has no %s/ directory at its root (it holds %s): pack the layout's root, e.g. tar -C DIR -cf - %s", layout.NamespacesDir, t.outside, layout.NamespacesDir)
}

// broken turns an error of the archive's stream into the answer. Entries
// read whole before it are sent on first, so the acknowledged offset covers
// them. A request that is not the upload's last may end anywhere: its rest
// is resumed at the acknowledged offset.
func (t *tarReader) broken(err error, what string) error {
	if ferr := t.ch.flush(); ferr != nil {
		return ferr
	}
	if be := t.body.err; be != nil && !errors.Is(be, io.EOF) && !errors.Is(be, io.ErrUnexpectedEOF) {
		return fmt.Errorf("httpapi: read import upload at byte %d: %w", t.offset+t.body.n, be)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		if t.plain != nil {
			return apiErr(api.CodeInvalidImport, "the tar.gz ends early (at byte %d of the archive): truncated; compressed uploads cannot resume, upload it again in a new job", t.pos())
		}
		if !t.ch.d.final {
			return nil
		}
		return apiErr(api.CodeInvalidImport, "the tar ends inside a member (byte %d): the upload is truncated", t.pos())
	}
	return apiErr(api.CodeInvalidImport, "%s (at byte %d of the archive): %v", what, t.pos(), err)
}

// isSparse reports whether a regular file is stored sparse (PAX GNU.sparse
// records), which the import does not read.
func isSparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// tarType names a tar entry type.
func tarType(flag byte) string {
	switch flag {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "named pipe"
	}
	return fmt.Sprintf("tar entry of type %q", flag)
}

// problemsMessage joins the problems of one file: "msg (line N); ...".
func problemsMessage(ps layout.Problems) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Message
		if i > 0 && p.Line > 0 {
			parts[i] += fmt.Sprintf(" (line %d)", p.Line)
		}
	}
	return strings.Join(parts, "; ")
}

// fileEntry parses and validates a config file of a tar upload.
func (d *driver) fileEntry(v *store.View, re rawEntry) (*fsm.ImportOp, *api.ImportError) {
	f := re.file
	if f.fail != nil {
		e := *f.fail
		e.Index = re.index
		return nil, &e
	}
	spec, ps := layout.ParseConfig(f.path, f.ns, f.key, re.data)
	if ps != nil {
		ps.Sort()
		return nil, &api.ImportError{Index: re.index, Namespace: f.ns, Key: f.key, File: f.path, Line: ps[0].Line,
			Code: api.CodeInvalidImport, Message: problemsMessage(ps)}
	}
	e := &api.ImportEntry{Namespace: f.ns, Key: f.key, Schema: spec.SchemaRef(), Value: spec.Value}
	var op *fsm.ImportOp
	var ierr *api.ImportError
	// An NDJSON line holds the value one level down.
	if err := jsonutil.Check(spec.Value, d.s.cfg.Limits.MaxJSONDepth-1); err != nil {
		ierr = importError(re.index, e, err)
	} else {
		op, ierr = d.check(v, re.index, e)
	}
	if ierr != nil {
		ierr.File = f.path
		switch {
		case len(ierr.Details) > 0:
			ierr.Line = spec.ValueLine(ierr.Details[0].Pointer)
		case strings.HasPrefix(ierr.Code, "schema_") || ierr.Code == api.CodeInvalidSchemaRef:
			ierr.Line = spec.SchemaLine()
		case ierr.Code == api.CodeValueTooLarge || ierr.Code == api.CodeJSONTooDeep:
			ierr.Line = spec.ValueLine("")
		}
	}
	return op, ierr
}
