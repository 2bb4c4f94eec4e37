package schema

import "errors"

// Errors returned by this package. Callers match them with errors.Is; the
// text of a returned error adds the failing location and is meant for the
// user.
//
// ErrWrongDraft, ErrRefNotAllowed and ErrRefNotFound also match
// ErrInvalidSchema.
var (
	// ErrInvalidSchema: the text is not JSON, not a valid draft 2020-12
	// schema (it fails the meta-schema, a "pattern" is not Go RE2 syntax, an
	// embedded "$id" is used), or it does not compile (a $ref loop, a $ref to
	// a fragment that does not exist). HTTP 422.
	ErrInvalidSchema = errors.New("schema: invalid schema")
	// ErrWrongDraft: "$schema" names anything but
	// https://json-schema.org/draft/2020-12/schema. HTTP 422.
	ErrWrongDraft = errors.New("schema: unsupported draft")
	// ErrRefNotAllowed: a $ref that does not name a version of a schema in
	// the same namespace ("name@version"), such as file:, http: or another
	// namespace. HTTP 422.
	ErrRefNotAllowed = errors.New("schema: $ref not allowed")
	// ErrRefNotFound: a $ref names a version the Source does not have. HTTP
	// 422.
	ErrRefNotFound = errors.New("schema: $ref not found")
	// ErrTooLarge: the schema text is longer than Config.MaxSchemaBytes.
	// HTTP 413.
	ErrTooLarge = errors.New("schema: too large")
	// ErrNotFound: Cache.Get was asked for a version the Source does not
	// have. HTTP 404.
	ErrNotFound = errors.New("schema: not found")
	// ErrInvalidValue: Schema.Validate was given bytes that are not exactly
	// one JSON value. HTTP 400.
	ErrInvalidValue = errors.New("schema: invalid value")
)

// schemaError carries a user-facing message and the sentinels it matches.
type schemaError struct {
	msg   string
	kinds []error
}

func (e *schemaError) Error() string   { return e.msg }
func (e *schemaError) Unwrap() []error { return e.kinds }

// newError builds an error matching kind (and ErrInvalidSchema when kind is a
// kind of invalid schema) whose text is kind's text, then where (which
// document, "" for the one being compiled), then the message.
func newError(kind error, where, msg string) error {
	kinds := []error{kind}
	switch kind {
	case ErrWrongDraft, ErrRefNotAllowed, ErrRefNotFound:
		kinds = append(kinds, ErrInvalidSchema)
	}
	text := kind.Error()
	if where != "" {
		text += " (in $ref " + quoteName(where) + ")"
	}
	return &schemaError{msg: text + ": " + msg, kinds: kinds}
}

func quoteName(s string) string { return `"` + s + `"` }
