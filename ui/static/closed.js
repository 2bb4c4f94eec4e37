// What "closed by default" means for one schema document: every object
// schema, whether the server will reject fields it does not name, and why.
// It mirrors the server's closing (schema/close.go) for the common
// keywords; the server's validation stays the authority.

const COMPOSE = ['allOf', 'anyOf', 'oneOf'];

function isObjectSchema(s) {
  const t = s.type;
  return t === 'object' || (Array.isArray(t) && t.includes('object')) || (s.properties && typeof s.properties === 'object');
}

/** closedReport returns [{pointer, closed, why}] for each object schema. */
export function closedReport(doc) {
  const out = [];
  const walk = (s, ptr) => {
    if (!s || typeof s !== 'object' || Array.isArray(s)) return;
    if (isObjectSchema(s)) {
      const composed = COMPOSE.some((k) => Array.isArray(s[k])) || typeof s.$ref === 'string';
      if (s.additionalProperties === false) out.push({ pointer: ptr, closed: true, why: 'additionalProperties is false' });
      else if (s.additionalProperties === true) out.push({ pointer: ptr, closed: false, why: 'opted out: additionalProperties is true' });
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') out.push({ pointer: ptr, closed: false, why: 'other fields must match additionalProperties' });
      else if (s.unevaluatedProperties !== undefined) out.push({ pointer: ptr, closed: s.unevaluatedProperties === false, why: 'unevaluatedProperties set' });
      else out.push({ pointer: ptr, closed: true, why: composed ? 'by default (unevaluatedProperties: false, as it is composed)' : 'by default (additionalProperties: false added)' });
    }
    const esc = (k) => k.replaceAll('~', '~0').replaceAll('/', '~1');
    for (const kw of ['properties', '$defs', 'definitions', 'patternProperties']) {
      if (s[kw] && typeof s[kw] === 'object') for (const [k, v] of Object.entries(s[kw])) walk(v, `${ptr}/${kw}/${esc(k)}`);
    }
    for (const kw of ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains']) {
      if (s[kw] && typeof s[kw] === 'object') walk(s[kw], `${ptr}/${kw}`);
    }
    for (const kw of [...COMPOSE, 'prefixItems']) {
      if (Array.isArray(s[kw])) s[kw].forEach((v, i) => walk(v, `${ptr}/${kw}/${i}`));
    }
  };
  walk(doc, '');
  return out;
}
