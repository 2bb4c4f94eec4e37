package schema

import (
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// findRefLoop looks for a cycle of schemas applied in place ($ref, allOf,
// if/then/else, ...) in a compiled schema graph and returns the schema
// locations along it, or nil. Such a cycle never reaches a part of the value
// and would loop forever; the library finds it at compile time within one
// document but only at validation time across documents (a@1 → b@1 → a@1),
// so every compilation checks the whole graph once.
func findRefLoop(root *jsonschema.Schema) []string {
	// Every schema of the graph, through any edge.
	all := []*jsonschema.Schema{root}
	seen := map[*jsonschema.Schema]bool{root: true}
	for i := 0; i < len(all); i++ {
		eachSubschema(all[i], func(sub *jsonschema.Schema, _ bool) bool {
			if !seen[sub] {
				seen[sub] = true
				all = append(all, sub)
			}
			return true
		})
	}

	// A depth-first search for a cycle through in-place edges only.
	const (
		unvisited = iota
		onPath
		done
	)
	state := make(map[*jsonschema.Schema]int, len(all))
	var path []*jsonschema.Schema
	var loop []string
	var visit func(s *jsonschema.Schema) bool
	visit = func(s *jsonschema.Schema) bool {
		switch state[s] {
		case onPath:
			start := len(path) - 1
			for path[start] != s {
				start--
			}
			for _, p := range path[start:] {
				loop = append(loop, p.Location)
			}
			loop = append(loop, s.Location)
			return true
		case done:
			return false
		}
		state[s] = onPath
		path = append(path, s)
		found := false
		eachSubschema(s, func(sub *jsonschema.Schema, inPlace bool) bool {
			if inPlace {
				found = visit(sub)
			}
			return !found
		})
		path = path[:len(path)-1]
		state[s] = done
		return found
	}
	for _, s := range all {
		if visit(s) {
			return loop
		}
	}
	return nil
}

// eachSubschema calls fn for every direct subschema of s, telling whether it
// applies to the same instance as s, until fn returns false.
func eachSubschema(s *jsonschema.Schema, fn func(sub *jsonschema.Schema, inPlace bool) bool) {
	one := func(sub *jsonschema.Schema, inPlace bool) bool {
		return sub == nil || fn(sub, inPlace)
	}
	many := func(subs []*jsonschema.Schema, inPlace bool) bool {
		for _, sub := range subs {
			if !one(sub, inPlace) {
				return false
			}
		}
		return true
	}
	anySchema := func(v any, inPlace bool) bool {
		switch v := v.(type) {
		case *jsonschema.Schema:
			return one(v, inPlace)
		case []*jsonschema.Schema:
			return many(v, inPlace)
		}
		return true
	}
	ok := one(s.Ref, true) && one(s.RecursiveRef, true) && one(s.DynamicRef, true) &&
		one(s.Not, true) && many(s.AllOf, true) && many(s.AnyOf, true) && many(s.OneOf, true) &&
		one(s.If, true) && one(s.Then, true) && one(s.Else, true)
	for _, sub := range s.DependentSchemas {
		ok = ok && one(sub, true)
	}
	for _, dep := range s.Dependencies {
		ok = ok && anySchema(dep, true)
	}
	ok = ok && one(s.PropertyNames, false) && anySchema(s.AdditionalProperties, false) &&
		one(s.UnevaluatedProperties, false) && anySchema(s.Items, false) &&
		anySchema(s.AdditionalItems, false) && many(s.PrefixItems, false) &&
		one(s.Items2020, false) && one(s.Contains, false) && one(s.UnevaluatedItems, false) &&
		one(s.ContentSchema, false)
	for _, sub := range s.Properties {
		ok = ok && one(sub, false)
	}
	for _, sub := range s.PatternProperties {
		ok = ok && one(sub, false)
	}
}

// describeLoop shortens the locations of a loop for a message: the URL
// prefix of the namespace is dropped, leaving "a@1#/$defs/x".
func describeLoop(namespace string, loop []string) string {
	prefix := refScheme + "://" + namespace + "/"
	short := make([]string, len(loop))
	for i, l := range loop {
		short[i] = strings.TrimPrefix(l, prefix)
	}
	return "a $ref loop that never reaches a part of the value: " + strings.Join(short, " -> ")
}
