package auth

import (
	"fmt"
	"slices"

	"github.com/schemakv/schemakv/api"
)

// Action is what a route does, as far as authorisation is concerned. Every
// route of the HTTP API maps to exactly one.
type Action string

// Actions, with the role each needs.
const (
	// ActionAuthenticated needs any valid identity, no role (whoami; the
	// namespace list, which is filtered to the namespaces the principal may
	// read).
	ActionAuthenticated Action = "authenticated"
	// ActionRead reads a namespace: viewer of it (or global).
	ActionRead Action = "read"
	// ActionWrite writes configs in a namespace: editor of it (or global).
	ActionWrite Action = "write"
	// ActionManage administers a namespace — create and delete it, its
	// schemas and indexes: admin of it (or global).
	ActionManage Action = "manage"
	// ActionClusterRead reads the cluster's status and metrics: a global
	// viewer.
	ActionClusterRead Action = "cluster_read"
	// ActionClusterAdmin runs cluster operations, snapshots, tokens and
	// bindings: a global admin.
	ActionClusterAdmin Action = "cluster_admin"
)

// namespaced reports whether an action is scoped to one namespace.
func (a Action) namespaced() bool {
	return a == ActionRead || a == ActionWrite || a == ActionManage
}

// required is the lowest role level an action needs; 0 for none.
func (a Action) required() int {
	switch a {
	case ActionRead, ActionClusterRead:
		return roleLevel(api.RoleViewer)
	case ActionWrite:
		return roleLevel(api.RoleEditor)
	case ActionManage, ActionClusterAdmin:
		return roleLevel(api.RoleAdmin)
	}
	return 0
}

// roleLevel orders the roles: admin includes editor includes viewer. An
// unknown role has level 0 and grants nothing.
func roleLevel(role string) int {
	switch role {
	case api.RoleViewer:
		return 1
	case api.RoleEditor:
		return 2
	case api.RoleAdmin:
		return 3
	}
	return 0
}

// ValidRole reports whether role is admin, editor or viewer.
func ValidRole(role string) bool { return roleLevel(role) > 0 }

// ValidSubjectKind reports whether kind is a subject kind a binding can
// name.
func ValidSubjectKind(kind string) bool {
	return kind == api.SubjectToken || kind == api.SubjectOIDCUser || kind == api.SubjectOIDCGroup
}

// Decision is the answer of Authorize.
type Decision struct {
	Allowed bool
	// Reason says why, for logs and the 403 message.
	Reason string
	// Binding is the id of the binding that allowed the action.
	Binding string
}

// Matches reports whether a binding names the principal.
func Matches(b api.RoleBinding, p Principal) bool {
	switch b.SubjectKind {
	case api.SubjectToken:
		return p.Kind == KindToken && p.ID != "" && b.Subject == p.ID
	case api.SubjectOIDCUser:
		return p.Kind == KindOIDC && p.Subject != "" && b.Subject == p.Subject
	case api.SubjectOIDCGroup:
		return p.Kind == KindOIDC && b.Subject != "" && slices.Contains(p.Groups, b.Subject)
	}
	return false
}

// Authorize is the one decision function: may principal p do action in
// namespace (empty for actions that are not namespaced), given the role
// bindings? It denies unless a binding allows: a global binding of a role
// at least as strong as the action needs, or, for a namespaced action, such
// a binding scoped to that namespace. Cluster actions need a global binding.
func Authorize(p Principal, bindings []api.RoleBinding, action Action, namespace string) Decision {
	if p.Kind != KindToken && p.Kind != KindOIDC {
		return Decision{Reason: "not authenticated"}
	}
	if action == ActionAuthenticated {
		return Decision{Allowed: true, Reason: "authenticated"}
	}
	need := action.required()
	if need == 0 {
		return Decision{Reason: fmt.Sprintf("unknown action %q", action)}
	}
	if action.namespaced() && namespace == "" {
		return Decision{Reason: fmt.Sprintf("action %s needs a namespace", action)}
	}
	for _, b := range bindings {
		if !Matches(b, p) || roleLevel(b.Role) < need {
			continue
		}
		if b.Namespace == "" || (action.namespaced() && b.Namespace == namespace) {
			return Decision{Allowed: true, Binding: b.ID,
				Reason: fmt.Sprintf("binding %s grants %s %s", b.ID, b.Role, scope(b.Namespace))}
		}
	}
	if action.namespaced() {
		return Decision{Reason: fmt.Sprintf("no binding grants %s in namespace %q", action, namespace)}
	}
	return Decision{Reason: fmt.Sprintf("no global binding grants %s", action)}
}

func scope(ns string) string {
	if ns == "" {
		return "globally"
	}
	return "in namespace " + ns
}
