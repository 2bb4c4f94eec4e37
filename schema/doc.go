// Package schema compiles the JSON Schema (draft 2020-12) documents users
// register, closes their object schemas, caches the compiled form per
// immutable version and validates JSON values against it, reporting every
// failing location.
//
// # Identity and references
//
// Version v of schema name in namespace ns is compiled at the URL
//
//	schemakv://<ns>/<name>@<v>
//
// Namespace and schema names are lowercase DNS labels, so they are valid URL
// hosts and path segments and survive the library's URL resolution
// unchanged. A schema refers to another version of the same namespace with a
// relative reference, "address@2" or "address@2#/$defs/street", which
// resolves against its own URL to schemakv://<ns>/address@2. Same-document
// references ("#/$defs/x", "#anchor", "") work as usual. Every other
// reference — another namespace, a name without "@version", any other scheme
// such as file: or https: — is refused with ErrRefNotAllowed before anything
// is loaded, and a named version the Source does not have is ErrRefNotFound.
// The compiler's loader is replaced, so no schema ever causes a read from the
// network or the file system; the draft 2020-12 meta-schema is the copy built
// into the library.
//
// A root "$id" is dropped (the server assigns identity; a pasted "$id" must
// not move relative references out of the namespace). "$id" below the root
// (embedded resources) is refused, because it would let a document shadow a
// registered schema's URL. References may chain and form cycles: each
// compilation loads a version at most once, and a cycle that never reaches a
// value (a $ref loop) is a compile error, not a hang.
//
// # Closed by default
//
// Before compilation every document, and every document it references, is
// rewritten so that unknown object properties fail. The rewrite works on the
// idea of an entry point: a schema where an instance location enters
// validation — the root, each properties/* and patternProperties/* value,
// items, prefixItems/*, and schema-valued additionalProperties,
// unevaluatedProperties and unevaluatedItems. An entry point is closed when
// it is an object schema (its "type" is or includes "object", or it has
// "properties" or "patternProperties") or when it composes other schemas
// ("$ref", "$dynamicRef", "allOf", "anyOf", "oneOf", "dependentSchemas",
// "dependencies", "if", "then", "else"), and it sets neither
// "additionalProperties" nor "unevaluatedProperties":
//
//   - with a composition keyword it gets "unevaluatedProperties": false, so
//     the properties declared by every applicable branch and $ref target
//     count as known;
//   - otherwise it gets "additionalProperties": false.
//
// Schemas applied in place to the same instance — allOf/anyOf/oneOf branches,
// then/else, dependentSchemas values, and the targets of $ref ($defs entries
// and the roots of referenced documents) — are not closed themselves, only
// the entry points below them are. Closing a branch with
// additionalProperties:false would make it reject its siblings' properties
// and break composition; closing at the entry point that uses it gives the
// same protection without that. (This is why $defs entries and referenced
// documents are closed where they are used rather than where they are
// defined.) Nothing is injected inside "not", "if", "contains",
// "propertyNames" or "contentSchema": closing there would change which
// values match a condition or a negation.
//
// "additionalProperties": true (or "unevaluatedProperties": true) is the
// opt-out. A consequence to know: an object property re-declared inside a
// branch, such as allOf: [{"properties": {"tls": {"type": "object",
// "required": ["cert"]}}}], is an entry point and is closed, so it accepts
// only the properties it lists; add "additionalProperties": true there when
// the branch only adds constraints.
//
// # Errors
//
// Compile errors wrap one of the sentinels below; ErrWrongDraft,
// ErrRefNotAllowed and ErrRefNotFound also match ErrInvalidSchema, so a
// caller that maps every schema defect to one status needs one errors.Is.
// Their messages are written for the user who registered the schema and name
// the failing location, for example
// "schema: invalid schema: /properties/port/minimum: expected number, but got string".
//
// Validation failures are not errors: Schema.Validate returns one
// api.FieldError per failing instance location and keyword, with RFC 6901
// pointers.
//
// # Concurrency
//
// A Cache is safe for concurrent use. Each compilation uses its own
// jsonschema.Compiler (the library's compiler is not safe for concurrent use
// and keeps every resource it loads); concurrent Gets of one key compile it
// once and share the result. A compiled *Schema is immutable and its Validate
// is safe for concurrent use. Source implementations are called from the
// goroutine that calls Compile or Get and must be safe for concurrent use if
// those are called concurrently.
package schema
