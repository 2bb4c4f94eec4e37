// What the signed-in user may do, from GET /v1/whoami: the same rule as the
// server's auth.Authorize (roles admin ⊇ editor ⊇ viewer, bound globally or
// to one namespace). The UI only hides what would be refused; the server
// still decides every request.

const LEVEL = { viewer: 1, editor: 2, admin: 3 };
const NEED = { read: 1, write: 2, manage: 3, cluster_read: 1, cluster_admin: 3 };
const NAMESPACED = new Set(['read', 'write', 'manage']);

/**
 * Access answers may(action, ns) for a whoami answer. A dev-mode server
 * (kind "dev") has no authentication: everything is allowed. Without an
 * answer nothing is known and nothing is hidden.
 */
export class Access {
  constructor(who) {
    this.who = who || null;
    this.open = !who || who.kind === 'dev';
  }

  /** may reports whether a binding grants action (in namespace ns). */
  may(action, ns = '') {
    if (this.open) return true;
    const need = NEED[action];
    if (!need) return false;
    return (this.who.bindings || []).some((b) => (LEVEL[b.role] || 0) >= need
      && (!b.namespace || (NAMESPACED.has(action) && b.namespace === ns)));
  }

  /** mayAdminSome reports whether the user is admin of any namespace (or globally). */
  mayAdminSome() {
    return this.open || (this.who.bindings || []).some((b) => b.role === 'admin');
  }

  /** summary names the user's roles, e.g. "viewer of team, admin (global)". */
  summary() {
    if (this.open) return '';
    const bs = this.who.bindings || [];
    if (!bs.length) return 'no roles';
    return bs.map((b) => `${b.role} ${b.namespace ? `of ${b.namespace}` : '(global)'}`).join(', ');
  }
}
