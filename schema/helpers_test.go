package schema

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/schemakv/schemakv/api"
)

// testNamespace is the namespace of every schema the tests compile.
const testNamespace = "ns"

// mapSource is a Source over "namespace/name@version" keys that counts its
// calls.
type mapSource struct {
	mu    sync.Mutex
	texts map[string]string
	calls map[string]int
}

func newSource(texts map[string]string) *mapSource {
	return &mapSource{texts: texts, calls: map[string]int{}}
}

func (m *mapSource) SchemaText(namespace, name string, version int) ([]byte, bool) {
	k := fmt.Sprintf("%s/%s@%d", namespace, name, version)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[k]++
	s, ok := m.texts[k]
	return []byte(s), ok
}

func (m *mapSource) callsOf(k string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[k]
}

// mustCompile compiles text as ns/svc@1.
func mustCompile(t testing.TB, text string, src Source) *Schema {
	t.Helper()
	s, err := NewCache(DefaultConfig()).Compile(testNamespace, "svc", 1, []byte(text), src)
	if err != nil {
		t.Fatalf("Compile(%s) = %v, want nil", text, err)
	}
	return s
}

// pointers lists the pointers of errs, for messages.
func pointers(errs []api.FieldError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %q %q %q", e.Pointer, e.Keyword, e.Message)
	}
	return b.String()
}

// mustValidate validates value and returns its errors.
func mustValidate(t testing.TB, s *Schema, value string) []api.FieldError {
	t.Helper()
	errs, total, err := s.Validate([]byte(value))
	if err != nil {
		t.Fatalf("Validate(%s) error = %v, want nil", value, err)
	}
	if total != len(errs) {
		t.Fatalf("Validate(%s) total = %d, want %d (no cap in this test)", value, total, len(errs))
	}
	return errs
}
