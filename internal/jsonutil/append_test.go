package jsonutil

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/schemakv/schemakv/internal/jsonutil/jsontest"
)

func TestAppendString_MatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", jsontest.Tricky, "\u007f", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\u2028", "🙂\xff"} {
		if got, want := AppendString([]byte("x"), s), append([]byte("x"), jsontest.Marshal(t, s)...); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add(jsontest.Tricky)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendString(nil, s), jsontest.Marshal(t, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestAppendTime_MatchesEncodingJSON(t *testing.T) {
	for _, tm := range []time.Time{
		time.Unix(0, 0).UTC(), time.Unix(1_700_000_000, 120_000_000).UTC(),
		time.Unix(0, -1<<63).UTC(), time.Unix(0, 1<<63-1).UTC(),
	} {
		want, err := json.Marshal(tm)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendTime(nil, tm); !bytes.Equal(got, want) {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
