package httpapi

import (
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
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := DefaultImportLimits()
		lim.ChunkEntries = 3
		s := &Server{cfg: Config{Limits: DefaultLimits()}, importLimits: lim}
		d := &driver{s: s, job: &api.ImportJob{}}
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
		for _, c := range chunks {
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
		if err == nil && len(bytes.TrimSpace(data)) > 0 && index == 0 && data[0] != '[' && bytes.TrimSpace(data)[0] != '[' {
			t.Fatalf("accepted %q without entries", data)
		}
	})
}
