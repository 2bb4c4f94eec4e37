package fsm

import (
	"slices"
	"strconv"

	"github.com/schemakv/schemakv/internal/jsonutil"
)

// decodeTxn decodes the body of a Txn command. Every node decodes every
// write, so the body Encode writes — known fields, each at most once,
// strings without escapes — is read without encoding/json, whose
// decoder validated the body and scanned the value twice; any other body
// (older or hand-made logs included) goes through mustDecode.
// FuzzDecodeTxn checks that the two agree.
func decodeTxn(rev uint64, body []byte) Txn {
	if c, ok := decodeTxnFast(body); ok {
		return c
	}
	var c Txn
	mustDecode(rev, body, &c)
	return c
}

// fieldSet records the fields of an object seen so far, one bit each.
type fieldSet uint

// first reports whether the field with bit is seen for the first time: a
// repeated field is left to encoding/json (which keeps the last).
func (f *fieldSet) first(bit fieldSet) bool {
	if *f&bit != 0 {
		return false
	}
	*f |= bit
	return true
}

// decodeTxnFast reads body as encoding/json would; ok is false for a body it
// leaves to encoding/json.
func decodeTxnFast(body []byte) (Txn, bool) {
	var c Txn
	var seen fieldSet
	ok := jsonutil.Members(body, 0, func(key string, v []byte) bool {
		var ok bool
		switch key {
		case "principal":
			c.Principal, ok = jsonutil.PlainString(v)
			return ok && seen.first(1)
		case "reason":
			c.Reason, ok = jsonutil.PlainString(v)
			return ok && seen.first(2)
		case "time":
			c.Time, ok = parseInt(v)
			return ok && seen.first(4)
		case "ops":
			if !seen.first(8) {
				return false
			}
			if string(v) == "null" {
				return true
			}
			c.Ops = []Op{}
			return jsonutil.Elements(v, 1, func(v []byte) bool {
				op, ok := decodeOpFast(v, 2)
				c.Ops = append(c.Ops, op)
				return ok
			})
		}
		return false
	})
	return c, ok
}

// decodeOpFast reads one op of a Txn at the given depth of the body.
func decodeOpFast(b []byte, depth int) (Op, bool) {
	var o Op
	var seen fieldSet
	ok := jsonutil.Members(b, depth, func(key string, v []byte) bool {
		var ok bool
		switch key {
		case "op":
			o.Op, ok = jsonutil.PlainString(v)
			return ok && seen.first(1)
		case "namespace":
			o.Namespace, ok = jsonutil.PlainString(v)
			return ok && seen.first(2)
		case "key":
			o.Key, ok = jsonutil.PlainString(v)
			return ok && seen.first(4)
		case "schema":
			o.Schema, ok = jsonutil.PlainString(v)
			return ok && seen.first(8)
		case "schema_version":
			var n int64
			n, ok = parseInt(v)
			o.SchemaVersion = int(n)
			return ok && int64(o.SchemaVersion) == n && seen.first(16)
		case "schema_revision":
			o.SchemaRevision, ok = parseUint(v)
			return ok && seen.first(32)
		case "value":
			o.Value = slices.Clone(v) // not the log's buffer: the store keeps it
			return seen.first(64)
		case "revision":
			if string(v) == "null" {
				return seen.first(128)
			}
			var n uint64
			n, ok = parseUint(v)
			o.Revision = &n
			return ok && seen.first(128)
		case "rollback_of":
			o.RollbackOf, ok = parseUint(v)
			return ok && seen.first(256)
		}
		return false
	})
	return o, ok
}

// parseInt and parseUint read a JSON number that encoding/json decodes into
// an int64 or uint64: an integer literal in range.
func parseInt(v []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil && isIntLiteral(v)
}

func parseUint(v []byte) (uint64, bool) {
	n, err := strconv.ParseUint(string(v), 10, 64)
	return n, err == nil && isIntLiteral(v)
}

// isIntLiteral refuses what strconv accepts and JSON does not: a leading
// "+" or zero.
func isIntLiteral(v []byte) bool {
	d := v
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	return len(d) > 0 && d[0] != '+' && (d[0] != '0' || len(d) == 1)
}
