package schema

import (
	"fmt"
	"strconv"
	"sync"
)

// Source gives the raw registered text of a schema version in a namespace;
// the Cache uses it to read the version Get asks for and every version a
// $ref names. ok is false if the version does not exist.
//
// It must return the text as registered (Compile rewrites a private copy)
// and must not call back into the Cache.
type Source interface {
	SchemaText(namespace, name string, version int) (raw []byte, ok bool)
}

// Cache compiles schema versions and keeps the compiled form of each
// registered version it is asked for. Versions are immutable, so an entry
// never goes stale except when its namespace is deleted and re-created,
// which the revision in the key covers. It is safe for concurrent use.
//
// Entries stay until Forget drops their namespace; only versions that Get
// was asked for are kept.
type Cache struct {
	cfg Config

	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
}

type cacheKey struct {
	namespace, name string
	version         int
	rev             uint64
}

// cacheEntry is one compilation, in flight until done is closed.
type cacheEntry struct {
	done chan struct{}
	s    *Schema
	err  error
}

// NewCache returns an empty cache with the limits of cfg (zero or negative
// fields take their defaults).
func NewCache(cfg Config) *Cache {
	return &Cache{cfg: cfg.withDefaults(), entries: make(map[cacheKey]*cacheEntry)}
}

// Compile checks raw and compiles it as version version of schema name in
// namespace, loading the versions it references from src (which may be nil
// if there are none), and does not cache it: this is the check a new
// version passes before it is registered. A reference to name@version itself
// resolves to raw.
//
// raw longer than Config.MaxSchemaBytes is ErrTooLarge before it is parsed.
// Other failures wrap ErrInvalidSchema, ErrWrongDraft, ErrRefNotAllowed or
// ErrRefNotFound. namespace and name must be valid names (api.ValidateName)
// and version >= 1; otherwise the error matches no sentinel (a caller bug).
func (c *Cache) Compile(namespace, name string, version int, raw []byte, src Source) (*Schema, error) {
	if len(raw) > c.cfg.MaxSchemaBytes {
		return nil, newError(ErrTooLarge, "", fmt.Sprintf("%d bytes, at most %d", len(raw), c.cfg.MaxSchemaBytes))
	}
	return compile(namespace, name, version, raw, src, c.cfg.MaxErrors)
}

// Get returns the compiled form of a registered version, reading its text
// from src and compiling it on a miss. rev is the revision that created the
// version: the cache key is (namespace, name, version, rev), so a namespace
// deleted and re-created never sees a stale compiled schema.
//
// Concurrent Gets of one key compile it once. A failure is returned to the
// callers waiting for that compilation and not cached. A version src does
// not have is ErrNotFound. The size limit is not applied: the text was
// checked when it was registered.
func (c *Cache) Get(namespace, name string, version int, rev uint64, src Source) (*Schema, error) {
	k := cacheKey{namespace: namespace, name: name, version: version, rev: rev}
	c.mu.Lock()
	if e, ok := c.entries[k]; ok {
		c.mu.Unlock()
		<-e.done
		return e.s, e.err
	}
	e := &cacheEntry{done: make(chan struct{})}
	c.entries[k] = e
	c.mu.Unlock()

	defer func() {
		if e.err != nil {
			c.mu.Lock()
			if c.entries[k] == e {
				delete(c.entries, k)
			}
			c.mu.Unlock()
		}
		close(e.done)
	}()
	e.err = fmt.Errorf("%w: compilation of %s/%s@%d did not finish", ErrInvalidSchema, namespace, name, version) // replaced below unless src panics
	var raw []byte
	ok := false
	if src != nil {
		raw, ok = src.SchemaText(namespace, name, version)
	}
	if !ok {
		e.err = newError(ErrNotFound, "", fmt.Sprintf("%q is not registered in namespace %q", name+"@"+strconv.Itoa(version), namespace))
		return nil, e.err
	}
	e.s, e.err = compile(namespace, name, version, raw, src, c.cfg.MaxErrors)
	return e.s, e.err
}

// Forget drops every cached version of namespace. Call it when the namespace
// is deleted. A compilation in flight finishes for the callers waiting on it
// but is not kept.
func (c *Cache) Forget(namespace string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.namespace == namespace {
			delete(c.entries, k)
		}
	}
}
