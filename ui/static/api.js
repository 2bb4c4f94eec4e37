// The HTTP API client of the UI. Every request carries the user's bearer
// token: the API token pasted at sign-in, or the id_token of an OIDC
// sign-in (oidc.js). It lives in sessionStorage, so it is gone when the tab
// closes.

const TOKEN = 'schemakv.token';
const PRINCIPAL = 'schemakv.principal';
const EXPIRES = 'schemakv.expires';
const NOTICE = 'schemakv.notice';

export const session = {
  get token() { return sessionStorage.getItem(TOKEN) || ''; },
  get principal() { return sessionStorage.getItem(PRINCIPAL) || ''; },
  get signedIn() { return sessionStorage.getItem(TOKEN) !== null; },
  /** expired: the session has an expiry (OIDC) and it has passed. */
  get expired() {
    const e = Date.parse(sessionStorage.getItem(EXPIRES) || '');
    return !Number.isNaN(e) && Date.now() >= e;
  },
  /** signIn keeps a token; expiresAt (RFC 3339) is set for an id_token. */
  signIn(token, principal, expiresAt) {
    sessionStorage.setItem(TOKEN, token);
    if (principal) sessionStorage.setItem(PRINCIPAL, principal);
    else sessionStorage.removeItem(PRINCIPAL);
    if (expiresAt) sessionStorage.setItem(EXPIRES, expiresAt);
    else sessionStorage.removeItem(EXPIRES);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(PRINCIPAL);
    sessionStorage.removeItem(EXPIRES);
  },
  /** notice keeps a message for the next sign-in page ("session expired"). */
  set notice(text) { sessionStorage.setItem(NOTICE, text); },
  /** takeNotice returns the kept message once. */
  takeNotice() {
    const n = sessionStorage.getItem(NOTICE) || '';
    sessionStorage.removeItem(NOTICE);
    return n;
  },
};

/** ApiError is a failed request in the API's one error shape. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.details = e.details || [];
    this.items = e.items || [];
    this.checks = e.checks || [];
    this.revision = e.revision || 0;
  }
}

function headers(extra) {
  const hd = { Accept: 'application/json', ...extra };
  if (session.token) hd.Authorization = `Bearer ${session.token}`;
  // Until authentication lands the principal recorded in history is this
  // label; with tokens the server takes it from the token.
  if (session.principal) hd['X-Schemakv-Principal'] = session.principal;
  return hd;
}

/**
 * request sends one API call. opts: body (JSON-encoded), query (object,
 * empty values dropped), headers. It resolves to {status, data, etag,
 * revision} and rejects with ApiError for any non-2xx answer.
 */
export async function request(method, path, opts = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(opts.query || {})) {
    // An array repeats the parameter (where=a&where=b).
    for (const x of Array.isArray(v) ? v : [v]) {
      if (x !== undefined && x !== null && x !== '') url.searchParams.append(k, x);
    }
  }
  const init = { method, headers: headers(opts.headers), signal: opts.signal };
  if (opts.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  const res = await fetch(url, init);
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: { code: 'bad_response', message: text.slice(0, 200) } }; }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return {
    status: res.status,
    data,
    etag: (res.headers.get('ETag') || '').replace(/^W\//, '').replaceAll('"', ''),
    revision: Number(res.headers.get('X-Schemakv-Index') || 0),
  };
}

export const get = (path, query) => request('GET', path, { query });

/**
 * watch follows watches (api.WatchSpec objects) from fromRevision on and
 * calls onEvents(message) for every "events" message. It reads NDJSON from
 * POST /v1/watch through fetch streaming and reconnects after a cut or a
 * dropped connection, resuming after the last revision seen, so nothing is
 * missed or repeated. onState("live" | "reconnecting" | "stopped") reports
 * the stream's state. It returns a function that stops it.
 */
export function watch(watches, fromRevision, onEvents, onState = () => {}) {
  const ctl = new AbortController();
  let next = fromRevision;
  let delay = 250;
  const run = async () => {
    while (!ctl.signal.aborted) {
      try {
        const res = await fetch('/v1/watch', {
          method: 'POST',
          headers: { ...headers(), 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
          body: JSON.stringify({ watches, from_revision: next, format: 'ndjson', progress: '5s' }),
          signal: ctl.signal,
        });
        if (res.status === 410) {
          // History compacted: the view must re-read; report and stop.
          onState('stale');
          return;
        }
        if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0 && !ctl.signal.aborted) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            const m = JSON.parse(line);
            if (m.type === 'events') {
              next = m.revision + 1;
              onEvents(m);
            } else if (m.type === 'progress') {
              next = Math.max(next, m.revision + 1);
              delay = 250;
              onState('live');
            } else if (m.type === 'cut') {
              next = m.resume_from;
            }
          }
        }
      } catch (err) {
        if (ctl.signal.aborted) break;
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
          onState('stopped');
          return;
        }
      }
      if (ctl.signal.aborted) break;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
    onState('stopped');
  };
  run();
  return () => ctl.abort();
}
