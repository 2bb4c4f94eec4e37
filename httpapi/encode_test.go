package httpapi

import (
	"bytes"
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/jsonutil/jsontest"
)

// TestAppendEntry_MatchesEncodingJSON keeps the hand-written answer to a
// put or get byte for byte equal to what render writes. Fill sets every
// field, so a field added to api.ConfigEntry fails here until appendEntry
// writes it.
func TestAppendEntry_MatchesEncodingJSON(t *testing.T) {
	var full api.ConfigEntry
	jsontest.Fill(t, &full)
	for name, e := range map[string]*api.ConfigEntry{
		"every field":  &full,
		"zero":         {},
		"nested value": {Namespace: "pay", Key: "a", Value: []byte(`[{"a":[]},"\u2028"]`)},
	} {
		if got, want := appendEntry([]byte("x"), e), append([]byte("x"), jsontest.Marshal(t, e)...); !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
