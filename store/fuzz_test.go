package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/schemakv/schemakv/api"
)

// FuzzDecodeEntry: decoding any bytes never panics, and whatever decodes
// re-encodes to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(&api.ConfigEntry{Namespace: "n", Key: "k", Value: json.RawMessage(`{}`), ModifiedAt: time.Unix(0, 5)}))
	f.Add([]byte{entryRecordV1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		if again, err := decodeEntry(encodeEntry(e)); err != nil || string(encodeEntry(again)) != string(encodeEntry(e)) {
			t.Fatalf("re-encoding is not stable: %v", err)
		}
	})
}
