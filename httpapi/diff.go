package httpapi

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/schemakv/schemakv/api"
)

// diffJSON returns an RFC 6902 patch that turns a into b. Objects are
// compared member by member; arrays and scalars that differ are replaced
// whole. A nil side (a deleted key) is an absent document.
func diffJSON(a, b json.RawMessage) ([]api.PatchOp, error) {
	ops := []api.PatchOp{}
	switch {
	case a == nil && b == nil:
		return ops, nil
	case a == nil:
		return append(ops, api.PatchOp{Op: "add", Path: "", Value: b}), nil
	case b == nil:
		return append(ops, api.PatchOp{Op: "remove", Path: ""}), nil
	}
	var av, bv any
	if err := decodeNumber(a, &av); err != nil {
		return nil, err
	}
	if err := decodeNumber(b, &bv); err != nil {
		return nil, err
	}
	return diffValue("", av, bv, ops)
}

func diffValue(path string, a, b any, ops []api.PatchOp) ([]api.PatchOp, error) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := path + "/" + escapePointer(k)
			av, inA := am[k]
			bv, inB := bm[k]
			var err error
			switch {
			case !inB:
				ops = append(ops, api.PatchOp{Op: "remove", Path: p})
			case !inA:
				raw, err := marshalValue(bv)
				if err != nil {
					return nil, err
				}
				ops = append(ops, api.PatchOp{Op: "add", Path: p, Value: raw})
			default:
				if ops, err = diffValue(p, av, bv, ops); err != nil {
					return nil, err
				}
			}
		}
		return ops, nil
	}
	ra, err := marshalValue(a)
	if err != nil {
		return nil, err
	}
	rb, err := marshalValue(b)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(ra, rb) {
		ops = append(ops, api.PatchOp{Op: "replace", Path: path, Value: rb})
	}
	return ops, nil
}

// marshalValue encodes a decoded value without HTML escaping, so a patch
// carries "<", ">" and "&" as the stored values do.
func marshalValue(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func decodeNumber(b []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
