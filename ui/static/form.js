// An editor generated from a JSON Schema: one labelled control per property
// (text, number, a list for enums, true/false), nested objects as fieldsets,
// and a JSON text area for anything else (arrays, compositions, $ref). A
// "Raw JSON" mode edits the whole value as text. Validation is the server's:
// its 422 details (JSON pointers) are shown at the field they belong to.

import { h, id } from './dom.js';

const UNSET = '';

function types(s) {
  if (!s || typeof s !== 'object') return [];
  if (Array.isArray(s.type)) return s.type;
  if (typeof s.type === 'string') return [s.type];
  if (s.properties) return ['object'];
  return [];
}

/** kindOf picks the control for a schema node. */
function kindOf(s) {
  if (s && Array.isArray(s.enum)) return 'enum';
  const t = types(s).filter((x) => x !== 'null');
  if (t.length === 1) {
    if (t[0] === 'object' && s.properties && !s.$ref) return 'object';
    if (['string', 'integer', 'number', 'boolean'].includes(t[0])) return t[0];
  }
  return 'json';
}

/**
 * jsonSyntaxError returns a readable message for text that is not JSON
 * (with its line and column), or "" for JSON and for empty text.
 */
export function jsonSyntaxError(text) {
  if (text.trim() === '') return '';
  try {
    JSON.parse(text);
    return '';
  } catch (err) {
    const at = firstError(text);
    const before = text.slice(0, at.pos).split('\n');
    return `JSON syntax error at line ${before.length}, column ${before[before.length - 1].length + 1}: ${at.msg}`;
  }
}

// firstError scans text as JSON and returns where and why it stops being
// JSON: browsers' JSON.parse messages do not all give a position.
function firstError(text) {
  let i = 0;
  const fail = (msg) => { throw { pos: i, msg }; };
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const lit = (word) => { if (text.startsWith(word, i)) i += word.length; else fail(`unexpected ${show()}`); };
  const show = () => (i >= text.length ? 'end of text' : `"${text[i]}"`);
  const str = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') { if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('bad \\u escape'); i += 4; }
        else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail('bad escape');
      } else if (text.charCodeAt(i) < 0x20) fail('control character in a string');
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail(`unexpected ${show()}`);
    i += m[0].length;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a member name in quotes, found ${show()}`);
        str(); ws();
        if (text[i] !== ':') fail(`expected ":", found ${show()}`);
        i++; value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail(`expected "," or "}", found ${show()}`);
      }
    } else if (c === '[') {
      i++; ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail(`expected "," or "]", found ${show()}`);
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    value(); ws();
    if (i < text.length) fail(`unexpected ${show()} after the value`);
  } catch (e) {
    if (e && typeof e.pos === 'number') return e;
    throw e;
  }
  return { pos: text.length, msg: 'not JSON' };
}

function hint(s, kind) {
  const parts = [];
  if (kind === 'integer' || kind === 'number') {
    parts.push(kind);
    if (s.minimum !== undefined || s.maximum !== undefined) {
      parts.push(`${s.minimum ?? '…'} to ${s.maximum ?? '…'}`);
    }
  } else if (kind === 'string') {
    parts.push('text');
    if (s.minLength !== undefined || s.maxLength !== undefined) parts.push(`${s.minLength ?? 0} to ${s.maxLength ?? '…'} characters`);
    if (s.pattern) parts.push(`pattern ${s.pattern}`);
  } else if (kind === 'json') {
    parts.push(`JSON${types(s).length ? ' (' + types(s).join(' or ') + ')' : ''}`);
  }
  if (s && s.description) parts.push(s.description);
  return parts.join(' · ');
}

/**
 * SchemaForm is the editor of one value against one schema.
 * element: the form's controls; value(): {value, error} (error: a syntax
 * problem that stops a save); showErrors(details): places server errors and
 * returns the ones that belong to no field.
 */
export class SchemaForm {
  constructor(schema, value) {
    this.schema = schema && typeof schema === 'object' ? schema : {};
    this.fields = new Map(); // pointer -> {wrap, control, err, read, write}
    this.raw = false;
    this.element = h('div', { class: 'schema-form' });
    this.formArea = h('div', {});
    this.rawArea = h('div', { hidden: true });
    this.rawId = id('raw');
    this.rawText = h('textarea', { id: this.rawId, class: 'code', rows: 14, spellcheck: 'false', 'aria-describedby': this.rawId + '-err' });
    this.rawErr = h('p', { id: this.rawId + '-err', class: 'field-error', 'aria-live': 'polite' });
    this.rawText.addEventListener('input', () => { this.rawErr.textContent = jsonSyntaxError(this.rawText.value); });
    this.rawArea.append(h('label', { for: this.rawId }, 'Value (raw JSON)'), this.rawText, this.rawErr);
    this.toggle = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', onclick: () => this.setRaw(!this.raw) }, 'Raw JSON');
    this.element.append(h('div', { class: 'form-tools' }, this.toggle), this.formArea, this.rawArea);
    this.setValue(value);
  }

  /** setValue replaces the editor's content with v. */
  setValue(v) {
    this.initial = v;
    this.fields.clear();
    this.formArea.replaceChildren(this.build(this.schema, '', v, true, 'Value'));
    this.rawText.value = v === undefined ? '' : JSON.stringify(v, null, 2);
    this.rawErr.textContent = '';
  }

  setRaw(on) {
    if (on === this.raw) return;
    if (on) {
      const { value } = this.formValue();
      this.rawText.value = value === undefined ? '' : JSON.stringify(value, null, 2);
      this.rawErr.textContent = '';
    } else {
      const err = jsonSyntaxError(this.rawText.value);
      if (err) { this.rawErr.textContent = err; this.rawText.focus(); return; }
      this.setValue(this.rawText.value.trim() ? JSON.parse(this.rawText.value) : undefined);
    }
    this.raw = on;
    this.formArea.hidden = on;
    this.rawArea.hidden = !on;
    this.toggle.setAttribute('aria-pressed', String(on));
    this.toggle.textContent = on ? 'Form' : 'Raw JSON';
    (on ? this.rawText : this.formArea.querySelector('input,select,textarea'))?.focus();
  }

  build(s, ptr, v, required, label) {
    const kind = kindOf(s);
    if (kind === 'object') {
      const req = new Set(Array.isArray(s.required) ? s.required : []);
      const obj = v && typeof v === 'object' && !Array.isArray(v) ? v : {};
      const kids = Object.entries(s.properties).map(([name, sub]) =>
        this.build(sub || {}, `${ptr}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`, obj[name], req.has(name), name));
      // Members the schema does not name are kept as they are (the server
      // rejects them unless the schema is open).
      const extra = Object.fromEntries(Object.entries(obj).filter(([k]) => !(k in s.properties)));
      const errId = id('err');
      const err = h('p', { id: errId, class: 'field-error', 'aria-live': 'polite' });
      const isRoot = ptr === '';
      const box = isRoot
        ? h('div', { class: 'fields', 'data-pointer': '' }, err, kids)
        : h('fieldset', { class: 'fields', 'data-pointer': ptr },
          h('legend', {}, label, required ? h('span', { class: 'req', title: 'required' }, ' *') : null), err, kids);
      const present = v !== undefined;
      this.fields.set(ptr, {
        wrap: box, control: box.querySelector('input,select,textarea'), err,
        read: () => {
          const out = { ...extra };
          let any = present;
          for (const name of Object.keys(s.properties)) {
            const f = this.fields.get(`${ptr}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`);
            const r = f.read();
            if (r.error) return r;
            if (r.value !== undefined) { out[name] = r.value; any = true; }
          }
          return { value: any || required || isRoot ? out : undefined };
        },
      });
      return box;
    }
    const cid = id('f');
    const errId = cid + '-err';
    const hintText = hint(s, kind);
    const hintId = cid + '-hint';
    const describedBy = [hintText ? hintId : '', errId].filter(Boolean).join(' ');
    let control, read;
    if (kind === 'enum') {
      control = h('select', { id: cid, 'aria-describedby': describedBy, 'aria-required': required ? 'true' : null },
        h('option', { value: UNSET }, required ? '— choose —' : '(not set)'),
        s.enum.map((e, i) => h('option', { value: String(i), selected: v !== undefined && JSON.stringify(e) === JSON.stringify(v) },
          typeof e === 'string' ? e : JSON.stringify(e))));
      read = () => ({ value: control.value === UNSET ? undefined : s.enum[Number(control.value)] });
    } else if (kind === 'boolean') {
      control = h('select', { id: cid, 'aria-describedby': describedBy, 'aria-required': required ? 'true' : null },
        h('option', { value: UNSET }, required ? '— choose —' : '(not set)'),
        h('option', { value: 'true', selected: v === true }, 'true'),
        h('option', { value: 'false', selected: v === false }, 'false'));
      read = () => ({ value: control.value === UNSET ? undefined : control.value === 'true' });
    } else if (kind === 'integer' || kind === 'number') {
      control = h('input', {
        id: cid, type: 'number', inputmode: kind === 'integer' ? 'numeric' : 'decimal',
        step: kind === 'integer' ? '1' : 'any', value: typeof v === 'number' ? String(v) : '',
        'aria-describedby': describedBy, 'aria-required': required ? 'true' : null,
      });
      read = () => {
        if (control.value === '') {
          return control.validity.badInput ? { error: `${label}: not a number` } : { value: undefined };
        }
        return { value: Number(control.value) };
      };
    } else if (kind === 'string') {
      control = h('input', {
        id: cid, type: 'text', value: typeof v === 'string' ? v : '', autocomplete: 'off',
        'aria-describedby': describedBy, 'aria-required': required ? 'true' : null,
      });
      read = () => ({ value: control.value === '' && !required ? undefined : control.value });
    } else {
      control = h('textarea', {
        id: cid, class: 'code', rows: 3, spellcheck: 'false', value: v === undefined ? '' : JSON.stringify(v, null, 2),
        'aria-describedby': describedBy, 'aria-required': required ? 'true' : null,
      });
      control.addEventListener('input', () => { err.textContent = jsonSyntaxError(control.value); });
      read = () => {
        if (control.value.trim() === '') return { value: undefined };
        const e = jsonSyntaxError(control.value);
        return e ? { error: `${label}: ${e}` } : { value: JSON.parse(control.value) };
      };
    }
    const err = h('p', { id: errId, class: 'field-error', 'aria-live': 'polite' });
    const wrap = h('div', { class: 'field', 'data-pointer': ptr },
      h('label', { for: cid }, ptr === '' ? label : label,
        required ? h('span', { class: 'req', title: 'required' }, ' *') : null,
        required ? h('span', { class: 'visually-hidden' }, ' (required)') : null),
      control,
      hintText ? h('p', { id: hintId, class: 'hint' }, hintText) : null,
      err);
    this.fields.set(ptr, { wrap, control, err, read });
    return wrap;
  }

  formValue() {
    const root = this.fields.get('');
    return root ? root.read() : { value: undefined };
  }

  /** value returns {value} or {error} (a JSON syntax problem). */
  value() {
    if (this.raw) {
      const e = jsonSyntaxError(this.rawText.value);
      if (e) return { error: e };
      return { value: this.rawText.value.trim() ? JSON.parse(this.rawText.value) : undefined };
    }
    return this.formValue();
  }

  clearErrors() {
    for (const f of this.fields.values()) {
      f.err.textContent = '';
      f.control?.removeAttribute('aria-invalid');
      f.wrap.classList.remove('invalid');
    }
    this.rawErr.textContent = '';
  }

  /** target finds the field a server error belongs to. */
  target(d) {
    let ptr = d.pointer || '';
    if (/required$/.test(d.keyword || '')) {
      for (const m of (d.message || '').matchAll(/'([^']+)'|"([^"]+)"/g)) {
        const p = `${ptr}/${(m[1] ?? m[2]).replaceAll('~', '~0').replaceAll('/', '~1')}`;
        if (this.fields.has(p)) return p;
      }
    }
    while (!this.fields.has(ptr) && ptr !== '') ptr = ptr.slice(0, ptr.lastIndexOf('/'));
    return this.fields.has(ptr) ? ptr : null;
  }

  /**
   * showErrors places each server error (api.FieldError) at its field and
   * returns [{detail, pointer}] with the field each went to (null: none).
   */
  showErrors(details) {
    this.clearErrors();
    const placed = [];
    for (const d of details) {
      const p = this.raw ? null : this.target(d);
      if (p !== null) {
        const f = this.fields.get(p);
        const line = `${d.pointer || '/'}: ${d.message}`;
        f.err.textContent = f.err.textContent ? `${f.err.textContent}\n${line}` : line;
        f.control?.setAttribute('aria-invalid', 'true');
        f.wrap.classList.add('invalid');
      }
      placed.push({ detail: d, pointer: p, controlId: p !== null ? this.fields.get(p).control?.id : this.rawId });
    }
    if (this.raw && details.length) {
      this.rawErr.textContent = details.map((d) => `${d.pointer || '/'}: ${d.message}`).join('\n');
    }
    return placed;
  }
}
