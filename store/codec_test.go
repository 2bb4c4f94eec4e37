package store

import (
	"bytes"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/jsonutil/jsontest"
)

// TestStore_AppendEventMatchesEncodingJSON keeps the hand-written event
// encoding byte for byte equal to encoding/json's, which reads it back and
// wrote the events already stored. Fill sets every field, so a field added
// to api.Event fails here until appendEvent writes it.
func TestStore_AppendEventMatchesEncodingJSON(t *testing.T) {
	var full api.Event
	jsontest.Fill(t, &full)
	for name, ev := range map[string]*api.Event{
		"every field": &full,
		"zero":        {},
		"namespace":   {Revision: 3, Kind: api.KindNamespace, Op: api.OpCreate, Namespace: "pay", Principal: "alice", Time: time.Unix(1, 0).UTC()},
	} {
		if got, want := appendEvent([]byte("x"), ev), append([]byte("x"), jsontest.Marshal(t, ev)...); !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
