// Small DOM helpers: build elements without innerHTML, so no value from the
// server is ever parsed as markup.

/**
 * h builds an element. attrs: plain attributes, plus `on<event>` handlers,
 * `class`, and boolean attributes (true sets, false/null/undefined omits).
 * Children: nodes, strings, numbers, arrays of them, null (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'value' && (tag === 'input' || tag === 'textarea' || tag === 'select')) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected') {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** clear removes every child of el and appends the given children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** fmtTime renders an RFC 3339 time in the user's locale. */
export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}

let uid = 0;
/** id returns a fresh element id with a readable prefix. */
export function id(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** enc encodes a path segment; keys keep their slashes. */
export function enc(s) {
  return encodeURIComponent(s);
}

export function encKey(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** message shows a status line: kind is "ok", "error" or "info". */
export function message(kind, text) {
  return h('p', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}
