package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/schemakv/schemakv/api"
)

// Compare is a best-effort structural diff between two schema documents,
// old and new, in plain words. It walks the root and, recursively,
// "properties", "items" and "additionalProperties" when it is a schema, and
// compares the common keywords: type, properties, required,
// additionalProperties (absent counts as closed: the server closes object
// schemas), enum, const and the numeric and length bounds. It does not
// follow $ref, nor look into allOf/anyOf/oneOf/if/then/else, so it can miss
// changes there: the check of the stored data against the new version is
// the authority, this report only explains it. Unparseable input gives no
// changes.
func Compare(old, new []byte) []api.CompatChange {
	var o, n any
	if json.Unmarshal(old, &o) != nil || json.Unmarshal(new, &n) != nil {
		return nil
	}
	var out []api.CompatChange
	compareNode(&out, "", o, n)
	return out
}

func compareNode(out *[]api.CompatChange, ptr string, o, n any) {
	om, _ := o.(map[string]any)
	nm, _ := n.(map[string]any)
	if om == nil || nm == nil {
		if ob, ok := o.(bool); ok {
			if nb, ok := n.(bool); ok && ob != nb {
				add(out, ptr, "constraint_changed", ob && !nb, fmt.Sprintf("schema changed from %v to %v", ob, nb))
			}
		}
		return
	}
	compareTypes(out, ptr, om, nm)
	compareEnum(out, ptr, om, nm)
	compareBounds(out, ptr, om, nm)

	if isObjectSchema(om) || isObjectSchema(nm) {
		oc, nc := closedness(om), closedness(nm)
		switch {
		case oc && !nc:
			add(out, ptr, "opened", false, fmt.Sprintf("%s now accepts unknown properties", where(ptr)))
		case !oc && nc:
			add(out, ptr, "closed", true, fmt.Sprintf("%s no longer accepts unknown properties", where(ptr)))
		}
	}

	op, _ := om["properties"].(map[string]any)
	np, _ := nm["properties"].(map[string]any)
	oreq, nreq := stringSet(om["required"]), stringSet(nm["required"])
	for _, name := range sortedKeys(np) {
		if _, ok := op[name]; !ok {
			breaking := nreq[name]
			msg := fmt.Sprintf("field %q added", name)
			if nreq[name] {
				msg += " (required)"
			}
			add(out, ptr+"/properties/"+escape(name), "field_added", breaking, msg)
		}
	}
	for _, name := range sortedKeys(op) {
		if _, ok := np[name]; !ok {
			add(out, ptr+"/properties/"+escape(name), "field_removed", closedness(nm),
				fmt.Sprintf("field %q removed", name))
		}
	}
	for _, name := range sortedSet(nreq) {
		if !oreq[name] {
			add(out, ptr+"/properties/"+escape(name), "made_required", true, fmt.Sprintf("field %q made required", name))
		}
	}
	for _, name := range sortedSet(oreq) {
		if !nreq[name] {
			add(out, ptr+"/properties/"+escape(name), "made_optional", false, fmt.Sprintf("field %q made optional", name))
		}
	}
	for _, name := range sortedKeys(np) {
		if ov, ok := op[name]; ok {
			compareNode(out, ptr+"/properties/"+escape(name), ov, np[name])
		}
	}
	if oi, ok := om["items"]; ok {
		if ni, ok := nm["items"]; ok {
			compareNode(out, ptr+"/items", oi, ni)
		}
	}
	if oa, ok := om["additionalProperties"].(map[string]any); ok {
		if na, ok := nm["additionalProperties"].(map[string]any); ok {
			compareNode(out, ptr+"/additionalProperties", oa, na)
		}
	}
}

func add(out *[]api.CompatChange, ptr, kind string, breaking bool, msg string) {
	*out = append(*out, api.CompatChange{Pointer: ptr, Kind: kind, Breaking: breaking, Message: msg})
}

func where(ptr string) string {
	if ptr == "" {
		return "the value"
	}
	return "the value at " + ptr
}

func isObjectSchema(m map[string]any) bool {
	if _, ok := m["properties"]; ok {
		return true
	}
	return typeSet(m)["object"]
}

// closedness reports whether an object schema refuses unknown properties,
// as the server compiles it (absent keywords close it).
func closedness(m map[string]any) bool {
	for _, k := range []string{"additionalProperties", "unevaluatedProperties"} {
		if v, ok := m[k]; ok {
			b, isBool := v.(bool)
			return isBool && !b
		}
	}
	return true
}

// typeSet is the set of JSON types a schema's "type" allows; nil when it
// does not say (any type).
func typeSet(m map[string]any) map[string]bool {
	switch t := m["type"].(type) {
	case string:
		s := map[string]bool{t: true}
		if t == "number" {
			s["integer"] = true
		}
		return s
	case []any:
		s := map[string]bool{}
		for _, x := range t {
			if str, ok := x.(string); ok {
				s[str] = true
				if str == "number" {
					s["integer"] = true
				}
			}
		}
		return s
	}
	return nil
}

func compareTypes(out *[]api.CompatChange, ptr string, om, nm map[string]any) {
	ot, nt := typeSet(om), typeSet(nm)
	if reflect.DeepEqual(ot, nt) {
		return
	}
	describe := func(s map[string]bool) string {
		if s == nil {
			return "any type"
		}
		return strings.Join(sortedSet(s), "|")
	}
	msg := fmt.Sprintf("type of %s changed from %s to %s", where(ptr), describe(ot), describe(nt))
	switch {
	case nt == nil || (ot != nil && subset(ot, nt)):
		add(out, ptr, "type_widened", false, msg)
	case ot == nil || subset(nt, ot):
		add(out, ptr, "type_narrowed", true, msg)
	default:
		add(out, ptr, "type_changed", true, msg)
	}
}

func compareEnum(out *[]api.CompatChange, ptr string, om, nm map[string]any) {
	oe, oHas := om["enum"].([]any)
	ne, nHas := nm["enum"].([]any)
	if !oHas && !nHas {
		return
	}
	contains := func(list []any, v any) bool {
		return slices.ContainsFunc(list, func(x any) bool { return reflect.DeepEqual(x, v) })
	}
	all := func(a, b []any) bool { // every value of a is in b
		for _, v := range a {
			if !contains(b, v) {
				return false
			}
		}
		return true
	}
	switch {
	case !oHas:
		add(out, ptr, "enum_narrowed", true, fmt.Sprintf("%s is now limited to %d values", where(ptr), len(ne)))
	case !nHas:
		add(out, ptr, "enum_widened", false, fmt.Sprintf("%s is no longer limited to a list of values", where(ptr)))
	case all(oe, ne) && all(ne, oe):
	case all(oe, ne):
		add(out, ptr, "enum_widened", false, fmt.Sprintf("%s allows %d more values", where(ptr), len(ne)-len(oe)))
	case all(ne, oe):
		add(out, ptr, "enum_narrowed", true, fmt.Sprintf("%s allows %d fewer values", where(ptr), len(oe)-len(ne)))
	default:
		add(out, ptr, "enum_changed", true, fmt.Sprintf("allowed values of %s changed", where(ptr)))
	}
}

// bounds: keyword -> true when a larger value is stricter.
var bounds = map[string]bool{
	"minimum": true, "exclusiveMinimum": true, "minLength": true, "minItems": true, "minProperties": true,
	"maximum": false, "exclusiveMaximum": false, "maxLength": false, "maxItems": false, "maxProperties": false,
}

func compareBounds(out *[]api.CompatChange, ptr string, om, nm map[string]any) {
	for _, kw := range sortedKeys(bounds) {
		largerStricter := bounds[kw]
		ov, oOK := om[kw].(float64)
		nv, nOK := nm[kw].(float64)
		switch {
		case !oOK && !nOK:
		case !oOK:
			add(out, ptr+"/"+kw, "constraint_changed", true, fmt.Sprintf("%s of %s set to %v", kw, where(ptr), nv))
		case !nOK:
			add(out, ptr+"/"+kw, "constraint_changed", false, fmt.Sprintf("%s of %s removed (was %v)", kw, where(ptr), ov))
		case ov != nv:
			stricter := (nv > ov) == largerStricter
			add(out, ptr+"/"+kw, "constraint_changed", stricter, fmt.Sprintf("%s of %s changed from %v to %v", kw, where(ptr), ov, nv))
		}
	}
	for _, kw := range []string{"pattern", "format", "const"} {
		ov, oOK := om[kw]
		nv, nOK := nm[kw]
		if oOK != nOK || (oOK && !reflect.DeepEqual(ov, nv)) {
			add(out, ptr+"/"+kw, "constraint_changed", nOK, fmt.Sprintf("%s of %s changed", kw, where(ptr)))
		}
	}
}

func subset(a, b map[string]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func stringSet(v any) map[string]bool {
	out := map[string]bool{}
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedSet(m map[string]bool) []string { return sortedKeys(m) }

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
