package index

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
)

// Kind is the JSON type of a scalar, in the order encoded values sort.
type Kind byte

// Kinds. Their values are the type tags of the encoding: never change them.
const (
	KindNull   Kind = 0x01
	KindFalse  Kind = 0x02
	KindTrue   Kind = 0x03
	KindNumber Kind = 0x04
	KindString Kind = 0x05
)

// Scalar is a JSON scalar value.
type Scalar struct {
	Kind Kind
	Num  float64 // KindNumber
	Str  string  // KindString
}

// String returns the scalar as JSON.
func (s Scalar) String() string {
	switch s.Kind {
	case KindNull:
		return "null"
	case KindFalse:
		return "false"
	case KindTrue:
		return "true"
	case KindNumber:
		return strconv.FormatFloat(s.Num, 'g', -1, 64)
	default:
		b, _ := json.Marshal(s.Str)
		return string(b)
	}
}

// Compare orders two scalars as their encodings do.
func Compare(a, b Scalar) int {
	return bytes.Compare(EncodeScalar(a), EncodeScalar(b))
}

// EncodeScalar returns the order-preserving, prefix-free encoding of s.
func EncodeScalar(s Scalar) []byte {
	return AppendScalar(nil, s)
}

// AppendScalar appends the encoding of s to b.
func AppendScalar(b []byte, s Scalar) []byte {
	b = append(b, byte(s.Kind))
	switch s.Kind {
	case KindNumber:
		f := s.Num
		if f == 0 {
			f = 0 // -0 sorts and matches as 0
		}
		u := math.Float64bits(f)
		if u&(1<<63) != 0 {
			u = ^u
		} else {
			u |= 1 << 63
		}
		b = binary.BigEndian.AppendUint64(b, u)
	case KindString:
		for i := 0; i < len(s.Str); i++ {
			c := s.Str[i]
			b = append(b, c)
			if c == 0 {
				b = append(b, 0xFF)
			}
		}
		b = append(b, 0x00, 0x01)
	}
	return b
}

// EncodedLen returns the length of the encoded scalar at the start of b, or
// -1 if b does not start with one.
func EncodedLen(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	switch Kind(b[0]) {
	case KindNull, KindFalse, KindTrue:
		return 1
	case KindNumber:
		if len(b) < 9 {
			return -1
		}
		return 9
	case KindString:
		for i := 1; i+1 < len(b); i++ {
			if b[i] == 0 {
				switch b[i+1] {
				case 0x01:
					return i + 2
				case 0xFF:
					i++
				default:
					return -1
				}
			}
		}
	}
	return -1
}

// PrefixEnd returns the smallest byte string greater than every string
// that starts with p (nil: no such bound, p is all 0xFF).
func PrefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
