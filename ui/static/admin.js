// Admin pages: API tokens and role bindings. Both need a global admin; the
// server answers anyone else 403, which the router shows as "Forbidden".

import { request, get } from './api.js';
import { h, fill, fmtTime, enc, message } from './dom.js';

const ROLES = ['viewer', 'editor', 'admin'];

// rolesChanged tells the app that bindings changed: the signed-in user's
// own roles may be among them, so it reads GET /v1/whoami again.
function rolesChanged() {
  window.dispatchEvent(new Event('schemakv:roles'));
}

function field(idFor, label, control, hint) {
  return h('div', { class: 'field' }, h('label', { for: idFor }, label), control,
    hint ? h('p', { class: 'hint', id: `${idFor}-hint` }, hint) : null);
}

function roleSelect(idFor, withNone) {
  return h('select', { id: idFor }, withNone ? h('option', { value: '' }, 'none') : null,
    ROLES.map((r) => h('option', { value: r }, r)));
}

/** secretBox shows a new token's secret once, with a copy button. */
function secretBox(created) {
  const secret = h('input', { id: 'new-secret', type: 'text', readonly: true, value: created.secret, class: 'code',
    'aria-describedby': 'new-secret-warn', autocomplete: 'off', spellcheck: 'false' });
  const copied = h('span', { role: 'status', id: 'copy-status' });
  const copy = async () => {
    secret.select();
    try {
      await navigator.clipboard.writeText(created.secret);
      copied.textContent = ' Copied.';
    } catch {
      // Without clipboard permission the text stays selected for Ctrl+C.
      copied.textContent = ' Selected: press Ctrl+C (⌘C) to copy.';
    }
  };
  return h('div', { class: 'msg msg-ok', id: 'token-created' },
    h('p', {}, `Token ${created.name} created (id ${created.id})`,
      created.bindings?.length ? `, bound as ${created.bindings.map((b) => `${b.role} ${b.namespace ? `of ${b.namespace}` : '(global)'}`).join(', ')}` : ', with no role yet', '.'),
    h('p', { id: 'new-secret-warn', role: 'alert' },
      'Copy the secret now: it is shown only this once and cannot be read again. Anyone holding it acts as this token.'),
    h('div', { class: 'row' }, h('label', { for: 'new-secret' }, 'Secret'), secret,
      h('button', { type: 'button', id: 'copy-secret', onclick: copy }, 'Copy'), copied));
}

/** tokensView lists, creates and revokes API tokens. */
export async function tokensView(main, title, errorBox, confirmButton) {
  const list = h('div', { class: 'table-wrap' });
  const status = h('div', { id: 'token-status' });
  const load = async () => {
    const items = (await get('/v1/tokens')).data.items;
    fill(list, items.length ? h('table', { id: 'tokens' },
      h('caption', { class: 'visually-hidden' }, 'API tokens'),
      h('thead', {}, h('tr', {}, ['Name', 'Id', 'Created', 'Expires', 'State', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, items.map((t) => h('tr', { 'data-token': t.id },
        h('td', {}, t.name), h('td', {}, h('code', {}, t.id)),
        h('td', {}, `${fmtTime(t.created_at)} by ${t.created_by}`),
        h('td', {}, t.expires_at ? fmtTime(t.expires_at) : 'never'),
        h('td', {}, t.revoked ? `revoked ${fmtTime(t.revoked_at)} by ${t.revoked_by}` : 'active'),
        h('td', {}, t.revoked ? null : revokeButton(t))))))
      : h('p', {}, 'No tokens.'));
  };
  const revokeButton = (t) => {
    let reasonIn;
    return confirmButton('Revoke', `Revoke ${t.name}? Every request with it is refused from then on.`, async () => {
      try {
        const r = (await request('DELETE', `/v1/tokens/${enc(t.id)}`, { headers: { 'X-Schemakv-Reason': reasonIn.value } })).data;
        fill(status, h('div', { class: `msg ${r.complete ? 'msg-ok' : 'msg-error'}`, role: 'status', id: 'revoke-result' },
          `Token ${t.name} revoked at revision ${r.revision}. `,
          `Confirmed by ${r.confirmed?.length ? r.confirmed.join(', ') : 'no member'}.`,
          r.complete ? ' Every member refuses it now.'
            : ` Not yet confirmed by ${r.unconfirmed.join(', ')}: they refuse it as soon as they apply the revocation.`));
        await load();
      } catch (err) { fill(status, errorBox(err, 'Not revoked')); }
    }, () => {
      reasonIn = h('input', { type: 'text', id: `revoke-reason-${t.id}`, autocomplete: 'off' });
      return h('span', {}, h('label', { for: `revoke-reason-${t.id}` }, 'Reason '), reasonIn, ' ');
    });
  };
  const nameIn = h('input', { id: 'tk-name', type: 'text', autocomplete: 'off', 'aria-required': 'true' });
  const ttlIn = h('input', { id: 'tk-ttl', type: 'text', autocomplete: 'off', 'aria-describedby': 'tk-ttl-hint' });
  const roleIn = roleSelect('tk-role', true);
  const nsIn = h('input', { id: 'tk-ns', type: 'text', autocomplete: 'off', 'aria-describedby': 'tk-ns-hint' });
  const reasonIn = h('input', { id: 'tk-reason', type: 'text', autocomplete: 'off' });
  const out = h('div', {});
  const form = h('form', { novalidate: true, id: 'token-form', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await request('POST', '/v1/tokens', { body: { name: nameIn.value.trim(), ttl: ttlIn.value.trim(),
        role: roleIn.value, namespace: nsIn.value.trim(), reason: reasonIn.value } });
      form.reset();
      fill(out, secretBox(r.data));
      document.getElementById('new-secret').focus();
      await load();
    } catch (err) { fill(out, errorBox(err, 'Not created')); nameIn.focus(); }
  } },
  h('div', { class: 'row' },
    field('tk-name', 'Name', nameIn),
    field('tk-ttl', 'Lifetime', ttlIn, 'e.g. 720h; empty: never expires'),
    field('tk-role', 'Role', roleIn),
    field('tk-ns', 'Namespace', nsIn, 'empty: the role holds in every namespace'),
    field('tk-reason', 'Reason', reasonIn),
    h('div', { class: 'field field-action' }, h('button', { type: 'submit' }, 'Create token'))), out);
  fill(main, title('API tokens'), status, list,
    h('section', { class: 'panel', 'aria-labelledby': 'tk-create' }, h('h2', { id: 'tk-create' }, 'Create a token'), form),
    h('p', {}, h('a', { href: '#/admin/bindings' }, 'Role bindings')));
  await load();
}

/** bindingsView lists, creates and removes role bindings. */
export async function bindingsView(main, title, errorBox, confirmButton) {
  const list = h('div', { class: 'table-wrap' });
  const status = h('div', { id: 'binding-status' });
  const tokenNames = new Map();
  const load = async () => {
    const [bs, ts] = await Promise.all([get('/v1/bindings'), get('/v1/tokens')]);
    tokenNames.clear();
    for (const t of ts.data.items) tokenNames.set(t.id, t);
    fill(tokenList, ts.data.items.filter((t) => !t.revoked).map((t) => h('option', { value: t.id }, t.name)));
    const items = bs.data.items;
    fill(list, items.length ? h('table', { id: 'bindings' },
      h('caption', { class: 'visually-hidden' }, 'Role bindings'),
      h('thead', {}, h('tr', {}, ['Role', 'Scope', 'Subject', 'Created', 'Why', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, items.map((b) => h('tr', { 'data-binding': b.id },
        h('td', {}, b.role),
        h('td', {}, b.namespace ? `namespace ${b.namespace}` : 'global'),
        h('td', {}, `${b.subject_kind} `, h('code', {}, b.subject),
          b.subject_kind === 'token' && tokenNames.has(b.subject) ? ` (${tokenNames.get(b.subject).name})` : ''),
        h('td', {}, `${fmtTime(b.created_at)} by ${b.created_by}`),
        h('td', {}, b.reason || ''),
        h('td', {}, unbindButton(b))))))
      : h('p', {}, 'No bindings.'));
  };
  const unbindButton = (b) => confirmButton('Unbind', `Remove ${b.role} ${b.namespace ? `of ${b.namespace}` : '(global)'} from ${b.subject}?`, async () => {
    try {
      const r = await request('DELETE', `/v1/bindings/${enc(b.id)}`);
      fill(status, message('ok', `Binding removed at revision ${r.data.revision}.`));
      rolesChanged();
      await load();
    } catch (err) { fill(status, errorBox(err, 'Not removed')); }
  });
  const tokenList = h('datalist', { id: 'token-ids' });
  const roleIn = roleSelect('rb-role', false);
  const nsIn = h('input', { id: 'rb-ns', type: 'text', autocomplete: 'off', 'aria-describedby': 'rb-ns-hint' });
  const kindIn = h('select', { id: 'rb-kind' },
    h('option', { value: 'token' }, 'API token (by id)'),
    h('option', { value: 'oidc_user' }, 'OIDC subject (sub claim)'),
    h('option', { value: 'oidc_group' }, 'OIDC group'));
  const subjectIn = h('input', { id: 'rb-subject', type: 'text', autocomplete: 'off', list: 'token-ids', 'aria-required': 'true' });
  kindIn.addEventListener('change', () => {
    if (kindIn.value === 'token') subjectIn.setAttribute('list', 'token-ids'); else subjectIn.removeAttribute('list');
  });
  const reasonIn = h('input', { id: 'rb-reason', type: 'text', autocomplete: 'off' });
  const out = h('div', {});
  const form = h('form', { novalidate: true, id: 'binding-form', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = (await request('POST', '/v1/bindings', { body: { role: roleIn.value, namespace: nsIn.value.trim(),
        subject_kind: kindIn.value, subject: subjectIn.value.trim(), reason: reasonIn.value } })).data;
      form.reset();
      subjectIn.setAttribute('list', 'token-ids');
      rolesChanged();
      fill(out, message('ok', `Bound ${r.role} ${r.namespace ? `of ${r.namespace}` : '(global)'} to ${r.subject_kind} ${r.subject} (binding ${r.id}).`));
      await load();
    } catch (err) { fill(out, errorBox(err, 'Not bound')); }
  } },
  h('div', { class: 'row' },
    field('rb-role', 'Role', roleIn),
    field('rb-ns', 'Namespace', nsIn, 'empty: global (every namespace, and cluster pages)'),
    field('rb-kind', 'Subject kind', kindIn),
    field('rb-subject', 'Subject', subjectIn),
    field('rb-reason', 'Reason', reasonIn),
    h('div', { class: 'field field-action' }, h('button', { type: 'submit' }, 'Bind'))), tokenList, out);
  fill(main, title('Role bindings'),
    h('p', { class: 'hint' }, 'Roles: viewer reads, editor also writes configs, admin also manages namespaces and schemas; a global admin also manages tokens, bindings and the cluster.'),
    status, list,
    h('section', { class: 'panel', 'aria-labelledby': 'rb-create' }, h('h2', { id: 'rb-create' }, 'Bind a role'), form));
  await load();
}
