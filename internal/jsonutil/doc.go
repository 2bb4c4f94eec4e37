// Package jsonutil checks, compacts, splits and writes JSON without
// encoding/json's reflection, for the write path: Check bounds nesting
// before anything builds a value (encoding/json recurses once per level),
// Compact strips whitespace before a value is stored, Members and Elements
// split an object or array into raw members for a hand-written decoder, and
// the Append functions write the records that embed an already-compact
// value (append.go).
//
// The checks are plain recursive-descent scanners that accept exactly what
// encoding/json accepts; encoding/json still words every error, so the
// messages callers see are its own. Fuzz targets hold each function equal
// to its encoding/json counterpart.
//
// The functions are pure and safe for concurrent use.
package jsonutil
