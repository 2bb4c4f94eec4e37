// The schemakv web UI: a hash router and one function per view. Each view
// renders into <main> and may return a cleanup function (stopping its live
// watch or polling) that runs when the user leaves it.

import { session, request, get, watch, ApiError } from './api.js';
import { h, fill, fmtTime, enc, encKey, message } from './dom.js';
import { sideBySide, canonical } from './diff.js';
import { SchemaForm, jsonSyntaxError } from './form.js';
import { closedReport } from './closed.js';
import { Access } from './roles.js';
import { tokensView, bindingsView } from './admin.js';
import * as oidc from './oidc.js';

const main = document.getElementById('main');
const liveEl = document.getElementById('live');
let cleanup = null;
let renderSeq = 0;
// access is what the signed-in user may do (GET /v1/whoami); null until read.
let access = null;
// signInFailure is why the last OIDC sign-in failed, shown once by the
// sign-in page.
let signInFailure = null;
const EXPIRED = 'Your session expired: sign in again.';

// ---- shared pieces -------------------------------------------------------

function title(text, ...crumbs) {
  document.title = `${text} · schemakv`;
  return [crumbs.length ? h('p', { class: 'crumbs' }, crumbs.map(([label, href]) => [h('a', { href }, label), ' › '])) : null,
    h('h1', {}, text)];
}

/** errorBox shows an API error with its code and every detail. */
function errorBox(err, lead) {
  if (!(err instanceof ApiError)) return message('error', `${lead ? lead + ': ' : ''}${err.message || err}`);
  if (err.status === 401 && session.expired) return message('error', `${lead ? lead + ': ' : ''}${EXPIRED}`);
  const details = [...err.details, ...err.items.flatMap((i) => i.details || [{ pointer: `#${i.index}`, message: i.message }])];
  return h('div', { class: 'msg msg-error', role: 'alert', 'data-code': err.code },
    `${lead ? lead + ': ' : ''}${err.message} (${err.code}, HTTP ${err.status})`,
    details.length ? h('ul', {}, details.map((d) => h('li', {}, h('code', {}, d.pointer || '/'), ' ', d.message))) : null);
}

function setLive(state) {
  // Progress messages repeat "live" every few seconds: announce changes only.
  if (liveEl.dataset.state === state) return;
  liveEl.dataset.state = state;
  liveEl.textContent = { live: 'Live', reconnecting: 'Reconnecting…', stale: 'Out of date: reload', stopped: '' }[state] ?? '';
}

/** follow starts a watch for the current view and reports its state. */
function follow(watches, from, onEvents) {
  // A stopped watch may still report its end after the next view started
  // its own: only the current one sets the indicator.
  let active = true;
  setLive('reconnecting');
  const stop = watch(watches, from, onEvents, (state) => { if (active) setLive(state); });
  return () => { active = false; stop(); setLive('stopped'); };
}

function pinLabel(e) {
  return e.schema ? `${e.schema}@${e.schema_version}` : '';
}

function configHref(ns, key) { return `#/ns/${enc(ns)}/config/${encKey(key)}`; }
function historyHref(ns, key) { return `#/ns/${enc(ns)}/history/${encKey(key)}`; }
function schemaHref(ns, name) { return `#/ns/${enc(ns)}/schemas/${enc(name)}`; }
const nsPath = (ns) => `/v1/namespaces/${enc(ns)}`;

/** confirmButton asks again inline (no modal dialog) before acting. */
function confirmButton(label, question, act, extra = () => null) {
  const box = h('span', { class: 'confirm' });
  const start = h('button', { type: 'button', class: 'danger', onclick: () => {
    const yes = h('button', { type: 'button', class: 'danger', onclick: () => act(box) }, `Yes, ${label.toLowerCase()}`);
    fill(box, h('span', { role: 'alert' }, question, ' '), extra(), yes, ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => fill(box, start) }, 'Cancel'));
    yes.focus();
  } }, label);
  box.append(start);
  return box;
}

// ---- sign-in -------------------------------------------------------------

async function signInView(params) {
  const notice = session.takeNotice();
  const failure = signInFailure;
  signInFailure = null;
  const tokenIn = h('input', { id: 'token', type: 'password', autocomplete: 'off', 'aria-describedby': 'token-hint' });
  const nameIn = h('input', { id: 'principal', type: 'text', autocomplete: 'username', value: session.principal, 'aria-describedby': 'principal-hint' });
  const out = h('div', {});
  const form = h('form', { class: 'panel signin', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    session.signIn(tokenIn.value.trim(), nameIn.value.trim());
    try {
      // A server with authentication knows who the token is: the typed
      // name is then not sent (the server records the token's identity).
      try {
        const who = (await get('/v1/whoami')).data || {};
        if (who.kind && who.kind !== 'dev') session.signIn(tokenIn.value.trim(), '');
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 404) throw err;
      }
      await get('/v1/namespaces');
      await refreshWho();
      location.hash = params.next || '#/';
    } catch (err) {
      session.signOut();
      fill(out, errorBox(err, 'Sign-in failed'));
      tokenIn.focus();
    }
  } },
  h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), tokenIn,
    h('p', { class: 'hint', id: 'token-hint' }, 'Paste a token issued by your administrator. It is kept only in this tab and sent as a Bearer token. Leave it empty if the server has no authentication.')),
  h('div', { class: 'field' }, h('label', { for: 'principal' }, 'Your name (optional)'), nameIn,
    h('p', { class: 'hint', id: 'principal-hint' }, 'Recorded in history as who made a change, when the server takes it from the request.')),
  h('button', { type: 'submit' }, 'Sign in'), out);
  const sso = h('div', {});
  fill(main, title('Sign in'),
    notice ? h('p', { class: 'msg msg-info', role: 'status', id: 'signin-notice' }, notice) : null,
    failure ? h('div', { id: 'signin-error' }, failure instanceof ApiError ? errorBox(failure, 'Sign-in failed') : message('error', failure.message)) : null,
    h('div', { class: 'signin-ways' }, sso, form));
  tokenIn.focus();
  // Single sign-on, when the server has an OIDC issuer.
  let p;
  try { p = await oidc.params(); } catch (err) {
    // 404: a server without the route. Anything else: say why, keep the token form.
    if (!(err instanceof ApiError) || err.status !== 404) fill(sso, h('section', { class: 'panel' }, errorBox(err, 'Single sign-on is unavailable')));
    return;
  }
  if (!p.enabled) return;
  const name = oidc.providerName(p);
  const out2 = h('div', {});
  const button = h('button', { type: 'button', id: 'oidc-signin', 'aria-describedby': 'oidc-hint', onclick: async () => {
    button.disabled = true;
    try { await oidc.start(p, params.next); } catch (err) { button.disabled = false; fill(out2, errorBox(err, 'Cannot start the sign-in')); }
  } }, `Sign in with ${name}`);
  fill(sso, h('section', { class: 'panel signin-oidc', 'aria-labelledby': 'oidc-title' },
    h('h2', { id: 'oidc-title' }, 'Single sign-on'), button,
    h('p', { class: 'hint', id: 'oidc-hint' }, `You go to ${name} to sign in and come back here.`), out2));
  // The button takes the focus unless the user is already typing a token.
  if (document.activeElement === tokenIn && !tokenIn.value) button.focus();
}

async function refreshWho() {
  const who = document.getElementById('who');
  document.getElementById('signout').hidden = !session.signedIn;
  if (!session.signedIn) { who.textContent = ''; access = null; showNav(); return; }
  let name = session.principal || (session.token ? 'token' : 'anonymous');
  let d = null;
  try {
    d = (await get('/v1/whoami')).data || {};
    // api.WhoAmI: a dev-mode server answers kind "dev" with the audit name
    // taken from X-Schemakv-Principal.
    name = d.name || d.subject || d.audit || name;
  } catch { /* no whoami route on this server */ }
  access = new Access(d);
  const roles = access.summary();
  who.textContent = `Signed in as ${name}${roles ? ` (${roles})` : ''}`;
  showNav();
}

/** showNav hides the navigation the user's roles do not allow. */
function showNav() {
  for (const a of document.querySelectorAll('[data-need]')) {
    a.closest('li').hidden = !access || !access.may(a.dataset.need);
  }
}

/** may asks the signed-in user's access; unknown access hides nothing. */
function may(action, ns) { return !access || access.may(action, ns); }

// ---- namespaces ----------------------------------------------------------

const COUNT_LIMIT = 100;

async function namespacesView() {
  const list = h('div', { class: 'table-wrap' });
  const status = h('div', {});
  const load = async () => {
    const r = await get('/v1/namespaces');
    if (!r.data.items.length) { fill(list, h('p', {}, 'No namespaces yet: create the first one below.')); return; }
    // The list has no counts; each namespace's own answer has them. Past
    // COUNT_LIMIT namespaces the page shows the list without them.
    const rows = r.data.items.length > COUNT_LIMIT ? r.data.items : await Promise.all(r.data.items.map(async (n) => {
      try { return (await get(nsPath(n.name))).data; } catch { return n; }
    }));
    fill(list, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Namespaces'),
      h('thead', {}, h('tr', {}, ['Name', 'Description', 'Configs', 'Schemas', 'Created', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((n) => h('tr', { 'data-ns': n.name },
        h('td', {}, h('a', { href: `#/ns/${enc(n.name)}` }, n.name)),
        h('td', {}, n.description || ''),
        h('td', {}, String(n.config_count ?? '')),
        h('td', {}, String(n.schema_count ?? '')),
        h('td', {}, fmtTime(n.created_at), n.created_by ? ` by ${n.created_by}` : ''),
        h('td', {}, may('manage', n.name) ? deleteNamespaceButton(n, load, status) : null))))));
  };
  const nameIn = h('input', { id: 'ns-name', type: 'text', autocomplete: 'off', 'aria-describedby': 'ns-name-hint', 'aria-required': 'true' });
  const descIn = h('input', { id: 'ns-desc', type: 'text', autocomplete: 'off' });
  const reasonIn = h('input', { id: 'ns-reason', type: 'text', autocomplete: 'off' });
  const out = h('div', {});
  const form = h('form', { novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await request('PUT', nsPath(nameIn.value.trim()), { body: { description: descIn.value, reason: reasonIn.value } });
      fill(out, message('ok', `Namespace ${nameIn.value.trim()} created.`));
      form.reset();
      await load();
    } catch (err) { fill(out, errorBox(err, 'Not created')); nameIn.focus(); }
  } },
  h('div', { class: 'row' },
    h('div', { class: 'field' }, h('label', { for: 'ns-name' }, 'Name', h('span', { class: 'req', title: 'required' }, ' *')), nameIn,
      h('p', { class: 'hint', id: 'ns-name-hint' }, 'lowercase letters, digits and -, at most 63')),
    h('div', { class: 'field' }, h('label', { for: 'ns-desc' }, 'Description'), descIn),
    h('div', { class: 'field' }, h('label', { for: 'ns-reason' }, 'Reason'), reasonIn),
    h('div', { class: 'field field-action' }, h('button', { type: 'submit' }, 'Create namespace'))), out);
  // Creating a namespace needs admin of it: only an admin sees the form.
  fill(main, title('Namespaces'), status, list, !access || access.mayAdminSome() ? h('section', { class: 'panel', 'aria-labelledby': 'ns-create' },
    h('h2', { id: 'ns-create' }, 'Create a namespace'), form) : null);
  await load();
}

function deleteNamespaceButton(n, reload, status) {
  const counted = n.config_count !== undefined;
  const nonEmpty = !counted || n.config_count + n.schema_count > 0;
  let force;
  return confirmButton('Delete', `Delete namespace ${n.name}?`, async () => {
    try {
      await request('DELETE', nsPath(n.name), { query: { force: force?.checked ? 'true' : '' } });
      fill(status, message('ok', `Namespace ${n.name} deleted.`));
      await reload();
    } catch (err) { fill(status, errorBox(err, `${n.name} not deleted`)); }
  }, () => {
    if (!nonEmpty) return null;
    force = h('input', { type: 'checkbox', id: `force-${n.name}` });
    return h('span', {}, force, h('label', { for: `force-${n.name}` },
      counted ? ` also its ${n.config_count} config(s) and ${n.schema_count} schema(s)` : ' also everything in it'), ' ');
  });
}

// ---- one namespace: configs and schemas -----------------------------------

async function namespaceView({ ns }, query) {
  const r = await get(nsPath(ns));
  const n = r.data;
  const prefixIn = h('input', { id: 'cfg-prefix', type: 'search', value: query.get('prefix') || '', autocomplete: 'off' });
  const whereIn = h('textarea', { id: 'cfg-where', class: 'code', rows: 2, spellcheck: 'false', value: query.getAll('where').join('\n'), 'aria-describedby': 'cfg-where-hint' });
  const scanIn = h('input', { id: 'cfg-scan', type: 'checkbox', checked: query.get('allow_scan') === 'true' });
  const planEl = h('p', { class: 'hint', id: 'cfg-plan', 'aria-live': 'polite' });
  // Enter runs the query; Shift+Enter starts another clause.
  whereIn.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); whereIn.form.requestSubmit(); }
  });
  const table = h('div', { class: 'table-wrap', 'aria-live': 'polite' });
  const more = h('div', {});
  let after = '';
  let revision = 0;
  const loadConfigs = async (append) => {
    try {
      const where = whereIn.value.split('\n').map((x) => x.trim()).filter(Boolean);
      const res = await get(`${nsPath(ns)}/configs`, {
        prefix: prefixIn.value, where, allow_scan: where.length && scanIn.checked ? 'true' : '',
        after: append ? after : '', limit: 100,
      });
      planEl.textContent = res.data.plan ? `Answered by ${res.data.plan === 'scan' ? 'a scan' : res.data.plan}, ${res.data.examined ?? 0} entries examined.` : '';
      revision = Math.max(revision, res.data.revision);
      after = res.data.next || '';
      const rows = res.data.items.map((e) => h('tr', { 'data-key': e.key },
        h('td', {}, h('a', { href: configHref(ns, e.key) }, e.key)),
        h('td', {}, pinLabel(e)),
        h('td', {}, String(e.modify_revision)),
        h('td', {}, e.modified_by || ''),
        h('td', {}, fmtTime(e.modified_at)),
        h('td', {}, e.reason || '')));
      if (append) table.querySelector('tbody').append(...rows);
      else {
        fill(table, rows.length ? h('table', {},
          h('caption', { class: 'visually-hidden' }, `Configs in ${ns}`),
          h('thead', {}, h('tr', {}, ['Key', 'Schema', 'Revision', 'Changed by', 'When', 'Why'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows)) : h('p', {}, 'No configs match.'));
      }
      fill(more, after ? h('button', { type: 'button', class: 'secondary', onclick: () => loadConfigs(true) }, 'More') : null);
    } catch (err) { planEl.textContent = ''; fill(table, errorBox(err, 'Cannot list configs')); }
  };
  const filter = h('form', { class: 'inline', role: 'search', novalidate: true, onsubmit: (ev) => { ev.preventDefault(); loadConfigs(false); } },
    h('div', { class: 'field' }, h('label', { for: 'cfg-prefix' }, 'Key prefix'), prefixIn),
    h('div', { class: 'field' }, h('label', { for: 'cfg-where' }, 'Where'), whereIn,
      h('p', { class: 'hint', id: 'cfg-where-hint' }, 'one clause per line, all must hold: owner.team==payments, limits.max_rps>=100, region=in=(eu,us), exists(owner.oncall)')),
    h('div', { class: 'field field-action' }, h('span', {}, scanIn, h('label', { for: 'cfg-scan' }, ' scan without an index'))),
    h('div', { class: 'field field-action' }, h('button', { type: 'submit' }, 'Filter')), planEl);
  const schemas = h('div', { class: 'table-wrap' });
  const loadSchemas = async () => {
    const res = await get(`${nsPath(ns)}/schemas`);
    fill(schemas, res.data.items.length ? h('table', {},
      h('caption', { class: 'visually-hidden' }, `Schemas in ${ns}`),
      h('thead', {}, h('tr', {}, ['Name', 'Latest', 'Versions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, res.data.items.map((s) => h('tr', {},
        h('td', {}, h('a', { href: schemaHref(ns, s.name) }, s.name)),
        h('td', {}, `v${s.latest_version}`),
        h('td', {}, s.versions.join(', '))))))
      : h('p', {}, 'No schemas yet.'));
  };
  fill(main, title(ns, ['Namespaces', '#/']), n.description ? h('p', {}, n.description) : null,
    h('div', { class: 'grid2 wide-left' },
      h('section', { class: 'panel', 'aria-labelledby': 'h-configs' },
        h('h2', { id: 'h-configs' }, 'Configs'),
        may('write', ns) ? h('p', {}, h('a', { href: `#/ns/${enc(ns)}/new-config`, id: 'new-config' }, 'New config')) : null,
        filter, table, more),
      h('section', { class: 'panel', 'aria-labelledby': 'h-schemas' },
        h('h2', { id: 'h-schemas' }, 'Schemas'),
        may('manage', ns) ? h('p', {}, h('a', { href: `#/ns/${enc(ns)}/new-schema`, id: 'new-schema' }, 'New schema')) : null,
        schemas)));
  await Promise.all([loadConfigs(false), loadSchemas()]);
  let pending = null;
  return follow([{ id: 'ns', namespace: ns, kinds: ['config', 'schema'] }], Math.max(revision, r.revision) + 1, () => {
    // Coalesce bursts (a batch, a migration) into one reload.
    clearTimeout(pending);
    pending = setTimeout(() => { loadConfigs(false); loadSchemas(); }, 100);
  });
}

// ---- schemas -------------------------------------------------------------

function schemaMeta(v) {
  return h('dl', { class: 'meta' },
    h('dt', {}, 'Version'), h('dd', {}, `v${v.version}`),
    h('dt', {}, 'Created'), h('dd', {}, `${fmtTime(v.created_at)} by ${v.created_by}`),
    v.description ? [h('dt', {}, 'Description'), h('dd', {}, v.description)] : null,
    v.reason ? [h('dt', {}, 'Reason'), h('dd', {}, v.reason)] : null);
}

function closedPanel(doc) {
  const rows = closedReport(doc);
  if (!rows.length) return h('p', { class: 'hint' }, 'No object schemas: nothing to close.');
  return h('div', {},
    h('p', { class: 'hint' }, 'Objects are closed by default: the server rejects fields a closed object does not name.'),
    h('ul', { class: 'closed-list' }, rows.map((r) => h('li', {},
      h('code', {}, r.pointer || '/'), ' ',
      h('span', { class: `tag ${r.closed ? 'good' : 'bad'}` }, r.closed ? 'closed' : 'open'), ' ', r.why))));
}

async function schemaView({ ns, name }) {
  const r = await get(`${nsPath(ns)}/schemas/${enc(name)}/versions`);
  const versions = r.data.items;
  let status = null;
  try { status = (await get(`${nsPath(ns)}/schemas/${enc(name)}/status`)).data; } catch { /* older server */ }
  const statusPanel = status ? h('section', { class: 'panel', 'aria-labelledby': 'h-status' },
    h('h2', { id: 'h-status' }, 'Versions'),
    h('p', {}, `Evolution policy: ${status.policy}`, status.policy === 'strict'
      ? ' (a new version must accept every entry pinned to the latest one)' : ' (no check of stored entries)'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'schema-status' },
      h('caption', { class: 'visually-hidden' }, `Versions of ${name}`),
      h('thead', {}, h('tr', {}, ['Version', 'Entries pinned', 'Deprecated', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, status.versions.map((sv) => {
        const v = versions.find((x) => x.version === sv.version);
        return h('tr', {}, h('td', {}, `v${sv.version}`), h('td', {}, String(sv.pins)),
          h('td', {}, sv.deprecated ? 'yes' : 'no'), h('td', {}, v ? `${fmtTime(v.created_at)} by ${v.created_by}` : ''));
      }))))) : null;
  const latest = versions[versions.length - 1];
  const pick = h('select', { id: 'schema-version' }, versions.map((v) => h('option', { value: String(v.version), selected: v === latest }, `v${v.version}`)));
  const shown = h('div', {});
  const show = () => {
    const v = versions.find((x) => String(x.version) === pick.value);
    fill(shown, schemaMeta(v), h('h3', {}, 'Closed objects'), closedPanel(v.schema), h('h3', {}, 'Document'),
      h('pre', { tabindex: '0', 'aria-label': `Schema ${name} v${v.version}` }, JSON.stringify(v.schema, null, 2)));
  };
  pick.addEventListener('change', show);
  const fromSel = h('select', { id: 'diff-from' }, versions.map((v, i) => h('option', { value: String(i), selected: i === Math.max(0, versions.length - 2) }, `v${v.version}`)));
  const toSel = h('select', { id: 'diff-to' }, versions.map((v, i) => h('option', { value: String(i), selected: i === versions.length - 1 }, `v${v.version}`)));
  const diffOut = h('div', {});
  const diff = () => {
    if (versions.length < 2) { fill(diffOut, h('p', {}, 'Only one version: nothing to compare yet.')); return; }
    const a = versions[Number(fromSel.value)], b = versions[Number(toSel.value)];
    fill(diffOut, sideBySide(`v${a.version}`, a.schema, `v${b.version}`, b.schema));
  };
  fromSel.addEventListener('change', diff);
  toSel.addEventListener('change', diff);
  fill(main, title(`Schema ${name}`, ['Namespaces', '#/'], [ns, `#/ns/${enc(ns)}`]),
    may('manage', ns) ? h('p', {}, h('a', { href: `#/ns/${enc(ns)}/schema-edit/${enc(name)}`, id: 'new-version' }, `Register version ${latest.version + 1}`)) : null,
    statusPanel,
    h('section', { class: 'panel', 'aria-labelledby': 'h-view' }, h('h2', { id: 'h-view' }, 'View a version'),
      h('div', { class: 'field' }, h('label', { for: 'schema-version' }, 'Version'), pick), shown),
    h('section', { class: 'panel', 'aria-labelledby': 'h-diff' }, h('h2', { id: 'h-diff' }, 'Compare versions'),
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: 'diff-from' }, 'From'), fromSel),
        h('div', { class: 'field' }, h('label', { for: 'diff-to' }, 'To'), toSel)), diffOut));
  show();
  diff();
}

const STARTER = `{
  "type": "object",
  "properties": {
    "enabled": {"type": "boolean"}
  },
  "required": ["enabled"]
}`;

/** checksReport renders the strict-mode check: failing entries and changes. */
function checksReport(ns, checks) {
  return h('div', { class: 'checks' }, checks.map((c) => h('div', { class: 'check' },
    h('p', { role: 'status' }, c.from
      ? `Version ${c.version} checked against ${c.checked} entr${c.checked === 1 ? 'y' : 'ies'} pinned to v${c.from} (policy ${c.policy}): ${c.failed} would fail.`
      : `Version ${c.version} is the first version: no entries to check.`),
    c.failures?.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'failures' },
      h('caption', {}, 'Entries that would fail'),
      h('thead', {}, h('tr', {}, ['Key', 'Where', 'Problem'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, c.failures.flatMap((f) => f.errors.map((e) => h('tr', {},
        h('td', {}, h('a', { href: configHref(ns, f.key) }, f.key)),
        h('td', {}, h('code', {}, e.pointer || '/')),
        h('td', {}, e.message))))))) : null,
    c.failures_omitted ? h('p', {}, `… and ${c.failures_omitted} more.`) : null,
    c.changes?.length ? [h('h3', {}, 'Changes'), h('ul', {}, c.changes.map((x) => h('li', {},
      h('code', {}, x.pointer || '/'), ' ', x.message, ' ',
      x.breaking ? h('span', { class: 'tag breaking' }, 'breaking') : null)))] : null)));
}

async function schemaEditView({ ns, name }) {
  let latest = null;
  if (name) latest = (await get(`${nsPath(ns)}/schemas/${enc(name)}`)).data;
  const nameIn = h('input', { id: 'schema-name', type: 'text', autocomplete: 'off', value: name || '', readonly: Boolean(name), 'aria-required': 'true' });
  const text = h('textarea', { id: 'schema-doc', class: 'code', rows: 18, spellcheck: 'false', 'aria-describedby': 'schema-doc-err',
    value: latest ? JSON.stringify(latest.schema, null, 2) : STARTER });
  const syntax = h('p', { id: 'schema-doc-err', class: 'field-error', 'aria-live': 'polite' });
  const closed = h('div', { 'aria-live': 'polite' });
  const descIn = h('input', { id: 'schema-desc', type: 'text', autocomplete: 'off' });
  const reasonIn = h('input', { id: 'schema-reason', type: 'text', autocomplete: 'off' });
  const out = h('div', {});
  const check = () => {
    const err = jsonSyntaxError(text.value);
    syntax.textContent = err;
    text.setAttribute('aria-invalid', String(Boolean(err)));
    if (!err && text.value.trim()) fill(closed, closedPanel(JSON.parse(text.value)));
    return !err && text.value.trim() !== '';
  };
  text.addEventListener('input', check);
  const send = async (dryRun) => {
    if (!check()) { text.focus(); fill(out, message('error', syntax.textContent || 'The schema is empty.')); return; }
    const n = nameIn.value.trim();
    try {
      const res = await request('POST', `${nsPath(ns)}/schemas/${enc(n)}`, {
        query: { dry_run: dryRun ? 'true' : '' },
        body: { schema: JSON.parse(text.value), description: descIn.value, reason: reasonIn.value },
      });
      if (dryRun) fill(out, message('ok', 'Dry run: nothing was changed.'), checksReport(ns, res.data.checks || []));
      else location.hash = schemaHref(ns, n);
    } catch (err) {
      fill(out, errorBox(err, dryRun ? 'Dry run' : 'Not registered'), err.checks.length ? checksReport(ns, err.checks) : null);
    }
  };
  fill(main, title(name ? `New version of ${name}` : 'New schema', ['Namespaces', '#/'], [ns, `#/ns/${enc(ns)}`]),
    h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); send(false); } },
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: 'schema-name' }, 'Name', h('span', { class: 'req', title: 'required' }, ' *')), nameIn),
        h('div', { class: 'field' }, h('label', { for: 'schema-desc' }, 'Description'), descIn),
        h('div', { class: 'field' }, h('label', { for: 'schema-reason' }, 'Reason'), reasonIn)),
      h('div', { class: 'grid2' },
        h('div', {}, h('label', { for: 'schema-doc' }, 'JSON Schema (draft 2020-12)'), text, syntax),
        h('section', { class: 'panel', 'aria-labelledby': 'h-closed' }, h('h2', { id: 'h-closed' }, 'Closed by default'), closed)),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', id: 'dry-run', onclick: () => send(true) }, 'Check against stored entries (dry run)'),
        h('button', { type: 'submit', id: 'register' }, latest ? `Register version ${latest.version + 1}` : 'Register version 1'))),
    out);
  check();
  (name ? text : nameIn).focus();
}

// ---- configs -------------------------------------------------------------

const schemaCache = new Map();
async function schemaDoc(ns, name, version) {
  const k = `${ns}/${name}@${version}`;
  if (!schemaCache.has(k)) {
    schemaCache.set(k, (await get(`${nsPath(ns)}/schemas/${enc(name)}/versions/${version}`)).data.schema);
  }
  return schemaCache.get(k);
}

/** errorSummary lists server errors, each linked to the field it was placed at. */
function errorSummary(err, placed) {
  return h('div', { class: 'msg msg-error', role: 'alert', 'data-code': err.code },
    `${err.message} (${err.code})`,
    h('ul', {}, placed.map((p) => h('li', {},
      h('a', { href: `#${p.controlId}`, onclick: (ev) => { ev.preventDefault(); document.getElementById(p.controlId)?.focus(); } },
        h('code', {}, p.detail.pointer || '/')), ' ', p.detail.message))));
}

async function newConfigView({ ns }) {
  const res = await get(`${nsPath(ns)}/schemas`);
  const keyIn = h('input', { id: 'cfg-key', type: 'text', autocomplete: 'off', 'aria-required': 'true', 'aria-describedby': 'cfg-key-hint' });
  const schemaSel = h('select', { id: 'cfg-schema', 'aria-required': 'true' }, res.data.items.map((s) =>
    h('option', { value: `${s.name}@${s.latest_version}` }, `${s.name}@${s.latest_version}`)));
  const reasonIn = h('input', { id: 'cfg-reason', type: 'text', autocomplete: 'off' });
  const formBox = h('div', {});
  const out = h('div', {});
  let form = null;
  const build = async () => {
    if (!schemaSel.value) { fill(formBox, h('p', {}, 'Register a schema first.')); return; }
    const [sname, ver] = schemaSel.value.split('@');
    const prev = form ? form.value().value : undefined;
    form = new SchemaForm(await schemaDoc(ns, sname, ver), prev);
    fill(formBox, form.element);
  };
  schemaSel.addEventListener('change', build);
  const submit = async (ev) => {
    ev.preventDefault();
    const v = form?.value();
    if (!v || v.error) { fill(out, message('error', v ? v.error : 'Choose a schema.')); return; }
    const key = keyIn.value.trim();
    try {
      await request('PUT', `${nsPath(ns)}/configs/${encKey(key)}`, {
        headers: { 'If-None-Match': '*' },
        body: { schema: schemaSel.value, value: v.value ?? null, reason: reasonIn.value },
      });
      location.hash = configHref(ns, key);
    } catch (err) {
      if (err.code === 'validation_failed') {
        fill(out, errorSummary(err, form.showErrors(err.details)));
        form.element.querySelector('[aria-invalid="true"]')?.focus();
      } else fill(out, errorBox(err, 'Not saved'));
    }
  };
  fill(main, title('New config', ['Namespaces', '#/'], [ns, `#/ns/${enc(ns)}`]),
    h('form', { novalidate: true, onsubmit: submit, id: 'config-form' },
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: 'cfg-key' }, 'Key', h('span', { class: 'req', title: 'required' }, ' *')), keyIn,
          h('p', { class: 'hint', id: 'cfg-key-hint' }, 'path-like, such as checkout/eu')),
        h('div', { class: 'field' }, h('label', { for: 'cfg-schema' }, 'Schema'), schemaSel)),
      out, formBox,
      h('div', { class: 'field' }, h('label', { for: 'cfg-reason' }, 'Reason for the change'), reasonIn),
      h('button', { type: 'submit', id: 'save' }, 'Create')));
  await build();
  keyIn.focus();
}

function entryMeta(e) {
  return h('dl', { class: 'meta', id: 'entry-meta' },
    h('dt', {}, 'Schema'), h('dd', {}, h('a', { href: schemaHref(e.namespace, e.schema) }, pinLabel(e))),
    h('dt', {}, 'Revision'), h('dd', { id: 'entry-revision' }, String(e.modify_revision)),
    h('dt', {}, 'Version'), h('dd', {}, String(e.version)),
    h('dt', {}, 'Changed by'), h('dd', { id: 'entry-by' }, e.modified_by || ''),
    h('dt', {}, 'When'), h('dd', {}, fmtTime(e.modified_at)),
    h('dt', {}, 'Why'), h('dd', {}, e.reason || ''));
}

async function configView({ ns, key }) {
  const path = `${nsPath(ns)}/configs/${encKey(key)}`;
  const first = await get(path);
  let current = first.data; // the entry as the server has it now (live)
  let base = first.data; // the entry the editor started from (If-Match)
  const versions = (await get(`${nsPath(ns)}/schemas/${enc(current.schema)}/versions`)).data.items.map((v) => v.version);
  const meta = h('div', {});
  const valuePre = h('pre', { id: 'current-value', tabindex: '0', 'aria-label': 'Current value' });
  const banner = h('div', { id: 'live-banner', 'aria-live': 'polite' });
  const out = h('div', { id: 'save-result' });
  const verSel = h('select', { id: 'cfg-version' }, versions.map((v) => h('option', { value: String(v), selected: v === current.schema_version }, `${current.schema}@${v}`)));
  const reasonIn = h('input', { id: 'cfg-reason', type: 'text', autocomplete: 'off' });
  const formBox = h('div', {});
  let form = null;
  const showCurrent = () => {
    fill(meta, entryMeta(current));
    valuePre.textContent = JSON.stringify(current.value, null, 2);
  };
  const build = async (value) => {
    form = new SchemaForm(await schemaDoc(ns, current.schema, verSel.value), value);
    fill(formBox, form.element);
  };
  const dirty = () => {
    const v = form?.value();
    return !v || v.error || JSON.stringify(canonical(v.value)) !== JSON.stringify(canonical(base.value));
  };
  verSel.addEventListener('change', () => build(form?.value().value));
  const save = async (ev) => {
    ev?.preventDefault();
    const v = form.value();
    if (v.error) { fill(out, message('error', v.error)); return; }
    try {
      const res = await request('PUT', path, {
        headers: { 'If-Match': `"${base.modify_revision}"` },
        body: { schema: `${current.schema}@${verSel.value}`, value: v.value ?? null, reason: reasonIn.value },
      });
      base = res.data;
      if (res.data.modify_revision >= current.modify_revision) current = res.data;
      showCurrent();
      form.clearErrors();
      fill(banner);
      reasonIn.value = '';
      fill(out, message('ok', `Saved as revision ${res.data.modify_revision}.`));
    } catch (err) {
      if (err.code === 'validation_failed') {
        fill(out, errorSummary(err, form.showErrors(err.details)));
        form.element.querySelector('[aria-invalid="true"]')?.focus();
      } else if (err.code === 'revision_mismatch') await conflict(v.value);
      else fill(out, errorBox(err, 'Not saved'));
    }
  };
  // conflict shows what changed under the editor instead of overwriting it.
  const conflict = async (mine) => {
    let theirs;
    try { theirs = (await get(path)).data; } catch (err) { fill(out, errorBox(err, 'Changed concurrently, and cannot be read')); return; }
    current = theirs;
    showCurrent();
    fill(out, h('div', { class: 'msg msg-error', role: 'alert', id: 'conflict', 'data-code': 'revision_mismatch' },
      `Not saved: this entry changed while you were editing. You started from revision ${base.modify_revision}; it is now at revision ${theirs.modify_revision}, changed by ${theirs.modified_by || 'someone'}${theirs.reason ? ` (${theirs.reason})` : ''} at ${fmtTime(theirs.modified_at)}.`,
      sideBySide(`Theirs (revision ${theirs.modify_revision})`, theirs.value, 'Yours (not saved)', mine),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', id: 'take-theirs', onclick: () => {
          base = theirs; build(theirs.value); fill(out, message('info', `Editing revision ${theirs.modify_revision}.`));
        } }, 'Discard mine, edit theirs'),
        h('button', { type: 'button', id: 'keep-mine', onclick: () => {
          base = theirs; fill(out, message('info', `Your version will replace revision ${theirs.modify_revision}: press Save.`));
        } }, 'Keep mine over theirs'))));
  };
  // deleteEntryButton deletes through compare-and-set too: a change made
  // since the page showed the entry stops the delete.
  function deleteEntryButton() {
    let reasonIn;
    const res = h('div', {});
    return h('div', {}, confirmButton('Delete entry', `Delete ${key}? History keeps its revisions.`, async () => {
      try {
        await request('DELETE', path, { headers: { 'If-Match': `"${current.modify_revision}"`, 'X-Schemakv-Reason': reasonIn.value } });
        location.hash = `#/ns/${enc(ns)}`;
      } catch (err) { fill(res, errorBox(err, 'Not deleted')); }
    }, () => {
      reasonIn = h('input', { type: 'text', id: 'delete-reason', autocomplete: 'off' });
      return h('span', {}, h('label', { for: 'delete-reason' }, 'Reason '), reasonIn, ' ');
    }), res);
  }
  fill(main, title(key, ['Namespaces', '#/'], [ns, `#/ns/${enc(ns)}`]),
    h('p', {}, h('a', { href: historyHref(ns, key), id: 'history-link' }, 'History, diff and rollback')),
    banner,
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', 'aria-labelledby': 'h-current' }, h('h2', { id: 'h-current' }, 'Current'), meta, valuePre),
      !may('write', ns) ? h('section', { class: 'panel', 'aria-labelledby': 'h-edit' }, h('h2', { id: 'h-edit' }, 'Edit'),
        h('p', { id: 'read-only' }, `Read only: changing entries in ${ns} needs the editor role.`)) : h('section', { class: 'panel', 'aria-labelledby': 'h-edit' }, h('h2', { id: 'h-edit' }, 'Edit'),
        h('form', { novalidate: true, onsubmit: save, id: 'config-form' },
          h('div', { class: 'field' }, h('label', { for: 'cfg-version' }, 'Schema version'), verSel),
          formBox,
          h('div', { class: 'field' }, h('label', { for: 'cfg-reason' }, 'Reason for the change'), reasonIn),
          h('button', { type: 'submit', id: 'save' }, 'Save'), out),
        h('h3', {}, 'Delete'),
        deleteEntryButton())));
  showCurrent();
  await build(base.value);
  return follow([{ id: 'entry', namespace: ns, key }], first.data.modify_revision + 1, (m) => {
    for (const e of m.events) {
      if (e.kind !== 'config' || e.key !== key) continue;
      if (e.op === 'delete') {
        fill(banner, message('info', `Deleted at revision ${e.revision} by ${e.principal}.`));
        continue;
      }
      const wasClean = !dirty();
      current = { ...current, value: e.value, schema: e.schema, schema_version: e.schema_version, modify_revision: e.revision,
        version: e.version, modified_by: e.principal, modified_at: e.time, reason: e.reason };
      showCurrent();
      if (e.revision === base.modify_revision) continue; // our own save
      if (wasClean) {
        base = current;
        verSel.value = String(current.schema_version);
        build(current.value);
        fill(out);
        fill(banner, message('info', `Updated live: revision ${e.revision} by ${e.principal}${e.reason ? ` (${e.reason})` : ''}.`));
      } else {
        fill(banner, message('info', `Changed at revision ${e.revision} by ${e.principal} while you were editing. Saving will show both versions.`));
      }
    }
  });
}

// ---- history -------------------------------------------------------------

async function historyView({ ns, key }) {
  const path = `${nsPath(ns)}/history/${encKey(key)}`;
  let items = [];
  let next = 0;
  let revision = 0;
  const tableBox = h('div', { class: 'table-wrap' });
  const diffBox = h('div', { id: 'diff-out' });
  const out = h('div', { id: 'rollback-result' });
  const load = async () => {
    const res = await get(path, { limit: 100 });
    items = res.data.items;
    next = res.data.next || 0;
    revision = Math.max(revision, res.data.revision || res.revision);
    render();
  };
  const older = async () => {
    const res = await get(path, { limit: 100, before: next });
    items = items.concat(res.data.items);
    next = res.data.next || 0;
    render();
  };
  const render = () => {
    const latest = items.find((e) => e.op !== 'delete');
    fill(tableBox, h('table', { id: 'history' },
      h('caption', { class: 'visually-hidden' }, `History of ${key}, newest first`),
      h('thead', {}, h('tr', {}, ['From', 'To', 'Revision', 'Change', 'Schema', 'Who', 'When', 'Why', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, items.map((e, i) => h('tr', { 'data-revision': String(e.revision) },
        h('td', {}, h('input', { type: 'radio', name: 'from', value: String(e.revision), checked: i === 1, 'aria-label': `Compare from revision ${e.revision}` })),
        h('td', {}, h('input', { type: 'radio', name: 'to', value: String(e.revision), checked: i === 0, 'aria-label': `Compare to revision ${e.revision}` })),
        h('td', {}, String(e.revision)),
        h('td', {}, e.op, e.version ? ` (v${e.version})` : '', e.rollback_of ? `, rollback to ${e.rollback_of}` : ''),
        h('td', {}, pinLabel(e)),
        h('td', {}, e.principal),
        h('td', {}, fmtTime(e.time)),
        h('td', {}, e.reason || ''),
        h('td', {}, e.op === 'delete' || e === latest || !may('write', ns) ? null : rollbackButton(e)))))),
    next ? h('button', { type: 'button', class: 'secondary', onclick: older }, 'Older') : null);
  };
  const rollbackButton = (e) => {
    let reasonIn;
    return confirmButton('Roll back', `Write revision ${e.revision}'s value again as a new revision?`, async () => {
      try {
        const res = await request('POST', `${nsPath(ns)}/rollback/${encKey(key)}`, { body: { revision: e.revision, reason: reasonIn.value } });
        fill(out, message('ok', `Rolled back to revision ${e.revision}: new revision ${res.data.modify_revision}.`));
        await load();
      } catch (err) { fill(out, errorBox(err, 'Not rolled back')); }
    }, () => {
      reasonIn = h('input', { type: 'text', id: `rb-reason-${e.revision}`, autocomplete: 'off' });
      return h('span', {}, h('label', { for: `rb-reason-${e.revision}` }, 'Reason '), reasonIn, ' ');
    });
  };
  const compare = async () => {
    const f = tableBox.querySelector('input[name=from]:checked'), t = tableBox.querySelector('input[name=to]:checked');
    if (!f || !t) { fill(diffBox, message('error', 'Choose a From and a To revision.')); return; }
    const a = items.find((e) => String(e.revision) === f.value), b = items.find((e) => String(e.revision) === t.value);
    try {
      const d = (await get(`${nsPath(ns)}/diff/${encKey(key)}`, { from: a.revision, to: b.revision })).data;
      fill(diffBox, sideBySide(`Revision ${a.revision}`, a.value, `Revision ${b.revision}`, b.value),
        d.schema_changed ? h('p', {}, `Schema changed: ${pinLabel(d.from)} → ${pinLabel(d.to)}`) : null,
        h('h3', {}, 'As JSON Patch'),
        d.patch.length ? h('ul', { id: 'patch' }, d.patch.map((p) => h('li', {}, h('code', {}, `${p.op} ${p.path}`),
          p.value !== undefined ? [' = ', h('code', {}, JSON.stringify(p.value))] : null))) : h('p', {}, 'No changes.'));
    } catch (err) { fill(diffBox, errorBox(err, 'Cannot compare')); }
  };
  fill(main, title(`History of ${key}`, ['Namespaces', '#/'], [ns, `#/ns/${enc(ns)}`], [key, configHref(ns, key)]),
    out, tableBox,
    h('section', { class: 'panel', 'aria-labelledby': 'h-compare' }, h('h2', { id: 'h-compare' }, 'Compare'),
      h('button', { type: 'button', id: 'compare', onclick: compare }, 'Compare selected revisions'), diffBox));
  await load();
  return follow([{ id: 'entry', namespace: ns, key }], revision + 1, () => { load(); });
}

// ---- cluster -------------------------------------------------------------

async function clusterView() {
  const box = h('div', { class: 'table-wrap', id: 'cluster' });
  let timer = null;
  let stopped = false;
  let first = true;
  const load = async () => {
    try {
      const d = (await get('/v1/cluster')).data;
      fill(box, h('dl', { class: 'meta' },
        h('dt', {}, 'Answered by'), h('dd', {}, d.node_id),
        h('dt', {}, 'Leader'), h('dd', {}, d.leader || 'none known'),
        h('dt', {}, 'Term'), h('dd', {}, String(d.term))),
      h('table', {},
        h('caption', { class: 'visually-hidden' }, 'Cluster members'),
        h('thead', {}, h('tr', {}, ['Member', 'Role', 'Voter', 'State', 'Reachable', 'Gossip', 'Applied', 'Lag', 'HTTP'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, d.members.map((m) => h('tr', {},
          h('td', {}, m.id, m.leader ? ' ★' : '', m.leader ? h('span', { class: 'visually-hidden' }, ' (leader)') : null),
          h('td', {}, m.role || ''), h('td', {}, m.suffrage), h('td', {}, m.state || ''),
          h('td', {}, m.reachable ? 'yes' : 'no'), h('td', {}, m.gossip),
          h('td', {}, String(m.applied_index ?? '')), h('td', {}, String(m.lag)), h('td', {}, m.http_addr || ''))))));
    } catch (err) {
      // Refused outright: the router shows "Forbidden" instead of the page.
      if (first && err instanceof ApiError && err.status === 403) throw err;
      fill(box, errorBox(err, 'Cannot read cluster status'));
    }
    first = false;
    if (!stopped) timer = setTimeout(load, 2000);
  };
  fill(main, title('Cluster'), h('p', { class: 'hint' }, 'Refreshed every 2 seconds.'), box);
  await load();
  return () => { stopped = true; clearTimeout(timer); };
}

// ---- router --------------------------------------------------------------

const routes = [
  [/^\/signin$/, signInView, 'signin'],
  [/^\/$/, namespacesView, 'namespaces'],
  [/^\/cluster$/, clusterView, 'cluster'],
  [/^\/admin\/tokens$/, () => tokensView(main, title, errorBox, confirmButton), 'tokens'],
  [/^\/admin\/bindings$/, () => bindingsView(main, title, errorBox, confirmButton), 'bindings'],
  [/^\/ns\/([^/]+)$/, (m, q) => namespaceView({ ns: m[1] }, q), 'namespaces'],
  [/^\/ns\/([^/]+)\/new-schema$/, (m) => schemaEditView({ ns: m[1] }), 'namespaces'],
  [/^\/ns\/([^/]+)\/schema-edit\/([^/]+)$/, (m) => schemaEditView({ ns: m[1], name: m[2] }), 'namespaces'],
  [/^\/ns\/([^/]+)\/schemas\/([^/]+)$/, (m) => schemaView({ ns: m[1], name: m[2] }), 'namespaces'],
  [/^\/ns\/([^/]+)\/new-config$/, (m) => newConfigView({ ns: m[1] }), 'namespaces'],
  [/^\/ns\/([^/]+)\/config\/(.+)$/, (m) => configView({ ns: m[1], key: m[2] }), 'namespaces'],
  [/^\/ns\/([^/]+)\/history\/(.+)$/, (m) => historyView({ ns: m[1], key: m[2] }), 'namespaces'],
];

async function route() {
  const seq = ++renderSeq;
  if (cleanup) { cleanup(); cleanup = null; }
  const raw = location.hash.replace(/^#/, '') || '/';
  const [pathPart, qs] = raw.split('?');
  const query = new URLSearchParams(qs || '');
  if (!session.signedIn && pathPart !== '/signin') {
    location.hash = `#/signin?next=${encodeURIComponent('#' + raw)}`;
    return;
  }
  if (session.signedIn && !access && pathPart !== '/signin') await refreshWho();
  if (seq !== renderSeq) return;
  for (const [re, view, nav] of routes) {
    const m = re.exec(pathPart);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    const args = m.map((x, i) => (i === 0 ? x : decodeURIComponent(x)));
    main.setAttribute('aria-busy', 'true');
    try {
      const c = await (view === signInView ? signInView({ next: query.get('next') }) : view(args, query));
      if (seq !== renderSeq) { if (typeof c === 'function') c(); return; }
      cleanup = typeof c === 'function' ? c : null;
    } catch (err) {
      if (seq !== renderSeq) return;
      if (err instanceof ApiError && err.status === 401) {
        if (session.expired) session.notice = EXPIRED;
        session.signOut();
        refreshWho(); // the header forgets who was signed in
        location.hash = `#/signin?next=${encodeURIComponent('#' + raw)}`;
        return;
      }
      if (err instanceof ApiError && err.status === 403) {
        // Reached anyway (a link, a typed address): the server refused.
        fill(main, title('Forbidden'), h('p', { id: 'forbidden' }, 'Your roles do not allow this page. Ask an administrator for a role binding.'), errorBox(err));
      } else fill(main, title('Cannot show this page'), errorBox(err));
    } finally {
      if (seq === renderSeq) {
        main.removeAttribute('aria-busy');
        main.dataset.view = nav;
        main.dataset.ready = String(seq);
      }
    }
    if (!main.contains(document.activeElement)) main.focus();
    return;
  }
  fill(main, title('Not found'), h('p', {}, h('a', { href: '#/' }, 'Go to the namespaces')));
}

document.getElementById('signout').addEventListener('click', () => {
  session.signOut();
  refreshWho();
  location.hash = '#/signin';
});
window.addEventListener('hashchange', route);
window.addEventListener('schemakv:roles', () => { refreshWho(); });
/** start shows the first page, completing an OIDC sign-in first if the provider just sent the browser back. */
async function start() {
  if (oidc.returning()) {
    fill(main, title('Signing in…'), h('p', { role: 'status' }, 'Completing the sign-in…'));
    try {
      const next = await oidc.complete();
      await refreshWho();
      history.replaceState(null, '', location.pathname + next);
    } catch (err) {
      session.signOut();
      signInFailure = err;
    }
  } else if (!session.signedIn) refreshWho();
  route();
}

start();
