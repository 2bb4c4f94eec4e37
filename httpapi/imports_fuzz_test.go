package httpapi

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"

	"github.com/schemakv/schemakv/api"
)

// FuzzImportDecode feeds arbitrary uploads to the import stream decoder: it
// must never panic, and what it accepts must be whole entries whose offsets
// rise and stay within the upload.
func FuzzImportDecode(f *testing.F) {
	f.Add([]byte(`{"namespace":"a","key":"k","schema":"s","value":1}` + "\n" + `{"x":1}`))
	f.Add([]byte(`[{"namespace":"a","key":"k","schema":"s","value":1}, {"y":[1,2]}]`))
	f.Add([]byte("  \n\n{}\n \n"))
	f.Add([]byte("\n\t [ {\"a\":1} ,{\"b\":2}]"))
	f.Add([]byte(`[1, oops]`))
	f.Add([]byte(`[] []`))
	// Tars of the GitOps layout: whole, cut in a file, and with members an
	// import refuses.
	whole := fuzzTar(f, false)
	f.Add(whole)
	f.Add(whole[:700])
	f.Add(fuzzTar(f, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := DefaultImportLimits()
		lim.ChunkEntries = 3
		s := &Server{cfg: Config{Limits: DefaultLimits()}, importLimits: lim}
		d := &driver{s: s, job: &api.ImportJob{}, final: true, schemas: noSchemas{}}
		out := make(chan rawChunk)
		var chunks []rawChunk
		done := make(chan struct{})
		go func() {
			defer close(done)
			for c := range out {
				chunks = append(chunks, c)
			}
		}()
		err := d.read(context.Background(), bytes.NewReader(data), 0, out)
		close(out)
		<-done
		var last int64
		index := int64(0)
		isTar := isTarHeader(data)
		for _, c := range chunks {
			if isTar {
				// A tar chunk ends at a header boundary, at most the
				// padding of its last member beyond the data.
				if c.end < last || c.end%tarBlock != 0 || c.end > int64(len(data))+tarBlock {
					t.Fatalf("tar chunk ends at %d after %d (upload %d bytes)", c.end, last, len(data))
				}
				last = c.end
				for _, e := range c.entries {
					if e.index != index || e.file == nil || (e.file.fail == nil) != (e.file.ns != "") {
						t.Fatalf("tar entry %d: index %d, file %+v", index, e.index, e.file)
					}
					// A config file's content lies whole before the end.
					if e.file.fail == nil && !bytes.Contains(data[:min(c.end, int64(len(data)))], e.data) {
						t.Fatalf("tar entry %d: content %q is not before offset %d", index, e.data, c.end)
					}
					index++
				}
				continue
			}
			if c.end < last || c.end > int64(len(data)) {
				t.Fatalf("chunk ends at %d after %d (upload %d bytes)", c.end, last, len(data))
			}
			last = c.end
			// The acknowledged offset is just after the chunk's last entry.
			if n := len(c.entries); n > 0 && !bytes.HasSuffix(bytes.TrimSpace(data[:c.end]), bytes.TrimSpace(c.entries[n-1].data)) {
				t.Fatalf("chunk ends at %d, not after its last entry %q: %q", c.end, c.entries[n-1].data, data[:c.end])
			}
			for _, e := range c.entries {
				if e.index != index || len(bytes.TrimSpace(e.data)) == 0 {
					t.Fatalf("entry %d: index %d, data %q", index, e.index, e.data)
				}
				index++
			}
		}
		if err == nil && !isTar && len(bytes.TrimSpace(data)) > 0 && index == 0 && data[0] != '[' && bytes.TrimSpace(data)[0] != '[' {
			t.Fatalf("accepted %q without entries", data)
		}
	})
}

// noSchemas is a server without registered schema versions.
type noSchemas struct{}

func (noSchemas) SchemaText(string, string, int) ([]byte, bool) { return nil, false }

// fuzzTar builds a small tar of the layout; refused adds members an import
// refuses (a link, a path out of the root, a misplaced file).
func fuzzTar(tb testing.TB, refused bool) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if h.Typeflag == 0 {
			h.Typeflag, h.Mode = tar.TypeReg, 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			tb.Fatal(err)
		}
	}
	add(&tar.Header{Name: "namespaces/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "namespaces/app/namespace.yaml"}, "description: app\n")
	add(&tar.Header{Name: "namespaces/app/schemas/s/v1.yaml"}, "type: object\n")
	add(&tar.Header{Name: "namespaces/app/configs/a.yaml"}, "schema: s@1\nvalue: {n: 1}\n")
	add(&tar.Header{Name: "./namespaces/app/configs/b/c.json"}, `{"schema": "s@1", "value": [1, 2]}`)
	add(&tar.Header{Name: "namespaces/app/configs/.git/x"}, "skipped")
	if refused {
		add(&tar.Header{Name: "namespaces/app/configs/l.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, "")
		add(&tar.Header{Name: "../../etc/x.yaml"}, "x")
		add(&tar.Header{Name: "namespaces/app/oops.txt"}, "x")
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
