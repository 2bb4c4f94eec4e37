// Package jsontest helps test the hand-written JSON encoders (jsonutil's
// Append functions) against encoding/json.
package jsontest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Tricky is a string that exercises every escaping rule: quotes and
// backslashes, control characters, HTML characters (kept as they are),
// U+2028/U+2029, multi-byte UTF-8 and invalid UTF-8.
const Tricky = "a\"b\\c\x00\x1f\b\f\n\r\t<&>\u2028\u2029é😀\xff\xc3"

// Value is the compact JSON value Fill puts in json.RawMessage fields.
const Value = `{"s":"<a&b> \u00e9 ` + "\u2028é" + `","n":[1,-2.5e10,true,null],"o":{}}`

// Marshal encodes v as an encoding/json Encoder with SetEscapeHTML(false)
// does, without the trailing newline.
func Marshal(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Fill sets every field of the struct ptr points to, embedded structs and
// the elements of slices of structs included, to a non-zero value: Tricky
// for strings, Value for json.RawMessage. A field of a kind it does not know
// fails the test, so a new field cannot slip past an encoder's test.
func Fill(t testing.TB, ptr any) {
	t.Helper()
	fill(t, reflect.ValueOf(ptr).Elem(), "")
}

var (
	rawType  = reflect.TypeFor[json.RawMessage]()
	timeType = reflect.TypeFor[time.Time]()
)

func fill(t testing.TB, v reflect.Value, path string) {
	t.Helper()
	switch {
	case v.Type() == rawType:
		v.SetBytes([]byte(Value))
		return
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Unix(1_700_000_000, 123_456_789).UTC()))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(Tricky)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(-12345)
	case reflect.Uint64:
		v.SetUint(1<<63 + 7)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), path)
		}
	default:
		t.Fatalf("jsontest.Fill: field %s of kind %s", path, v.Kind())
	}
}
