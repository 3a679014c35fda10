// What the gateway tells any page, with or without a token (GET /dashboard/settings): the
// providers and their currencies, card payments, each currency's decimals, the portal's sign-in page.
import { Store } from './store.js';

export const settings = new Store(null);

let loading = null;

/** The settings, asked once; null if the gateway did not say. */
export function loadSettings() {
  loading ??= fetch('/dashboard/settings')
    .then((res) => (res.ok ? res.json() : null))
    .catch(() => null)
    .then((s) => (settings.set(s), s));
  return loading;
}

/** The portal's page that gives a new link, coming back here; null when the gateway names none. */
export function signInHref(s) {
  if (!s || !s.signInUrl) return null;
  const url = new URL(s.signInUrl);
  url.searchParams.set('return', location.pathname + location.search);
  return url.href;
}
