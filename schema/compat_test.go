package schema

import (
	"testing"

	"github.com/schemakv/schemakv/api"
)

func TestCompare_StructuralChanges(t *testing.T) {
	old := `{"type":"object","properties":{
		"port":{"type":"integer","maximum":65535},
		"host":{"type":"string"},
		"mode":{"enum":["a","b"]},
		"size":{"type":"number"},
		"opts":{"type":"object","additionalProperties":true,"properties":{"x":{"type":"string"}}},
		"gone":{"type":"string"}},
		"required":["host"]}`
	new := `{"type":"object","properties":{
		"port":{"type":"integer","maximum":1024},
		"host":{"type":"string"},
		"mode":{"enum":["a","b","c"]},
		"size":{"type":"integer"},
		"opts":{"type":"object","properties":{"x":{"type":["string","null"]}}},
		"tls":{"type":"boolean"}},
		"required":["port"]}`
	got := map[string]api.CompatChange{}
	for _, c := range Compare([]byte(old), []byte(new)) {
		got[c.Kind+" "+c.Pointer] = c
	}
	for key, breaking := range map[string]bool{
		"field_added /properties/tls":                 false,
		"field_removed /properties/gone":              true, // the object is closed: old values with it fail
		"made_required /properties/port":              true,
		"made_optional /properties/host":              false,
		"constraint_changed /properties/port/maximum": true,
		"enum_widened /properties/mode":               false,
		"type_narrowed /properties/size":              true,
		"closed /properties/opts":                     true,
		"type_widened /properties/opts/properties/x":  false,
	} {
		c, ok := got[key]
		if !ok {
			t.Errorf("missing change %q; got %v", key, got)
			continue
		}
		if c.Breaking != breaking || c.Message == "" {
			t.Errorf("%s: breaking %v (%q), want %v", key, c.Breaking, c.Message, breaking)
		}
	}
	if len(got) != 9 {
		t.Errorf("got %d changes, want 9: %v", len(got), got)
	}
	if cs := Compare([]byte(old), []byte(old)); len(cs) != 0 {
		t.Errorf("same schema: %v", cs)
	}
	if cs := Compare([]byte(`not json`), []byte(old)); cs != nil {
		t.Errorf("bad input: %v", cs)
	}
}
