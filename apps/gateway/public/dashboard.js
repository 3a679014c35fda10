// The dashboard's code, a file of its own: the gateway's Content-Security-Policy runs no inline script.
// Amounts arrive as decimal strings already rounded by the engine to the currency's minor unit
// (VND and JPY have none), usage summed per workspace: they are only regrouped here, never
// added, rounded or turned into floating-point numbers.
const SYMBOL = { USD: '$', VND: '₫', JPY: '¥' };
function money(text, currency) {
  if (text == null) return '-';
  const negative = text.startsWith('-');
  const [whole, fraction] = (negative ? text.slice(1) : text).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (negative ? '-' : '') + (SYMBOL[currency] || '') + grouped + (fraction ? '.' + fraction : '') + (SYMBOL[currency] ? '' : ' ' + (currency || ''));
}
function runway(seconds) {
  if (seconds == null) return '∞';
  if (seconds <= 0) return 'depleted';
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
  return h > 48 ? Math.floor(h / 24) + ' d ' + (h % 24) + ' h' : h + ' h ' + m + ' min';
}
// The token lives in this page's memory only: read from the URL fragment, then taken out of
// the address bar and the history at once (replaceState), never written to storage (older
// versions kept it in localStorage: removed). A reload needs a new link from the portal.
const token = new URLSearchParams(location.hash.slice(1)).get('token');
if (location.hash) history.replaceState(null, '', location.pathname + location.search);
localStorage.removeItem('billingToken');
if (!token) document.getElementById('status').textContent = 'no token: open this page as /#token=<JWT>';
const headers = { Authorization: 'Bearer ' + token };
let shownSeq = -1;
function show(b) {
  if (b.seq < shownSeq) return; // never an older state after a newer one
  shownSeq = b.seq;
  document.getElementById('org').textContent = b.orgId;
  document.getElementById('seq').textContent = b.seq;
  document.getElementById('updated').textContent = new Date(b.at).toLocaleTimeString();
  for (const k of ['total', 'plan', 'voucher', 'topup']) {
    const el = document.getElementById(k);
    el.textContent = money(b[k], b.currency);
    el.classList.toggle('negative', b[k].startsWith('-'));
  }
  document.getElementById('exact').textContent = b.exact.total;
  document.getElementById('burn').textContent = money(b.burnRatePerHour, b.currency) + '/h';
  document.getElementById('runway').textContent = runway(b.runwaySeconds);
}
async function refreshTables() {
  try {
    const res = await (await fetch('/api/v1/resources', { headers })).json();
    const running = (res.resources || []).filter((r) => r.status !== 'DELETED');
    document.getElementById('resources').innerHTML = running.length ? running.map((r) =>
      `<tr><td>${r.resourceId}</td><td>${r.workspaceId}</td><td>${r.service}</td><td>${r.sku}</td><td>${r.status}</td><td>${r.runningSince ? new Date(r.runningSince).toLocaleTimeString() : '-'}</td></tr>`).join('') : '<tr><td colspan="6" class="muted">none</td></tr>';
    const to = new Date(), from = new Date(to.getTime() - 30 * 86400000);
    const usage = await (await fetch(`/api/v1/wallet/usage?from=${from.toISOString()}&to=${to.toISOString()}`, { headers })).json();
    // Summed and rounded by the engine, like every amount on this page.
    const workspaces = usage.workspaces || [];
    document.getElementById('usage').innerHTML = workspaces.length ? workspaces.map((w) =>
      `<tr data-testid="usage-row"><td>${w.workspaceId ?? '-'}</td><td class="num">${w.gpuHoursDisplay}</td><td class="num">${money(w.display, usage.currency)}</td></tr>`).join('') : '<tr><td colspan="3" class="muted">none yet</td></tr>';
  } catch (e) { /* the next refresh tries again */ }
}
if (token) {
  const socket = io({ auth: { token } });
  const status = document.getElementById('status');
  let expired = false;
  socket.on('connect', () => { status.textContent = 'connected'; status.className = 'live'; });
  socket.on('disconnect', () => { if (!expired) { status.textContent = 'reconnecting'; status.className = 'down'; } });
  socket.on('connect_error', (e) => { status.textContent = 'refused: ' + e.message; status.className = 'down'; });
  socket.on('balance', show);
  // The gateway closes the socket when the token expires; the HTTP API refuses it too from then on.
  socket.on('token_expired', () => {
    expired = true;
    clearInterval(refresher);
    status.textContent = 'session expired: open the dashboard again from the portal';
    status.className = 'down';
  });
  refreshTables();
  const refresher = setInterval(refreshTables, 3000);
}
