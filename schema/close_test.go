package schema

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestClose_Rules checks each closing rule on behaviour: a value with an
// unknown field, or a composed value, against the closed schema.
func TestClose_Rules(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		value  string
		valid  bool
	}{
		// Object schemas are closed.
		{"type object closed", `{"type":"object","properties":{"a":{}}}`, `{"a":1,"x":1}`, false},
		{"type object known field", `{"type":"object","properties":{"a":{}}}`, `{"a":1}`, true},
		{"properties without type closed", `{"properties":{"a":{}}}`, `{"x":1}`, false},
		{"patternProperties closed", `{"patternProperties":{"^a":{}}}`, `{"ab":1,"x":1}`, false},
		{"patternProperties match", `{"patternProperties":{"^a":{}}}`, `{"ab":1}`, true},
		{"type list with object closed", `{"type":["object","null"],"properties":{"a":{}}}`, `{"x":1}`, false},
		{"bare type object accepts only {}", `{"type":"object"}`, `{"x":1}`, false},
		{"bare type object empty", `{"type":"object"}`, `{}`, true},
		{"empty schema stays open", `{}`, `{"x":1}`, true},
		{"boolean schema stays open", `true`, `{"x":1}`, true},
		{"non-object schema untouched", `{"type":"string"}`, `"s"`, true},

		// Opt-outs.
		{"additionalProperties true opts out", `{"type":"object","properties":{"a":{}},"additionalProperties":true}`, `{"x":1}`, true},
		{"unevaluatedProperties true opts out", `{"type":"object","properties":{"a":{}},"unevaluatedProperties":true}`, `{"x":1}`, true},
		{"additionalProperties schema kept", `{"type":"object","additionalProperties":{"type":"integer"}}`, `{"x":1}`, true},
		{"additionalProperties schema checked", `{"type":"object","additionalProperties":{"type":"integer"}}`, `{"x":"s"}`, false},
		{"explicit false kept", `{"type":"object","properties":{"a":{}},"additionalProperties":false}`, `{"x":1}`, false},

		// Recursion into entry points.
		{"nested property closed", `{"properties":{"db":{"type":"object","properties":{"host":{}}}}}`, `{"db":{"host":"h","x":1}}`, false},
		{"nested property opt-out", `{"properties":{"db":{"type":"object","properties":{"host":{}},"additionalProperties":true}}}`, `{"db":{"host":"h","x":1}}`, true},
		{"patternProperties value closed", `{"patternProperties":{"^d":{"properties":{"a":{}}}}}`, `{"db":{"x":1}}`, false},
		{"items closed", `{"type":"array","items":{"properties":{"a":{}}}}`, `[{"a":1},{"x":1}]`, false},
		{"items opt-out", `{"type":"array","items":{"properties":{"a":{}},"additionalProperties":true}}`, `[{"a":1},{"x":1}]`, true},
		{"prefixItems closed", `{"prefixItems":[{"properties":{"a":{}}}]}`, `[{"x":1}]`, false},
		{"additionalProperties schema closed", `{"type":"object","additionalProperties":{"properties":{"a":{}}}}`, `{"k":{"x":1}}`, false},
		{"unevaluatedProperties schema closed", `{"type":"object","unevaluatedProperties":{"properties":{"a":{}}}}`, `{"k":{"x":1}}`, false},
		{"$defs used by $ref closed", `{"properties":{"a":{"$ref":"#/$defs/a"}},"$defs":{"a":{"type":"object","properties":{"b":{}}}}}`, `{"a":{"b":1,"x":1}}`, false},
		{"$defs used by $ref known field", `{"properties":{"a":{"$ref":"#/$defs/a"}},"$defs":{"a":{"type":"object","properties":{"b":{}}}}}`, `{"a":{"b":1}}`, true},
		{"definitions used by $ref closed", `{"properties":{"a":{"$ref":"#/definitions/a"}},"definitions":{"a":{"properties":{"b":{}}}}}`, `{"a":{"x":1}}`, false},
		{"nested object in $defs closed", `{"$ref":"#/$defs/a","$defs":{"a":{"properties":{"b":{"properties":{"c":{}}}}}}}`, `{"b":{"c":1,"x":1}}`, false},
		{"$defs opt-out", `{"properties":{"a":{"$ref":"#/$defs/a"}},"$defs":{"a":{"properties":{"b":{}},"additionalProperties":true}}}`, `{"a":{"x":1}}`, true},

		// Composition: closed at the node, with unevaluatedProperties.
		{"allOf union accepted", `{"type":"object","allOf":[{"properties":{"a":{}}},{"properties":{"b":{}}}]}`, `{"a":1,"b":2}`, true},
		{"allOf union closed", `{"type":"object","allOf":[{"properties":{"a":{}}},{"properties":{"b":{}}}]}`, `{"a":1,"b":2,"x":3}`, false},
		{"allOf without type closed", `{"allOf":[{"properties":{"a":{}}},{"properties":{"b":{}}}]}`, `{"a":1,"x":3}`, false},
		{"allOf with sibling properties", `{"properties":{"a":{}},"allOf":[{"properties":{"b":{}}}]}`, `{"a":1,"b":2}`, true},
		{"allOf of $refs union accepted", `{"allOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/b"}],"$defs":{"a":{"type":"object","properties":{"a":{}}},"b":{"type":"object","properties":{"b":{}}}}}`, `{"a":1,"b":2}`, true},
		{"allOf of $refs closed", `{"allOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/b"}],"$defs":{"a":{"type":"object","properties":{"a":{}}},"b":{"type":"object","properties":{"b":{}}}}}`, `{"a":1,"x":2}`, false},
		{"$ref extended by properties", `{"$ref":"#/$defs/base","properties":{"extra":{}},"$defs":{"base":{"type":"object","properties":{"a":{}}}}}`, `{"a":1,"extra":2}`, true},
		{"$ref extended closed", `{"$ref":"#/$defs/base","properties":{"extra":{}},"$defs":{"base":{"type":"object","properties":{"a":{}}}}}`, `{"a":1,"x":2}`, false},
		{"anyOf branch properties accepted", `{"anyOf":[{"properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{}},"required":["b"]}]}`, `{"b":1}`, true},
		{"anyOf unknown refused", `{"anyOf":[{"properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{}},"required":["b"]}]}`, `{"b":1,"x":1}`, false},
		{"oneOf branch properties accepted", `{"oneOf":[{"properties":{"kind":{"const":"a"},"a":{}}},{"properties":{"kind":{"const":"b"},"b":{}}}]}`, `{"kind":"b","b":1}`, true},
		{"dependentSchemas accepted", `{"properties":{"tls":{}},"dependentSchemas":{"tls":{"properties":{"cert":{}}}}}`, `{"tls":true,"cert":"c"}`, true},
		{"dependentSchemas closed", `{"properties":{"tls":{}},"dependentSchemas":{"tls":{"properties":{"cert":{}}}}}`, `{"cert":"c"}`, false},
		{"then adds properties", `{"properties":{"kind":{}},"if":{"properties":{"kind":{"const":"a"}}},"then":{"properties":{"aopt":{}}}}`, `{"kind":"a","aopt":1}`, true},
		{"then only when if holds", `{"properties":{"kind":{}},"if":{"properties":{"kind":{"const":"a"}}},"then":{"properties":{"aopt":{}}}}`, `{"kind":"b","aopt":1}`, false},
		{"branch nested property closed", `{"allOf":[{"properties":{"db":{"type":"object","properties":{"host":{}}}}}]}`, `{"db":{"host":"h","x":1}}`, false},

		// Never inside not, if, contains, propertyNames.
		{"not untouched", `{"type":"object","properties":{"a":{}},"not":{"properties":{"a":{"const":1}}}}`, `{"a":2}`, true},
		{"not untouched rejects", `{"type":"object","properties":{"a":{}},"not":{"properties":{"a":{"const":1}}}}`, `{"a":1}`, false},
		{"if untouched", `{"properties":{"a":{},"b":{}},"if":{"properties":{"a":{"const":1}}},"then":{"required":["b"]}}`, `{"a":1}`, false},
		{"if untouched matches with other fields", `{"properties":{"a":{},"b":{}},"if":{"properties":{"a":{"const":1}}},"then":{"required":["b"]}}`, `{"a":1,"b":2}`, true},
		{"contains untouched", `{"type":"array","contains":{"properties":{"a":{"const":1}}}}`, `[{"a":1,"x":2}]`, true},
		{"propertyNames untouched", `{"type":"object","propertyNames":{"type":"string","maxLength":3},"additionalProperties":true}`, `{"abc":1}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, tt.schema, nil)
			errs := mustValidate(t, s, tt.value)
			if valid := len(errs) == 0; valid != tt.valid {
				t.Fatalf("valid = %v, want %v; schema %s value %s errors:%s", valid, tt.valid, tt.schema, tt.value, pointers(errs))
			}
		})
	}
}

// TestCloseSchema_Rewrite checks where closeSchema injects what.
func TestCloseSchema_Rewrite(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		entry bool
		want  string
	}{
		{"object", `{"type":"object"}`, true, `{"additionalProperties":false,"type":"object"}`},
		{"composition", `{"allOf":[{"properties":{"a":{}}}]}`, true, `{"allOf":[{"properties":{"a":{}}}],"unevaluatedProperties":false}`},
		{"$ref", `{"$ref":"#/$defs/a","$defs":{"a":{"properties":{"b":{}}}}}`, true,
			`{"$defs":{"a":{"properties":{"b":{}}}},"$ref":"#/$defs/a","unevaluatedProperties":false}`},
		{"not an entry", `{"properties":{"a":{"properties":{}}}}`, false, `{"properties":{"a":{"additionalProperties":false,"properties":{}}}}`},
		{"never inside not/if/contains/propertyNames", `{"not":{"type":"object"},"if":{"type":"object"},"contains":{"type":"object"},"propertyNames":{"properties":{}}}`, true,
			`{"contains":{"type":"object"},"if":{"type":"object"},"not":{"type":"object"},"propertyNames":{"properties":{}},"unevaluatedProperties":false}`},
		{"then/else entries below closed", `{"if":true,"then":{"properties":{"a":{"type":"object"}}},"else":{"type":"object"}}`, false,
			`{"else":{"type":"object"},"if":true,"then":{"properties":{"a":{"additionalProperties":false,"type":"object"}}}}`},
		{"array entries", `{"items":{"type":"object"},"prefixItems":[{"type":"object"}]}`, true,
			`{"items":{"additionalProperties":false,"type":"object"},"prefixItems":[{"additionalProperties":false,"type":"object"}]}`},
		{"opt-out", `{"type":"object","additionalProperties":true}`, true, `{"additionalProperties":true,"type":"object"}`},
		{"ill-typed nodes skipped", `{"properties":[1],"items":3,"allOf":{"a":1}}`, true, `{"allOf":{"a":1},"items":3,"properties":[1],"unevaluatedProperties":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc any
			dec := json.NewDecoder(bytes.NewReader([]byte(tt.in)))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			closeSchema(doc, tt.entry)
			got, _ := json.Marshal(doc)
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}
