package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/schemakv/schemakv/fsm"
	"github.com/schemakv/schemakv/store"
)

// Errors cross the RPC hop as codes and come back matching the same
// sentinels, with the same text and the same typed fields.
func TestWire_ErrorsRoundTrip(t *testing.T) {
	cases := []error{
		fmt.Errorf("%w: %q", store.ErrNamespaceNotFound, "pay"),
		fmt.Errorf("%w: x", store.ErrNamespaceExists),
		fmt.Errorf("%w: x", store.ErrNamespaceNotEmpty),
		fmt.Errorf("%w: x", store.ErrSchemaNotFound),
		fmt.Errorf("%w: x", store.ErrSchemaConflict),
		fmt.Errorf("%w: x", store.ErrConfigNotFound),
		fmt.Errorf("%w: x", store.ErrRevisionNotFound),
		fmt.Errorf("%w: x", ErrNoLeader),
		fmt.Errorf("%w: x", ErrOutcomeUnknown),
		fmt.Errorf("%w: x", ErrBadMembership),
		fmt.Errorf("%w: x", ErrMemberNotFound),
		&fsm.RevisionMismatchError{Namespace: "n", Key: "k", Expected: 3, Current: 7, Exists: true},
		&fsm.TxnError{Ops: []fsm.OpError{
			{Index: 0, Err: fmt.Errorf("%w: a", store.ErrConfigNotFound)},
			{Index: 2, Err: &fsm.RevisionMismatchError{Namespace: "n", Key: "b", Current: 9, Exists: true}},
		}},
	}
	for _, in := range cases {
		b, err := json.Marshal(toWire(in))
		if err != nil {
			t.Fatal(err)
		}
		var w wireError
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		out := fromWire(&w)
		if out.Error() != in.Error() {
			t.Fatalf("text: got %q, want %q", out.Error(), in.Error())
		}
		for _, sentinel := range []error{store.ErrNamespaceNotFound, store.ErrNamespaceExists, store.ErrNamespaceNotEmpty,
			store.ErrSchemaNotFound, store.ErrSchemaConflict, store.ErrConfigNotFound, store.ErrRevisionNotFound,
			store.ErrRevisionMismatch, ErrNoLeader, ErrOutcomeUnknown, ErrBadMembership, ErrMemberNotFound} {
			if errors.Is(out, sentinel) != errors.Is(in, sentinel) {
				t.Fatalf("%v: errors.Is(%v) = %v after the hop", in, sentinel, errors.Is(out, sentinel))
			}
		}
		var rm *fsm.RevisionMismatchError
		if errors.As(in, &rm) {
			var got *fsm.RevisionMismatchError
			if !errors.As(out, &got) || *got != *rm {
				t.Fatalf("revision mismatch fields lost: %+v", got)
			}
		}
	}
	if fromWire(toWire(nil)) != nil {
		t.Fatal("nil error did not stay nil")
	}
}
