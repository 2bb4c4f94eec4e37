package schema

import (
	"errors"
	"sync"
	"testing"
)

func TestCache_GetCompilesOnceConcurrently(t *testing.T) {
	src := newSource(map[string]string{
		"ns/svc@1":     `{"type":"object","properties":{"a":{"$ref":"address@1"}}}`,
		"ns/address@1": `{"type":"object","properties":{"street":{"type":"string"}}}`,
	})
	c := NewCache(DefaultConfig())
	const n = 32
	got := make([]*Schema, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Get(testNamespace, "svc", 1, 7, src)
			if err != nil {
				t.Errorf("Get = %v, want nil", err)
			}
			got[i] = s
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] == nil || got[i] != got[0] {
			t.Fatalf("Get #%d returned %p, want %p (one shared compilation)", i, got[i], got[0])
		}
	}
	if n := src.callsOf("ns/svc@1"); n != 1 {
		t.Fatalf("svc@1 read %d times, want 1", n)
	}
	if n := src.callsOf("ns/address@1"); n != 1 {
		t.Fatalf("address@1 read %d times, want 1", n)
	}
	if errs := mustValidate(t, got[0], `{"a":{"street":"s","x":1}}`); len(errs) != 1 {
		t.Fatalf("got%s, want one error", pointers(errs))
	}
}

func TestCache_KeyIncludesRevision(t *testing.T) {
	src := newSource(map[string]string{"ns/svc@1": `{"type":"string"}`})
	c := NewCache(DefaultConfig())
	a, err := c.Get(testNamespace, "svc", 1, 10, src)
	if err != nil {
		t.Fatal(err)
	}
	// The namespace is deleted and re-created: version 1 is another text at
	// another revision.
	src.texts["ns/svc@1"] = `{"type":"integer"}`
	b, err := c.Get(testNamespace, "svc", 1, 20, src)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("got the same schema for revisions 10 and 20")
	}
	if errs := mustValidate(t, b, `1`); len(errs) != 0 {
		t.Fatalf("got%s, want the new text's verdict", pointers(errs))
	}
	if again, _ := c.Get(testNamespace, "svc", 1, 10, src); again != a {
		t.Fatalf("Get of revision 10 recompiled, want the cached schema")
	}
}

func TestCache_Forget(t *testing.T) {
	src := newSource(map[string]string{"ns/svc@1": `{}`, "keep/svc@1": `{}`})
	c := NewCache(DefaultConfig())
	for _, ns := range []string{"ns", "keep"} {
		if _, err := c.Get(ns, "svc", 1, 1, src); err != nil {
			t.Fatal(err)
		}
	}
	c.Forget("ns")
	for _, ns := range []string{"ns", "keep"} {
		if _, err := c.Get(ns, "svc", 1, 1, src); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.callsOf("ns/svc@1"); n != 2 {
		t.Fatalf("ns/svc@1 read %d times, want 2 (forgotten)", n)
	}
	if n := src.callsOf("keep/svc@1"); n != 1 {
		t.Fatalf("keep/svc@1 read %d times, want 1 (kept)", n)
	}
}

func TestCache_ErrorsNotCached(t *testing.T) {
	src := newSource(map[string]string{"ns/svc@1": `{"$ref":"address@1"}`})
	c := NewCache(DefaultConfig())
	if _, err := c.Get(testNamespace, "svc", 1, 1, src); !errors.Is(err, ErrRefNotFound) {
		t.Fatalf("got %v, want %v", err, ErrRefNotFound)
	}
	src.texts["ns/address@1"] = `{"type":"object"}`
	if _, err := c.Get(testNamespace, "svc", 1, 1, src); err != nil {
		t.Fatalf("got %v after the ref appeared, want nil", err)
	}
}

func TestCache_GetNotFound(t *testing.T) {
	c := NewCache(DefaultConfig())
	_, err := c.Get(testNamespace, "svc", 3, 1, newSource(nil))
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("got %v, want %v", err, ErrNotFound)
	}
	if want := `schema: not found: "svc@3" is not registered in namespace "ns"`; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	if _, err := c.Get(testNamespace, "svc", 3, 1, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("nil Source: got %v, want %v", err, ErrNotFound)
	}
}

// panicSource panics on its first call, like a buggy store.
type panicSource struct{ once sync.Once }

func (p *panicSource) SchemaText(string, string, int) ([]byte, bool) {
	first := false
	p.once.Do(func() { first = true })
	if first {
		panic("store bug")
	}
	return []byte(`{}`), true
}

func TestCache_SourcePanicDoesNotWedgeKey(t *testing.T) {
	c := NewCache(DefaultConfig())
	src := &panicSource{}
	func() {
		defer func() { recover() }()
		c.Get(testNamespace, "svc", 1, 1, src)
	}()
	if _, err := c.Get(testNamespace, "svc", 1, 1, src); err != nil {
		t.Fatalf("got %v after a panicking Get, want nil", err)
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{DefaultConfig(), true},
		{Config{}, true},
		{Config{MaxSchemaBytes: -1}, false},
		{Config{MaxErrors: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Fatalf("%+v.Validate() = %v, want ok=%v", tt.cfg, err, tt.ok)
		}
	}
	if got := (Config{}).withDefaults(); got != DefaultConfig() {
		t.Fatalf("zero Config with defaults = %+v, want %+v", got, DefaultConfig())
	}
	if got := DefaultConfig(); got.MaxSchemaBytes != 256<<10 || got.MaxErrors != 100 {
		t.Fatalf("DefaultConfig() = %+v, want 256 KiB and 100", got)
	}
}
