// OIDC sign-in: the authorization code flow with PKCE (RFC 7636), the
// server doing the token exchange.
//
// The page may call only its own server (CSP connect-src 'self'), so the
// browser meets the identity provider by top-level navigation only: start()
// keeps a random code verifier, state and nonce in sessionStorage and goes
// to the provider's authorization endpoint with the verifier's S256
// challenge. The provider sends the browser back to /ui/?code=…&state=…;
// complete() checks the state (a mismatch means the answer belongs to no
// sign-in of this tab: it is refused before anything is sent), clears the
// query string, and POSTs the code, verifier, redirect URI and nonce to
// /v1/auth/oidc/token. The server redeems the code, verifies the id_token
// (signature, issuer, audience, expiry) and checks that its nonce is this
// sign-in's, so the page does not decode the token itself. The id_token is
// then the bearer token until its expiry.

import { request, session } from './api.js';

const PENDING = 'schemakv.oidc';

/** SignInError is a refused OIDC sign-in, with a message for people. */
export class SignInError extends Error {}

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function random(n) {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b64url(b);
}

/** params reads GET /v1/auth/oidc: {enabled, authorization_endpoint, client_id, scopes, redirect_uri, issuer}. */
export async function params() {
  return (await request('GET', '/v1/auth/oidc')).data || { enabled: false };
}

/** providerName is how the sign-in button names the issuer: its host. */
export function providerName(p) {
  try { return new URL(p.issuer).host; } catch { return 'single sign-on'; }
}

/** safeNext keeps a "next" page only if it is a route of this UI. */
function safeNext(next) {
  return typeof next === 'string' && /^#\/[^\s]*$/.test(next) ? next : '#/';
}

/**
 * start sends the browser to the identity provider. next is the UI route
 * to show after the sign-in.
 */
export async function start(p, next) {
  const endpoint = new URL(p.authorization_endpoint);
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
    throw new SignInError(`The authorization endpoint ${endpoint.protocol} is not an http(s) address.`);
  }
  // 32 random bytes, base64url: a 43-character verifier (RFC 7636 §4.1).
  const verifier = random(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const pending = { state: random(16), nonce: random(16), verifier, redirect_uri: p.redirect_uri, next: safeNext(next) };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const q = endpoint.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', p.client_id);
  q.set('redirect_uri', p.redirect_uri);
  q.set('scope', (p.scopes || ['openid']).join(' '));
  q.set('state', pending.state);
  q.set('nonce', pending.nonce);
  q.set('code_challenge', b64url(new Uint8Array(digest)));
  q.set('code_challenge_method', 'S256');
  location.assign(endpoint.href);
}

/** returning reports whether the page was loaded with the provider's answer. */
export function returning() {
  const q = new URLSearchParams(location.search);
  return q.has('state') && (q.has('code') || q.has('error'));
}

/**
 * complete finishes a sign-in the provider answered: it resolves to the
 * route to show next, or rejects with a SignInError (or the server's
 * ApiError). Either way the pending sign-in is used up and the code leaves
 * the address bar and the history.
 */
export async function complete() {
  const q = new URLSearchParams(location.search);
  let pending = null;
  try { pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null'); } catch { /* unreadable: none */ }
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', location.pathname + '#/signin');
  if (!pending || q.get('state') !== pending.state) {
    throw new SignInError('Sign-in refused: the answer from the identity provider does not belong to a sign-in started in this tab (the state does not match). Nothing was exchanged. Sign in again.');
  }
  if (q.has('error')) {
    const desc = q.get('error_description');
    throw new SignInError(`The identity provider did not sign you in: ${q.get('error')}${desc ? ` (${desc})` : ''}.`);
  }
  const r = await request('POST', '/v1/auth/oidc/token', { body: {
    code: q.get('code'), code_verifier: pending.verifier, redirect_uri: pending.redirect_uri, nonce: pending.nonce,
  } });
  session.signIn(r.data.id_token, '', r.data.expires_at);
  return pending.next;
}
