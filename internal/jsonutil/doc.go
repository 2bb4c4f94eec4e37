// Package jsonutil checks and compacts JSON request bodies without decoding
// them, for the HTTP layer: Check bounds nesting before anything builds a
// value (encoding/json recurses once per level), Compact strips whitespace
// before a value is stored.
//
// The functions are pure and safe for concurrent use.
package jsonutil
