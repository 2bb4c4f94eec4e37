package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

const (
	// refScheme is the URL scheme every registered schema is compiled under:
	// schemakv://<namespace>/<name>@<version>.
	refScheme = "schemakv"
	// draft2020 is the only "$schema" accepted (with or without a trailing
	// '#').
	draft2020 = "https://json-schema.org/draft/2020-12/schema"
)

// metaSchema is the library's built-in draft 2020-12 meta-schema (formats
// asserted, so "pattern" must compile as a Go regexp). Compile resolves the
// draft URL to the built-in copy without calling any loader; denyLoader makes
// sure of it.
var metaSchema = func() *jsonschema.Schema {
	s, err := newCompiler(denyLoader).Compile(draft2020)
	if err != nil {
		panic(fmt.Sprintf("schema: built-in draft 2020-12 meta-schema: %v", err))
	}
	return s
}()

func denyLoader(u string) (io.ReadCloser, error) {
	return nil, newError(ErrRefNotAllowed, "", fmt.Sprintf("%q is not loaded: schemas are never read from the network or the file system", u))
}

// newCompiler returns a compiler for draft 2020-12 with formats asserted
// that loads every external URL through load (never the library's package
// level Loaders, which read file: URLs).
func newCompiler(load func(string) (io.ReadCloser, error)) *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	c.LoadURL = load
	return c
}

// schemaURL is the URL version of (namespace, name) is compiled at.
func schemaURL(namespace, name string, version int) string {
	return refScheme + "://" + namespace + "/" + name + "@" + strconv.Itoa(version)
}

// compile checks raw as version of (namespace, name) and compiles it,
// loading the versions it references from src.
func compile(namespace, name string, version int, raw []byte, src Source, maxErrors int) (s *Schema, err error) {
	if !validName(namespace) || !validName(name) || version < 1 {
		// The caller validates names before it gets here (api.ValidateName).
		return nil, fmt.Errorf("schema: cannot compile %q/%q@%d: namespace and name must be lowercase DNS labels and the version >= 1", namespace, name, version)
	}
	defer func() {
		// The library panics on a few inputs it expects the meta-schema to
		// have rejected (regexp.MustCompile); never let a user's schema take
		// the server down.
		if r := recover(); r != nil {
			s, err = nil, newError(ErrInvalidSchema, "", fmt.Sprint(r))
		}
	}()
	u := schemaURL(namespace, name, version)
	doc, err := prepare(u, namespace, raw, "")
	if err != nil {
		return nil, err
	}
	l := &loader{namespace: namespace, src: src}
	c := newCompiler(l.load)
	if err := c.AddResource(u, bytes.NewReader(doc)); err != nil {
		return nil, libraryError(namespace, err)
	}
	sch, err := c.Compile(u)
	if err != nil {
		if l.err != nil {
			return nil, l.err // ours, with a better message than the library's wrapping
		}
		return nil, libraryError(namespace, err)
	}
	if loop := findRefLoop(sch); loop != nil {
		return nil, newError(ErrInvalidSchema, "", describeLoop(namespace, loop))
	}
	return &Schema{sch: sch, maxErrors: maxErrors}, nil
}

// loader is the compiler's LoadURL for one compilation: it loads
// schemakv://<namespace>/<name>@<version> from the Source and refuses every
// other URL.
type loader struct {
	namespace string
	src       Source
	err       error // the first error returned to the library
}

func (l *loader) load(u string) (io.ReadCloser, error) {
	r, err := l.loadRef(u)
	if err != nil && l.err == nil {
		l.err = err
	}
	return r, err
}

func (l *loader) loadRef(u string) (io.ReadCloser, error) {
	name, version, why := parseRefURL(l.namespace, u)
	if why != "" {
		return nil, newError(ErrRefNotAllowed, "", fmt.Sprintf("%q: %s", u, why))
	}
	ref := name + "@" + strconv.Itoa(version)
	var raw []byte
	ok := false
	if l.src != nil {
		raw, ok = l.src.SchemaText(l.namespace, name, version)
	}
	if !ok {
		return nil, newError(ErrRefNotFound, "", fmt.Sprintf("%q is not registered in namespace %q", ref, l.namespace))
	}
	doc, err := prepare(u, l.namespace, raw, ref)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(doc)), nil
}

// prepare checks a schema text and returns it rewritten for compilation at
// docURL: root "$id" dropped, object schemas closed. where is "" for the
// schema being compiled and "name@version" for a referenced one, whose root
// is closed where it is used rather than here.
func prepare(docURL, namespace string, raw []byte, where string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, newError(ErrInvalidSchema, where, "not valid JSON: "+err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, newError(ErrInvalidSchema, where, "not valid JSON: data after the schema")
	}
	if m, ok := doc.(map[string]any); ok {
		if v, ok := m["$schema"]; ok && !isDraft2020(v) {
			return nil, newError(ErrWrongDraft, where, wrongDraft("", v))
		}
	}
	if err := metaSchema.Validate(doc); err != nil {
		return nil, newError(ErrInvalidSchema, where, describeMetaErrors(err))
	}

	base, err := url.Parse(docURL)
	if err != nil {
		return nil, fmt.Errorf("schema: bad document URL %q: %v", docURL, err)
	}
	err = walkSchemas(doc, "", func(m map[string]any, ptr string) error {
		if ptr != "" {
			if _, ok := m["$id"]; ok {
				return newError(ErrInvalidSchema, where, ptr+`/$id: "$id" is only allowed at the root; reference another schema of the namespace as "name@version"`)
			}
			if v, ok := m["$schema"]; ok && !isDraft2020(v) {
				return newError(ErrWrongDraft, where, wrongDraft(ptr, v))
			}
		}
		for _, kw := range [...]string{"$ref", "$dynamicRef"} {
			ref, ok := m[kw].(string)
			if !ok {
				continue
			}
			if why := checkRef(base, namespace, ref); why != "" {
				return newError(ErrRefNotAllowed, where, fmt.Sprintf("%s/%s: %q: %s", ptr, kw, ref, why))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m, ok := doc.(map[string]any); ok {
		delete(m, "$id")
	}
	closeSchema(doc, where == "")
	return json.Marshal(doc)
}

func isDraft2020(v any) bool {
	s, ok := v.(string)
	return ok && (s == draft2020 || s == draft2020+"#")
}

func wrongDraft(ptr string, v any) string {
	return fmt.Sprintf("%s/$schema is %s; only %q (draft 2020-12) is supported", ptr, jsonText(v), draft2020)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// refHelp is appended to every refused reference.
const refHelp = `only schemas registered in the same namespace can be referenced, as "name@version" or "name@version#/pointer"`

// checkRef returns why ref, found in the document at base, may not be
// followed, or "" if it may: a same-document reference or a version of a
// schema in namespace.
func checkRef(base *url.URL, namespace, ref string) string {
	r, err := url.Parse(ref)
	if err != nil {
		return "not a URI reference: " + err.Error()
	}
	abs := base.ResolveReference(r)
	abs.Fragment, abs.RawFragment = "", ""
	if abs.String() == base.String() {
		return "" // same document
	}
	_, _, why := parseRefURL(namespace, abs.String())
	return why
}

// parseRefURL extracts name and version from u, an absolute URL that must
// be schemakv://<namespace>/<name>@<version> with no fragment, or returns
// why not.
func parseRefURL(namespace, u string) (name string, version int, why string) {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "", 0, "not a URL: " + err.Error()
	case p.Scheme != refScheme:
		return "", 0, refHelp
	case p.Host != namespace:
		return "", 0, fmt.Sprintf("it names namespace %q; %s", p.Host, refHelp)
	case p.User != nil || p.Opaque != "" || p.RawQuery != "" || p.ForceQuery || p.Fragment != "":
		return "", 0, refHelp
	}
	name, v, hasVersion := strings.Cut(strings.TrimPrefix(p.Path, "/"), "@")
	if !strings.HasPrefix(p.Path, "/") || !validName(name) {
		return "", 0, refHelp
	}
	if !hasVersion {
		return "", 0, fmt.Sprintf("a reference must name a version, like %q; %s", name+"@1", refHelp)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || strconv.Itoa(n) != v {
		return "", 0, "the version must be a positive integer; " + refHelp
	}
	return name, n, ""
}

// validName reports whether s is a lowercase DNS label, the shape of
// namespace and schema names (api.ValidateName).
func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// maxMetaErrors is how many meta-schema failures a compile error message
// lists.
const maxMetaErrors = 5

// describeMetaErrors turns the meta-schema's verdict on a document into
// "pointer: message; ..." naming locations in the document.
func describeMetaErrors(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return strings.TrimPrefix(err.Error(), "jsonschema: ")
	}
	fes := leafErrors(ve)
	var b strings.Builder
	for i, fe := range fes {
		if i == maxMetaErrors {
			fmt.Fprintf(&b, "; and %d more", len(fes)-maxMetaErrors)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		ptr := fe.Pointer
		if ptr == "" {
			ptr = "(root)"
		}
		msg := fe.Message
		if strings.HasSuffix(fe.Keyword, "/format") && strings.HasSuffix(msg, "is not valid 'regex'") {
			msg += " (patterns use Go RE2 syntax: no lookaround or backreferences)"
		}
		b.WriteString(ptr + ": " + msg)
	}
	return b.String()
}

// libraryError maps an error of the library's AddResource or Compile,
// shortening the URLs of the namespace to "name@version".
func libraryError(namespace string, err error) error {
	var se *jsonschema.SchemaError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return newError(ErrInvalidSchema, "", describeMetaErrors(ve))
	}
	msg := strings.TrimPrefix(err.Error(), "jsonschema: ")
	msg = strings.ReplaceAll(msg, refScheme+"://"+namespace+"/", "")
	if strings.HasSuffix(msg, " not found") {
		// A $ref fragment that names nothing, such as "#/$defs/missing".
		return newError(ErrRefNotFound, "", "$ref target "+msg)
	}
	return newError(ErrInvalidSchema, "", msg)
}
