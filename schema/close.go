package schema

import (
	"maps"
	"slices"
	"strconv"
)

// Keywords that apply a schema to the same instance as their parent. An entry
// point that has one of them is closed with unevaluatedProperties, which sees
// the properties they evaluate; additionalProperties would not.
var composingKeywords = []string{
	"$ref", "$dynamicRef", "allOf", "anyOf", "oneOf",
	"dependentSchemas", "dependencies", "if", "then", "else",
}

// closeSchema rewrites a decoded schema document in place so that unknown
// object properties fail (see "Closed by default" in the package doc).
// entry tells whether node is an entry point (the root of a registered
// schema) or is applied in place by something else (the root of a
// referenced document). It expects a document that passed the meta-schema,
// but does not rely on it: nodes of unexpected types are skipped.
func closeSchema(node any, entry bool) {
	m, ok := node.(map[string]any)
	if !ok {
		return // a boolean schema, or something the meta-schema rejected
	}
	if entry {
		closeEntry(m)
	}

	// Entry points below this node.
	for _, kw := range [...]string{"properties", "patternProperties"} {
		if props, ok := m[kw].(map[string]any); ok {
			for _, sub := range props {
				closeSchema(sub, true)
			}
		}
	}
	for _, kw := range [...]string{"items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems"} {
		closeSchema(m[kw], true)
	}
	if items, ok := m["prefixItems"].([]any); ok {
		for _, sub := range items {
			closeSchema(sub, true)
		}
	}

	// Schemas applied in place: not closed themselves, only their entry
	// points.
	for _, kw := range [...]string{"allOf", "anyOf", "oneOf"} {
		if branches, ok := m[kw].([]any); ok {
			for _, sub := range branches {
				closeSchema(sub, false)
			}
		}
	}
	for _, kw := range [...]string{"$defs", "definitions", "dependentSchemas", "dependencies"} {
		if subs, ok := m[kw].(map[string]any); ok {
			for _, sub := range subs {
				closeSchema(sub, false) // dependencies' string arrays are skipped
			}
		}
	}
	for _, kw := range [...]string{"then", "else"} {
		closeSchema(m[kw], false)
	}
	// Never inside not, if, contains, propertyNames, contentSchema.
}

// closeEntry closes one entry point if it describes or composes objects and
// has not chosen for itself.
func closeEntry(m map[string]any) {
	if _, ok := m["additionalProperties"]; ok {
		return
	}
	if _, ok := m["unevaluatedProperties"]; ok {
		return
	}
	composes := false
	for _, kw := range composingKeywords {
		if _, ok := m[kw]; ok {
			composes = true
			break
		}
	}
	if composes {
		m["unevaluatedProperties"] = false
		return
	}
	_, props := m["properties"]
	_, patterns := m["patternProperties"]
	if props || patterns || typeIncludesObject(m["type"]) {
		m["additionalProperties"] = false
	}
}

func typeIncludesObject(t any) bool {
	switch t := t.(type) {
	case string:
		return t == "object"
	case []any:
		for _, x := range t {
			if x == "object" {
				return true
			}
		}
	}
	return false
}

// Where draft 2020-12 keeps subschemas (the library's Draft2020.subschemas,
// plus additionalItems, which it also lists).
var (
	subschemaSelf = [...]string{
		"additionalProperties", "items", "contains", "propertyNames", "not",
		"if", "then", "else", "unevaluatedProperties", "unevaluatedItems",
		"contentSchema", "additionalItems",
	}
	subschemaItems = [...]string{"allOf", "anyOf", "oneOf", "prefixItems", "items"}
	subschemaProps = [...]string{
		"properties", "patternProperties", "$defs", "definitions",
		"dependentSchemas", "dependencies",
	}
)

// walkSchemas calls fn for every object schema in node — node itself first,
// then every subschema at any depth — with its JSON pointer, stopping at the
// first error. Values of "enum", "const", "default", "examples" and unknown
// keywords are data, not schemas, and are not visited.
func walkSchemas(node any, ptr string, fn func(m map[string]any, ptr string) error) error {
	m, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	if err := fn(m, ptr); err != nil {
		return err
	}
	for _, kw := range subschemaSelf {
		if err := walkSchemas(m[kw], ptr+"/"+kw, fn); err != nil {
			return err
		}
	}
	for _, kw := range subschemaItems {
		if arr, ok := m[kw].([]any); ok {
			for i, sub := range arr {
				if err := walkSchemas(sub, ptr+"/"+kw+"/"+strconv.Itoa(i), fn); err != nil {
					return err
				}
			}
		}
	}
	for _, kw := range subschemaProps {
		if subs, ok := m[kw].(map[string]any); ok {
			for _, name := range slices.Sorted(maps.Keys(subs)) {
				if err := walkSchemas(subs[name], ptr+"/"+kw+"/"+escapePointerToken(name), fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
