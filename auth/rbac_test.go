package auth_test

import (
	"testing"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
)

func TestAuthorize(t *testing.T) {
	tok := func(id string) auth.Principal { return auth.Principal{Kind: auth.KindToken, ID: id, Name: id} }
	user := auth.Principal{Kind: auth.KindOIDC, ID: "sub-1", Subject: "sub-1", Groups: []string{"pay-eng"}}
	bindings := []api.RoleBinding{
		{ID: "b1", Role: api.RoleAdmin, SubjectKind: api.SubjectToken, Subject: "root"},
		{ID: "b2", Role: api.RoleEditor, Namespace: "pay", SubjectKind: api.SubjectToken, Subject: "ed"},
		{ID: "b3", Role: api.RoleViewer, SubjectKind: api.SubjectToken, Subject: "gv"},
		{ID: "b4", Role: api.RoleAdmin, Namespace: "pay", SubjectKind: api.SubjectOIDCGroup, Subject: "pay-eng"},
		{ID: "b5", Role: "superuser", SubjectKind: api.SubjectToken, Subject: "odd"},
		// A token binding never matches an OIDC principal with the same id.
		{ID: "b6", Role: api.RoleAdmin, SubjectKind: api.SubjectToken, Subject: "sub-1"},
	}
	for _, tc := range []struct {
		name   string
		p      auth.Principal
		action auth.Action
		ns     string
		want   bool
	}{
		{"unauthenticated", auth.Principal{}, auth.ActionAuthenticated, "", false},
		{"any identity is authenticated", tok("nobody"), auth.ActionAuthenticated, "", true},
		{"no binding: read", tok("nobody"), auth.ActionRead, "pay", false},
		{"global admin: cluster", tok("root"), auth.ActionClusterAdmin, "", true},
		{"global admin: manage any ns", tok("root"), auth.ActionManage, "other", true},
		{"ns editor: write own", tok("ed"), auth.ActionWrite, "pay", true},
		{"ns editor: read own", tok("ed"), auth.ActionRead, "pay", true},
		{"ns editor: manage own", tok("ed"), auth.ActionManage, "pay", false},
		{"ns editor: write other", tok("ed"), auth.ActionWrite, "other", false},
		{"ns editor: cluster read", tok("ed"), auth.ActionClusterRead, "", false},
		{"global viewer: read any", tok("gv"), auth.ActionRead, "other", true},
		{"global viewer: write", tok("gv"), auth.ActionWrite, "pay", false},
		{"global viewer: cluster read", tok("gv"), auth.ActionClusterRead, "", true},
		{"global viewer: cluster admin", tok("gv"), auth.ActionClusterAdmin, "", false},
		{"oidc group admin: manage own", user, auth.ActionManage, "pay", true},
		{"oidc group admin: cluster admin", user, auth.ActionClusterAdmin, "", false},
		{"oidc group admin: other ns", user, auth.ActionRead, "other", false},
		{"unknown role grants nothing", tok("odd"), auth.ActionRead, "pay", false},
		{"namespaced action without a namespace", tok("ed"), auth.ActionWrite, "", false},
		{"unknown action", tok("root"), auth.Action("launch"), "", false},
	} {
		d := auth.Authorize(tc.p, bindings, tc.action, tc.ns)
		if d.Allowed != tc.want {
			t.Errorf("%s: Authorize(%+v, %s, %q) = %+v; want allowed=%v", tc.name, tc.p, tc.action, tc.ns, d, tc.want)
		}
	}
}

func TestTokens_HashAndValidate(t *testing.T) {
	s1, id1, h1, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	s2, id2, _, _ := auth.NewToken()
	if s1 == s2 || id1 == id2 || len(s1) != len(auth.TokenPrefix)+43 || s1[:4] != auth.TokenPrefix {
		t.Fatalf("tokens %q %q: want distinct skv_ + 43 base64url characters", s1, s2)
	}
	if id, h := auth.HashToken(s1); id != id1 || string(h) != string(h1) || len(h) != 32 {
		t.Fatalf("HashToken is not the hash NewToken stored")
	}
	for _, bad := range []string{"short", "has space in it 0123456789abcdefghij", "a.b.c-0123456789abcdefghijklmnopqrstuvwxyz"} {
		if auth.ValidateTokenSecret(bad) == nil {
			t.Errorf("ValidateTokenSecret(%q) = nil; want an error", bad)
		}
	}
	if err := auth.ValidateTokenSecret(s1); err != nil {
		t.Errorf("a generated token is invalid: %v", err)
	}
	for _, bad := range []string{"", "with:colon", "with space", string(make([]byte, 65))} {
		if auth.ValidateTokenName(bad) == nil {
			t.Errorf("ValidateTokenName(%q) = nil; want an error", bad)
		}
	}
}
