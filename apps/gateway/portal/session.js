// The session: the token lives in this page's memory only. It is read from the URL fragment,
// then taken out of the address bar and the history at once (replaceState), never written to
// storage (older dashboards kept it in localStorage: removed). A reload needs a new link.
import { Store } from './store.js';

function readToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token !== null) history.replaceState(null, '', location.pathname + location.search);
  localStorage.removeItem('billingToken');
  return token || null;
}

export const token = readToken();

/** What went wrong with the session, if anything: null, or { kind: 'missing' | 'invalid' | 'expired', detail }. */
export const sessionProblem = new Store(token ? null : { kind: 'missing', detail: 'no token' });

/** The gateway refused the token (HTTP 401 or the socket's handshake): say so once, never show empty pages instead. */
export function refused(code, message) {
  if (sessionProblem.get()?.kind === 'expired') return;
  const expired = code === 'TOKEN_EXPIRED' || /expired/i.test(message || '');
  sessionProblem.set({ kind: expired ? 'expired' : 'invalid', detail: message || code || 'refused' });
}
