package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/client"
	"github.com/schemakv/schemakv/gitops"
	"github.com/schemakv/schemakv/gitops/layout"
)

// maxUploadAttempts bounds the resumes of a broken upload.
const maxUploadAttempts = 5

func (a *app) newImportCmd() *cobra.Command {
	var mode, format string
	var dryRun, detach, packTar bool
	progress := "auto"
	cmd := &cobra.Command{
		Use:   "import FILE|DIR|-",
		Short: "Import many config entries as one background job",
		Long: `Upload config entries to a bulk import job and follow it to the end.

FILE holds NDJSON, one {"namespace","key","schema","value"} object per line,
or a JSON array of such objects, or is a tar of a GitOps layout (FILE.tar,
FILE.tar.gz or FILE.tgz: sent as it is; the server reads the layout). DIR is
either a GitOps layout (a directory with namespaces/, see "schemakv sync";
its config entries are imported, its namespaces and schema versions must
exist on the server already) or any directory, whose *.ndjson and *.jsonl
files are imported in path order as one NDJSON upload. A layout is checked
here and sent as NDJSON; with --tar it is packed as a tar on the fly
(namespaces/, hidden files skipped) and checked by the server instead, where
its schema files must match the registered versions. "-" reads standard
input.

--mode atomic (the default) makes every entry visible at one revision, or
none if any entry fails; --mode best-effort applies the valid entries and
reports the others. --dry-run only validates and reports. If the upload
breaks, the command resumes it from the offset the cluster acknowledged
(not for standard input, a JSON array or a tar.gz). It exits non-zero unless
every entry succeeded.`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, _ *client.Client, cmd *cobra.Command, args []string) error {
			if mode != api.ImportAtomic && mode != api.ImportBestEffort {
				return usagef("--mode must be atomic or best-effort")
			}
			src, err := openImportSource(args[0], a.stdin, packTar)
			if err != nil {
				return err
			}
			if format == "" {
				format = src.format
			}
			if format == api.ImportTarGzip {
				src.resumable = false // offsets of a gzip stream cannot be resumed
			}
			c, err := a.uploadClient()
			if err != nil {
				return err
			}
			im := c.Imports()
			job, err := im.Create(ctx, client.ImportOptions{Mode: mode, DryRun: dryRun, Reason: a.reason, Format: format, Size: src.size})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "import %s created\n", job.ID)
			show := progress == "always" || (progress == "auto" && isTerminal(a.stderr))
			id := job.ID
			if job, err = a.uploadImport(ctx, im, job, src, show); err != nil {
				// The upload cannot go on: end the job rather than leave it
				// holding a running slot until it expires.
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				if _, cerr := im.Cancel(cctx, id); cerr == nil {
					fmt.Fprintf(a.stderr, "import %s cancelled\n", id)
				}
				cancel()
				return err
			}
			if detach {
				return a.renderJob(job)
			}
			var bar *progressbar.ProgressBar
			if show {
				bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(a.stderr),
					progressbar.OptionSetDescription("finishing"), progressbar.OptionShowCount())
			}
			job, err = im.Wait(ctx, job.ID, 0, func(j *api.ImportJob) {
				if bar != nil {
					_ = bar.Set64(j.Applied + j.Failed)
				}
			})
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(a.stderr)
			}
			if err != nil {
				return err
			}
			if err := a.renderJob(job); err != nil {
				return err
			}
			if job.State != api.ImportSucceeded {
				return fmt.Errorf("import %s %s: %s", job.ID, job.State, job.Message)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&mode, "mode", api.ImportAtomic, "atomic or best-effort")
	f.BoolVar(&dryRun, "dry-run", false, "only validate and report")
	f.StringVar(&format, "format", "", "ndjson, json, tar or tar.gz (default: told from the file name, else the first byte)")
	f.BoolVar(&packTar, "tar", false, "pack a GitOps layout DIR as a tar on the fly; the server parses and checks it")
	f.BoolVar(&detach, "detach", false, "return once the upload is received; follow with 'schemakv import-status ID'")
	f.StringVar(&progress, "progress", "auto", "progress bars on standard error: auto (when a terminal), always or never")
	return cmd
}

func (a *app) newImportStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import-status [ID]",
		Short: "Show one import job, or list them",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.run(func(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				j, err := c.Imports().Get(ctx, args[0])
				if err != nil {
					return err
				}
				return a.renderJob(j)
			}
			l, err := c.Imports().List(ctx)
			if err != nil {
				return err
			}
			return a.render(l, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tMODE\tSTATE\tRECEIVED\tAPPLIED\tFAILED\tCREATED")
				for _, j := range l.Items {
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", j.ID, j.Mode, j.State, j.Received, j.Applied, j.Failed, j.CreatedAt.Format("2006-01-02T15:04:05Z"))
				}
			})
		}),
	}
}

func (a *app) renderJob(j *api.ImportJob) error {
	return a.render(j, func(w io.Writer) {
		fmt.Fprintf(w, "ID\t%s\nMODE\t%s (dry run: %v)\nSTATE\t%s\n", j.ID, j.Mode, j.DryRun, j.State)
		if j.Message != "" {
			fmt.Fprintf(w, "MESSAGE\t%s\n", j.Message)
		}
		fmt.Fprintf(w, "RECEIVED\t%d\nVALIDATED\t%d\nAPPLIED\t%d\nFAILED\t%d\n", j.Received, j.Validated, j.Applied, j.Failed)
		if j.PublishRevision != 0 {
			fmt.Fprintf(w, "REVISION\t%d\n", j.PublishRevision)
		}
		const show = 20
		for i, e := range j.Errors {
			if i == show {
				fmt.Fprintf(w, "...\t%d more failures (-o json lists up to the server's limit)\n", int64(len(j.Errors)-show)+j.ErrorsOmitted)
				break
			}
			where := ""
			if len(e.Details) > 0 {
				where = fmt.Sprintf(" at %q (%s)", e.Details[0].Pointer, e.Details[0].Keyword)
			}
			what := e.Namespace + "/" + e.Key
			if e.File != "" {
				file := e.File
				if e.Line > 0 {
					file = fmt.Sprintf("%s:%d", e.File, e.Line)
				}
				what = file
				if e.Key != "" {
					what = fmt.Sprintf("%s/%s (%s)", e.Namespace, e.Key, file)
				}
			}
			fmt.Fprintf(w, "ERROR\tentry %d %s: %s: %s%s\n", e.Index, what, e.Code, e.Message, where)
		}
		if len(j.Errors) <= show && j.ErrorsOmitted > 0 {
			fmt.Fprintf(w, "...\t%d more failures not listed\n", j.ErrorsOmitted)
		}
	})
}

// uploadImport sends the source to the job, resuming from the acknowledged
// offset when the connection breaks.
func (a *app) uploadImport(ctx context.Context, im *client.Imports, job *api.ImportJob, src *importSource, show bool) (*api.ImportJob, error) {
	var offset int64
	for attempt := 1; ; attempt++ {
		r, err := src.open(offset)
		if err != nil {
			return nil, err
		}
		var body io.Reader = r
		if show {
			bar := progressbar.NewOptions64(src.size, progressbar.OptionSetWriter(a.stderr),
				progressbar.OptionSetDescription("uploading"), progressbar.OptionShowBytes(true))
			_ = bar.Set64(offset)
			pr := progressbar.NewReader(r, bar)
			body = &pr
		}
		j, err := im.Upload(ctx, job.ID, offset, body, true)
		_ = r.Close()
		if show {
			fmt.Fprintln(a.stderr)
		}
		if err == nil {
			return j, nil
		}
		var apiErr *api.Error
		if errors.As(err, &apiErr) || ctx.Err() != nil || !src.resumable || attempt == maxUploadAttempts {
			return nil, err
		}
		cur, gerr := im.Get(ctx, job.ID)
		if gerr != nil {
			return nil, fmt.Errorf("upload broke (%v), and the job cannot be read: %w", err, gerr)
		}
		offset = cur.Offset
		fmt.Fprintf(a.stderr, "upload broke (%v); resuming at byte %d\n", err, offset)
	}
}

// importSource is what an import reads: it can be reopened at an offset.
type importSource struct {
	size      int64 // -1 when unknown
	resumable bool
	format    string // the upload format, when the source says it
	open      func(offset int64) (io.ReadCloser, error)
}

func openImportSource(arg string, stdin io.Reader, packTar bool) (*importSource, error) {
	if packTar {
		if fi, err := os.Stat(filepath.Join(arg, gitops.NamespacesDir)); err != nil || !fi.IsDir() {
			return nil, usagef("--tar packs a GitOps layout directory (one with %s/); %s is not one", gitops.NamespacesDir, arg)
		}
		return tarSource(arg), nil
	}
	if arg == "-" {
		used := false
		return &importSource{size: -1, open: func(int64) (io.ReadCloser, error) {
			if used {
				return nil, errors.New("standard input cannot be read twice")
			}
			used = true
			return io.NopCloser(stdin), nil
		}}, nil
	}
	st, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Join(arg, gitops.NamespacesDir)); err == nil && st.IsDir() && fi.IsDir() {
		return gitopsSource(arg)
	}
	var files []string
	if st.IsDir() {
		err := filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".ndjson") || strings.HasSuffix(p, ".jsonl")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s holds no *.ndjson or *.jsonl files", arg)
		}
		sort.Strings(files)
	} else {
		files = []string{arg}
	}
	var size int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		size += fi.Size() + 1 // each file ends with a newline in the stream
	}
	if len(files) == 1 && !st.IsDir() {
		size--
	}
	single := len(files) == 1 && !st.IsDir()
	format := ""
	switch {
	case !single:
	case strings.HasSuffix(arg, ".tar"):
		format = api.ImportTar
	case strings.HasSuffix(arg, ".tar.gz"), strings.HasSuffix(arg, ".tgz"):
		format = api.ImportTarGzip
	}
	return &importSource{size: size, resumable: true, format: format, open: func(offset int64) (io.ReadCloser, error) {
		var readers []io.Reader
		var closers []io.Closer
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				for _, c := range closers {
					_ = c.Close()
				}
				return nil, err
			}
			readers = append(readers, fh)
			if !single {
				readers = append(readers, strings.NewReader("\n"))
			}
			closers = append(closers, fh)
		}
		r := io.MultiReader(readers...)
		if _, err := io.CopyN(io.Discard, r, offset); err != nil {
			return nil, fmt.Errorf("resume at byte %d: %w", offset, err)
		}
		return readCloser{r, closers}, nil
	}}, nil
}

// gitopsSource reads the config entries of a GitOps directory layout (see
// package gitops) as NDJSON, in namespace and key order. The layout is
// checked as "schemakv sync plan" checks it; a directory with problems is
// not imported. Namespaces and schema versions are not created: the import
// carries config entries only.
func gitopsSource(dir string) (*importSource, error) {
	d, err := gitops.Load(dir, nil)
	if err != nil {
		return nil, fmt.Errorf("%s is a GitOps layout with problems (no entry was imported):\n%w", dir, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	nss := make([]string, 0, len(d.Namespaces))
	for ns := range d.Namespaces {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		spec := d.Namespaces[ns]
		keys := make([]string, 0, len(spec.Configs))
		for k := range spec.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c := spec.Configs[k]
			if err := enc.Encode(api.ImportEntry{Namespace: ns, Key: k, Schema: c.SchemaRef(), Value: c.Value}); err != nil {
				return nil, fmt.Errorf("%s: encode %s/%s: %w", dir, ns, k, err)
			}
		}
	}
	data := buf.Bytes()
	return &importSource{size: int64(len(data)), resumable: true, open: func(offset int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data[offset:])), nil
	}}, nil
}

// tarSource packs the layout below dir as a tar stream, made again for
// every attempt. The stream is the same each time (files in path order,
// headers without times or owners), so a resume skips the acknowledged bytes
// of a fresh one; the directory must not change during the upload.
func tarSource(dir string) *importSource {
	return &importSource{size: -1, resumable: true, format: api.ImportTar, open: func(offset int64) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { _ = pw.CloseWithError(writeLayoutTar(pw, dir)) }()
		if _, err := io.CopyN(io.Discard, pr, offset); err != nil {
			_ = pr.Close()
			return nil, fmt.Errorf("resume at byte %d: %w", offset, err)
		}
		return pr, nil
	}}
}

// writeLayoutTar writes the regular files below dir/namespaces/ as a tar
// whose root is dir, skipping what the layout skips (as gitops.Load does). A file
// that is a symbolic link is packed as the file it points to (Load reads
// it so too).
func writeLayoutTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	root := filepath.Join(dir, gitops.NamespacesDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		// Skip what the layout skips (hidden names, except a key's
		// segment below configs/); a path the layout refuses is packed,
		// so the server reports it.
		if where, problem := layout.Classify(filepath.ToSlash(rel), d.IsDir()); problem == nil && where.Kind == layout.KindSkip {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is neither a regular file nor a directory", p)
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: filepath.ToSlash(rel), Size: fi.Size(), Mode: 0o644, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar %s: %w", p, err)
		}
		fh, err := os.Open(p)
		if err != nil {
			return err
		}
		defer fh.Close()
		if _, err := io.Copy(tw, fh); err != nil {
			return fmt.Errorf("tar %s (did it change while it was packed?): %w", p, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

type readCloser struct {
	io.Reader
	closers []io.Closer
}

func (r readCloser) Close() error {
	for _, c := range r.closers {
		_ = c.Close()
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// uploadClient is the client of the global flags without a request
// timeout: an upload lasts as long as it needs.
func (a *app) uploadClient() (*client.Client, error) {
	cfg := client.DefaultConfig()
	flags := a.root.PersistentFlags()
	if flags.Changed("addr") {
		cfg.Address = a.addr
	}
	if flags.Changed("token") {
		cfg.Token = a.token
	}
	if flags.Changed("principal") {
		cfg.Principal = a.principal
	}
	cfg.Timeout = -1
	c, err := client.New(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}
