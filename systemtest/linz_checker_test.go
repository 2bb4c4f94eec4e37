package systemtest

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// These tests check the checker: histories that are not linearizable must
// be rejected (with a visualisation written), and histories that are, with
// indeterminate operations resolved either way, must pass. They need no
// binary and run under -short too.

// hop builds one operation of a hand-made history.
func hop(client int, call, ret int64, in kvInput, out kvOutput) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func put(key, v string) kvInput { return kvInput{Op: kvPut, Key: key, Value: v} }
func get(key string) kvInput    { return kvInput{Op: kvGet, Key: key} }
func cas(key string, rev uint64, v string) kvInput {
	return kvInput{Op: kvCAS, Key: key, Value: v, Expect: rev}
}
func del(key string) kvInput { return kvInput{Op: kvDelete, Key: key} }

func wrote(version, rev uint64, created bool) kvOutput {
	return kvOutput{Result: resOK, Version: version, Rev: rev, Created: created}
}
func read(v string, version, rev uint64) kvOutput {
	return kvOutput{Result: resOK, Value: v, Version: version, Rev: rev}
}

var (
	okDel    = kvOutput{Result: resOK}
	notFound = kvOutput{Result: resNotFound}
	unknown  = kvOutput{Result: resUnknown}
)

func mismatch(cur uint64) kvOutput { return kvOutput{Result: resMismatch, Current: cur} }

const never = math.MaxInt64

func TestLinz_CheckerRejects(t *testing.T) {
	cases := map[string][]porcupine.Operation{
		// The bug Jepsen found in etcd 0.4 and Consul: a read served by a
		// deposed leader returns a value overwritten before the read began.
		"stale read": {
			hop(0, 0, 10, put("x", "a"), wrote(1, 5, true)),
			hop(1, 20, 30, put("x", "b"), wrote(2, 6, false)),
			hop(2, 40, 50, get("x"), read("a", 1, 5)),
		},
		"acknowledged write lost": {
			hop(0, 0, 10, put("x", "a"), wrote(1, 5, true)),
			hop(1, 20, 30, get("x"), notFound),
		},
		"cas succeeded on a revision no longer current": {
			hop(0, 0, 10, put("x", "a"), wrote(1, 5, true)),
			hop(1, 20, 30, put("x", "b"), wrote(2, 6, false)),
			hop(2, 40, 50, cas("x", 5, "c"), wrote(3, 7, false)),
		},
		"cas refused although the revision was current": {
			hop(0, 0, 10, put("x", "a"), wrote(1, 5, true)),
			hop(1, 20, 30, cas("x", 5, "b"), mismatch(5)),
		},
		"delete of an absent key acknowledged": {
			hop(0, 0, 10, del("x"), okDel),
		},
		"write reported as creating an existing key": {
			hop(0, 0, 10, put("x", "a"), wrote(1, 5, true)),
			hop(1, 20, 30, put("x", "b"), wrote(1, 6, true)),
		},
		"unknown write seen, then unseen": {
			hop(0, 0, never, put("x", "a"), unknown),
			hop(1, 20, 30, get("x"), read("a", 1, 5)),
			hop(2, 40, 50, get("x"), notFound),
		},
		"reads disagree on the order of two writes": {
			hop(0, 0, 100, put("x", "a"), wrote(1, 5, true)),
			hop(1, 0, 100, put("x", "b"), wrote(2, 6, false)),
			hop(2, 10, 20, get("x"), read("b", 2, 6)),
			hop(3, 30, 40, get("x"), read("a", 1, 5)),
		},
	}
	dir := t.TempDir()
	for name, ops := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			r, err := checkLinearizable(dir, name, ops, nil, nil, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if r.Result != porcupine.Illegal {
				t.Fatalf("checker answered %v for a history that is not linearizable", r.Result)
			}
			if st, err := os.Stat(r.HTML); err != nil || st.Size() == 0 {
				t.Fatalf("no visualisation at %q: %v", r.HTML, err)
			}
		})
	}
}

func TestLinz_CheckerAccepts(t *testing.T) {
	cases := map[string][]porcupine.Operation{
		"concurrent writes, reads agree": {
			hop(0, 0, 100, put("x", "a"), wrote(1, 5, true)),
			hop(1, 0, 100, put("x", "b"), wrote(2, 6, false)),
			hop(2, 110, 120, get("x"), read("b", 2, 6)),
		},
		"unknown write that happened": {
			hop(0, 0, never, put("x", "a"), unknown),
			hop(1, 20, 30, get("x"), read("a", 1, 5)),
			hop(2, 40, 50, cas("x", 5, "b"), wrote(2, 8, false)),
		},
		"unknown write that did not happen": {
			hop(0, 0, never, put("x", "a"), unknown),
			hop(1, 20, 30, get("x"), notFound),
			hop(2, 40, 50, get("x"), notFound),
		},
		"unknown write, unseen revision, refused cas": {
			hop(0, 0, 10, put("x", "a"), wrote(1, 5, true)),
			hop(1, 20, never, put("x", "b"), unknown),
			hop(2, 40, 50, cas("x", 5, "c"), mismatch(7)),
			hop(3, 60, 70, get("x"), read("b", 2, 7)),
		},
		"cas on a revision learned from a 412, value never read": {
			hop(0, 0, 10, put("x", "a"), wrote(1, 5, true)),
			hop(1, 20, never, put("x", "b"), unknown),
			hop(2, 40, 50, cas("x", 5, "c"), mismatch(7)),
			hop(2, 60, 70, cas("x", 7, "d"), wrote(3, 9, false)),
			hop(3, 80, 90, get("x"), read("d", 3, 9)),
		},
		"create if absent, delete, create again": {
			hop(0, 0, 10, cas("x", 0, "a"), wrote(1, 5, true)),
			hop(1, 20, 30, cas("x", 0, "b"), mismatch(5)),
			hop(2, 40, 50, del("x"), okDel),
			hop(3, 60, 70, del("x"), notFound),
			hop(4, 80, 90, cas("x", 0, "c"), wrote(1, 9, true)),
			hop(0, 100, 110, get("x"), read("c", 1, 9)),
		},
		"unknown delete that happened, keys apart": {
			hop(0, 0, 10, put("x", "a"), wrote(1, 5, true)),
			hop(1, 0, 10, put("y", "b"), wrote(1, 6, true)),
			hop(2, 20, never, del("x"), unknown),
			hop(3, 30, 40, get("x"), notFound),
			hop(4, 30, 40, get("y"), read("b", 1, 6)),
		},
	}
	dir := t.TempDir()
	for name, ops := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			r, err := checkLinearizable(dir, name, ops, nil, nil, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if r.Result != porcupine.Ok {
				t.Fatalf("checker answered %v for a linearizable history; see %s", r.Result, r.HTML)
			}
		})
	}
}

func TestLinz_StaleReadChecker(t *testing.T) {
	ok := []staleRead{
		{Node: "n1", Key: "x", Call: 0, Return: 10, Index: 5, Found: true, Value: "a", Rev: 5},
		{Node: "n1", Key: "x", Call: 5, Return: 15, Index: 4, Found: false},           // concurrent with the first: may be older
		{Node: "n2", Key: "x", Call: 20, Return: 30, Index: 3, Found: false},          // another node may lag
		{Node: "n1", Key: "x", Call: 20, Return: 30, Index: 9, Found: false},          // deleted since
		{Node: "n1", Key: "x", Call: 40, Return: 50, Index: 12, Found: true, Rev: 11}, // created again
	}
	if p := checkStaleReads(ok); len(p) != 0 {
		t.Errorf("valid stale reads rejected: %v", p)
	}
	backIndex := append(slices.Clone(ok), staleRead{Node: "n1", Key: "y", Call: 60, Return: 70, Index: 8})
	if p := checkStaleReads(backIndex); len(p) != 1 {
		t.Errorf("index going back on n1: %d problems, want 1: %v", len(p), p)
	}
	backRev := []staleRead{
		{Node: "n1", Key: "x", Call: 0, Return: 10, Index: 20, Found: true, Value: "b", Rev: 20},
		{Node: "n1", Key: "x", Call: 20, Return: 30, Index: 25, Found: true, Value: "a", Rev: 15},
	}
	if p := checkStaleReads(backRev); len(p) != 1 {
		t.Errorf("revision going back on n1: %d problems, want 1: %v", len(p), p)
	}
	future := []staleRead{{Node: "n1", Key: "x", Call: 0, Return: 10, Index: 20, Found: true, Rev: 21}}
	if p := checkStaleReads(future); len(p) != 1 {
		t.Errorf("revision above the answer's index: %d problems, want 1: %v", len(p), p)
	}
}
