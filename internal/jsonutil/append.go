package jsonutil

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The Append functions write JSON by hand for the few records on the write
// path that embed a config value (a raft command, a history event, the
// answer to a put). encoding/json re-validates and compacts every
// json.RawMessage it encodes, a full scan of the value each time; these
// functions copy the value as it is, so the caller must know it is compact,
// valid JSON (the HTTP layer compacts and validates each value once, when it
// arrives). Their output is byte for byte what an encoding/json Encoder with
// SetEscapeHTML(false) writes, which the tests of each record check.

// AppendString appends s as a JSON string, escaped as encoding/json does
// without HTML escaping: `"` and `\`, control characters, U+2028 and U+2029
// are escaped, and each byte of invalid UTF-8 becomes \ufffd.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendTime appends t as encoding/json does (RFC 3339 with nanoseconds, in
// quotes). t's year must be in [0, 9999], which holds for every time made
// from Unix nanoseconds in an int64.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// AppendUint appends n as a JSON number.
func AppendUint(dst []byte, n uint64) []byte { return strconv.AppendUint(dst, n, 10) }

// AppendInt appends n as a JSON number.
func AppendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
