// Side-by-side diffs of JSON documents: both sides are pretty-printed with
// sorted keys, then compared line by line (longest common subsequence).

import { h } from './dom.js';

/** canonical returns v with object keys sorted, recursively. */
export function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical(v[k]);
    return out;
  }
  return v;
}

/** pretty prints v as stable, indented JSON ("" for undefined). */
export function pretty(v) {
  return v === undefined ? '' : JSON.stringify(canonical(v), null, 2);
}

// Lines beyond this are compared as replaced blocks rather than by LCS, to
// bound the work at MAX_LINES² cells.
const MAX_LINES = 2000;

/**
 * lineDiff compares two texts and returns rows {left, right, kind}, kind
 * being "same", "changed", "removed" (left only) or "added" (right only).
 */
export function lineDiff(a, b) {
  const A = a === '' ? [] : a.split('\n');
  const B = b === '' ? [] : b.split('\n');
  if (A.length > MAX_LINES || B.length > MAX_LINES) {
    return pair(A, B);
  }
  const n = A.length, m = B.length;
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i][j] = A[i] === B[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    }
  }
  const rows = [];
  let i = 0, j = 0, dels = [], adds = [];
  const flush = () => { rows.push(...pair(dels, adds)); dels = []; adds = []; };
  while (i < n || j < m) {
    if (i < n && j < m && A[i] === B[j]) {
      flush();
      rows.push({ left: A[i], right: B[j], kind: 'same' });
      i++; j++;
    } else if (j < m && (i >= n || L[i][j + 1] >= L[i + 1][j])) {
      adds.push(B[j++]);
    } else {
      dels.push(A[i++]);
    }
  }
  flush();
  return rows;
}

const KEY = /^\s*"((?:[^"\\]|\\.)*)":/;
const keyOf = (line) => (KEY.exec(line) || [])[1];

// pair lines removed and added at one place side by side: lines of the same
// object member face each other as a change; a member only on one side is
// a removal or an addition.
function pair(dels, adds) {
  const rows = [];
  let i = 0, j = 0;
  const laterIn = (list, from, k) => k !== undefined && list.slice(from).some((l) => keyOf(l) === k);
  while (i < dels.length && j < adds.length) {
    const kd = keyOf(dels[i]), ka = keyOf(adds[j]);
    if (kd === ka || (!laterIn(adds, j + 1, kd) && !laterIn(dels, i + 1, ka))) {
      rows.push({ left: dels[i++], right: adds[j++], kind: 'changed' });
    } else if (laterIn(adds, j + 1, kd)) {
      rows.push({ left: '', right: adds[j++], kind: 'added' });
    } else {
      rows.push({ left: dels[i++], right: '', kind: 'removed' });
    }
  }
  while (i < dels.length) rows.push({ left: dels[i++], right: '', kind: 'removed' });
  while (j < adds.length) rows.push({ left: '', right: adds[j++], kind: 'added' });
  return rows;
}

/**
 * sideBySide renders a diff table of two values with column captions.
 * Changed rows are marked with text as well as colour.
 */
export function sideBySide(leftLabel, left, rightLabel, right) {
  const rows = lineDiff(pretty(left), pretty(right));
  const changed = rows.filter((r) => r.kind !== 'same').length;
  const mark = { same: '', changed: '~', removed: '-', added: '+' };
  return h('div', { class: 'diff-wrap' },
    h('p', { class: 'diff-summary', role: 'status' },
      changed === 0 ? 'No differences.' : `${changed} line(s) differ.`),
    h('table', { class: 'diff' },
      h('caption', { class: 'visually-hidden' }, `Differences between ${leftLabel} and ${rightLabel}`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', class: 'diff-mark' }, h('span', { class: 'visually-hidden' }, 'change')),
        h('th', { scope: 'col' }, leftLabel),
        h('th', { scope: 'col' }, rightLabel))),
      h('tbody', {}, rows.map((r) => h('tr', { class: `diff-${r.kind}`, 'data-kind': r.kind },
        h('td', { class: 'diff-mark' }, mark[r.kind]),
        h('td', {}, h('code', {}, r.left)),
        h('td', {}, h('code', {}, r.right)))))));
}
