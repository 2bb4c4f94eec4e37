package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/store"
)

// authScript is a hand-made log of the auth commands with the business
// failure each entry must give.
func authScript(t *testing.T) ([][]byte, []error) {
	t.Helper()
	h := func(s string) []byte { return []byte(strings.Repeat(s, 32)) }
	steps := []struct {
		cmd any
		err error
	}{
		{&CreateToken{Audit: audit, ID: "tkroot", Name: "bootstrap-admin", Hash: h("r"), Bootstrap: true,
			Bindings: []api.RoleBinding{{ID: "rb-root", Role: api.RoleAdmin, SubjectKind: api.SubjectToken, Subject: "tkroot"}}}, nil},
		{&CreateToken{Audit: audit, ID: "tkother", Name: "second-bootstrap", Hash: h("o"), Bootstrap: true}, store.ErrAuthBootstrapped},
		{&CreateToken{Audit: audit, ID: "tkroot", Name: "dup", Hash: h("r")}, store.ErrTokenExists},
		{&CreateToken{Audit: audit, ID: "tked", Name: "ed", Hash: h("e"), ExpiresAt: 1_800_000_000_000_000_000,
			Bindings: []api.RoleBinding{{ID: "rb-ed", Role: api.RoleEditor, Namespace: "pay", SubjectKind: api.SubjectToken, Subject: "tked"}}}, nil},
		{&Bind{Audit: audit, Binding: api.RoleBinding{ID: "rb-ed2", Role: api.RoleEditor, Namespace: "pay", SubjectKind: api.SubjectToken, Subject: "tked"}}, store.ErrBindingExists},
		{&Bind{Audit: audit, Binding: api.RoleBinding{ID: "rb-ghost", Role: api.RoleViewer, SubjectKind: api.SubjectToken, Subject: "tkghost"}}, store.ErrTokenNotFound},
		{&Bind{Audit: audit, Binding: api.RoleBinding{ID: "rb-grp", Role: api.RoleViewer, Namespace: "pay", SubjectKind: api.SubjectOIDCGroup, Subject: "pay-eng"}}, nil},
		{&Bind{Audit: audit, Binding: api.RoleBinding{ID: "rb-grp", Role: api.RoleAdmin, SubjectKind: api.SubjectOIDCGroup, Subject: "x"}}, store.ErrBindingExists},
		{&RevokeToken{Audit: audit, ID: "tked"}, nil},
		{&RevokeToken{Audit: audit, ID: "tked"}, store.ErrTokenRevoked},
		{&RevokeToken{Audit: audit, ID: "tknone"}, store.ErrTokenNotFound},
		{&Unbind{Audit: audit, ID: "rb-grp"}, nil},
		{&Unbind{Audit: audit, ID: "rb-grp"}, store.ErrBindingNotFound},
	}
	var data [][]byte
	var errs []error
	for _, s := range steps {
		b, err := Encode(s.cmd)
		if err != nil {
			t.Fatal(err)
		}
		data, errs = append(data, b), append(errs, s.err)
	}
	return data, errs
}

func TestFSM_AuthCommands(t *testing.T) {
	f, s := mustNewFSM(t)
	data, wantErrs := authScript(t)
	for i, r := range f.ApplyBatch(logs(data, 1)) {
		got := r.(*Result)
		if want := wantErrs[i]; (want == nil) != (got.Err == nil) || (want != nil && !errors.Is(got.Err, want)) {
			t.Fatalf("entry %d: err %v, want %v", i+1, got.Err, want)
		}
	}
	v := s.View()
	if !v.AuthBootstrapped() {
		t.Fatal("not bootstrapped")
	}
	root, ok := v.Token("tkroot")
	if !ok || string(root.Hash) != strings.Repeat("r", 32) || root.CreatedBy != "alice" || root.Revoked {
		t.Fatalf("root token %+v", root)
	}
	ed, _ := v.Token("tked")
	if !ed.Revoked || ed.RevokedBy != "alice" || ed.ModifyRevision != 9 || ed.ExpiresAt == nil {
		t.Fatalf("ed token %+v; want revoked at 9 with its expiry", ed)
	}
	if _, ok := v.Token("tkother"); ok {
		t.Fatal("the second bootstrap created a token")
	}
	var ids []string
	for _, b := range v.Bindings() {
		ids = append(ids, b.ID)
	}
	if got := strings.Join(ids, ","); got != "rb-ed,rb-root" {
		t.Fatalf("bindings %s; want rb-ed,rb-root", got)
	}
	// The history records each change with its principal and reason.
	evs, _, err := s.History(api.KindToken, "", "tked", 0, 10)
	if err != nil || len(evs) != 2 || evs[0].Op != api.OpRevoke || evs[1].Op != api.OpCreate || evs[0].Principal != "alice" || evs[0].Reason != "test" {
		t.Fatalf("history of tked = %+v, %v", evs, err)
	}
	evs, _, err = s.History(api.KindBinding, "", "rb-grp", 0, 10)
	if err != nil || len(evs) != 2 || evs[0].Op != api.OpDelete || evs[0].Revision != 12 {
		t.Fatalf("history of rb-grp = %+v, %v", evs, err)
	}
}

// dumpAuth renders the auth state for comparison.
func dumpAuth(s *store.Store) string {
	v := s.View()
	var b strings.Builder
	fmt.Fprintf(&b, "applied %d bootstrapped %v\n", v.Revision(), v.AuthBootstrapped())
	for _, tk := range v.Tokens() {
		j, _ := json.Marshal(tk)
		fmt.Fprintf(&b, "token %s\n", j)
	}
	for _, rb := range v.Bindings() {
		j, _ := json.Marshal(rb)
		fmt.Fprintf(&b, "binding %s\n", j)
	}
	return b.String()
}

// TestFSM_AuthStateSurvivesReopenAndSnapshot: load rebuilds tokens and
// bindings from bbolt, and a snapshot (a copy of the file) carries them.
func TestFSM_AuthStateSurvivesReopenAndSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	s, err := store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	f := New(s, nil)
	data, _ := authScript(t)
	f.ApplyBatch(logs(data, 1))
	want := dumpAuth(s)
	if !strings.Contains(want, "rb-root") {
		t.Fatalf("nothing to compare:\n%s", want)
	}

	snaps, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 1, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink, err := snaps.Create(raft.SnapshotVersionMax, s.Applied(), 1, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := dumpAuth(s); got != want {
		t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
	}
	list, _ := snaps.List()
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	f2, s2 := mustNewFSM(t)
	if err := f2.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if got := dumpAuth(s2); got != want {
		t.Fatalf("after restore:\n%s\nwant:\n%s", got, want)
	}
}
