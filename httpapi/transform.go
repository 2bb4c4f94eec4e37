package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/schemakv/schemakv/api"
)

// MaxTransforms is the most transforms one migration declares.
const MaxTransforms = 100

// Migration transforms are a JSON Patch subset with migration semantics,
// over object members only (a pointer segment never indexes an array):
//
//   - move from→path: rename or move a field; nothing happens when from is
//     absent; an existing value at path is replaced.
//   - add path value: set a default; only when path is absent.
//   - remove path: drop a field; nothing happens when it is absent.
//
// The parent of path must be an object (a missing parent makes the entry
// fail with keyword "transform/<i>", so it stays on the old version).

// checkTransforms validates declared transforms.
func checkTransforms(ts []api.Transform) error {
	if len(ts) > MaxTransforms {
		return apiErr(api.CodeInvalidTransform, "%d transforms exceed %d", len(ts), MaxTransforms)
	}
	for i, t := range ts {
		if _, err := splitPointer(t.Path); err != nil || t.Path == "" {
			return apiErr(api.CodeInvalidTransform, "transforms[%d]: path must be a JSON pointer to a field such as /timeout_ms", i)
		}
		switch t.Op {
		case api.TransformMove:
			if _, err := splitPointer(t.From); err != nil || t.From == "" {
				return apiErr(api.CodeInvalidTransform, "transforms[%d]: move needs \"from\", a JSON pointer to a field", i)
			}
			if t.From == t.Path || strings.HasPrefix(t.Path, t.From+"/") {
				return apiErr(api.CodeInvalidTransform, "transforms[%d]: cannot move %s into itself", i, t.From)
			}
		case api.TransformAdd:
			if len(t.Value) == 0 || !json.Valid(t.Value) {
				return apiErr(api.CodeInvalidTransform, "transforms[%d]: add needs \"value\", a JSON value", i)
			}
		case api.TransformRemove:
		default:
			return apiErr(api.CodeInvalidTransform, "transforms[%d]: op must be move, add or remove, not %q", i, t.Op)
		}
	}
	return nil
}

func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("pointer %q does not start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// applyTransforms returns value with the transforms applied, or the
// failure of the first one that cannot apply.
func applyTransforms(value json.RawMessage, ts []api.Transform) (json.RawMessage, *api.FieldError) {
	if len(ts) == 0 {
		return value, nil
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &api.FieldError{Keyword: "transform", Message: "stored value is not JSON: " + err.Error()}
	}
	for i, t := range ts {
		kw := fmt.Sprintf("transform/%d", i)
		path, _ := splitPointer(t.Path)
		switch t.Op {
		case api.TransformMove:
			from, _ := splitPointer(t.From)
			fp, ok := parentOf(doc, from)
			if !ok {
				continue
			}
			v, present := fp[from[len(from)-1]]
			if !present {
				continue
			}
			tp, ok := parentOf(doc, path)
			if !ok {
				return nil, &api.FieldError{Pointer: t.Path, Keyword: kw, Message: "move: the parent of the target is not an object"}
			}
			delete(fp, from[len(from)-1])
			tp[path[len(path)-1]] = v
		case api.TransformAdd:
			p, ok := parentOf(doc, path)
			if !ok {
				return nil, &api.FieldError{Pointer: t.Path, Keyword: kw, Message: "add: the parent is not an object"}
			}
			if _, present := p[path[len(path)-1]]; present {
				continue
			}
			d := json.NewDecoder(bytes.NewReader(t.Value))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				return nil, &api.FieldError{Pointer: t.Path, Keyword: kw, Message: "add: value is not JSON"}
			}
			p[path[len(path)-1]] = v
		case api.TransformRemove:
			if p, ok := parentOf(doc, path); ok {
				delete(p, path[len(path)-1])
			}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, &api.FieldError{Keyword: "transform", Message: err.Error()}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// parentOf returns the object holding the last segment of path.
func parentOf(doc any, path []string) (map[string]any, bool) {
	cur := doc
	for _, seg := range path[:len(path)-1] {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}
