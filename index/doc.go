// Package index is the pure part of schemakv's secondary indexes: the
// JSON-path subset an index is declared on, the extraction of the scalar at
// a path from a config value, an order-preserving byte encoding of scalars,
// and the parser of where-clauses. It knows nothing of bbolt, raft or HTTP;
// the store keeps the index entries and runs the queries.
//
// # Paths
//
// A path is one or more field names separated by dots: "owner.team",
// "limits.max_rps", "feature_flags.enabled". A field name is 1 to 64
// characters from [A-Za-z0-9_-]; a path has at most MaxPathSegments names
// and MaxPathBytes bytes. There is no escaping: a field whose name contains
// a dot or another character outside that set cannot be indexed. There is
// no array support: every segment names an object member (a segment "0"
// names the member "0", never an array element), and an array on the way
// or at the end means "not indexed".
//
// # What is indexed
//
// Only scalars: a string, a number, true/false or null at the path. A value
// where the path is missing, runs through a non-object, or ends at an object
// or an array has no entry in the index: it matches no clause, not even
// "!=" (like SQL's NULL, absence is not a value; a JSON null is a value and
// can be matched with ==null).
//
// # Encoding
//
// EncodeScalar gives bytes that sort like the values: first by type (null <
// false < true < numbers < strings), then numbers numerically (IEEE-754
// float64 with the sign bit flipped, or every bit flipped for negatives; -0
// is 0) and strings bytewise (0x00 escaped as 0x00 0xFF, terminated by 0x00
// 0x01). No encoding is a prefix of another, so equality, ranges and
// "exists" are byte ranges over encoded values (Clause.Ranges).
//
// # Clauses
//
// ParseClause reads one where-parameter:
//
//	path==value   path!=value   path<value   path<=value   path>value   path>=value
//	path=in=(v1,v2,...)         exists(path)   path   (both mean: has a scalar at path)
//
// A value is a JSON literal (true, false, null, 42, -1.5e3, "quoted") or,
// when it is not valid JSON, a bare word taken as a string (owner.team==payments).
// Objects and arrays are refused. Ranges compare numbers with numbers and
// strings with strings only (x>5 never matches "7"); a range on true, false
// or null is refused. Several clauses combine with AND.
//
// Everything here is pure and safe for concurrent use.
package index
