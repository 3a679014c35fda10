// The portal's shell: header (organization, live state, the balance), the pages' navigation
// (hash routes, #/<page>; none means the overview, or the top-up page on a return from a
// provider), the session's problem in place of any page, and the page itself.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { balance, connection } from './live.js';
import { sessionProblem } from './session.js';
import { settings, signInHref } from './settings.js';
import { useStore } from './store.js';
import { money } from './format.js';
import { isProviderReturn, topupsSeeBalance } from './topup-flow.js';
import { AlertsPage } from './pages/alerts.js';
import { AutoTopupPage } from './pages/autotopup.js';
import { BudgetsPage } from './pages/budgets.js';
import { OverviewPage } from './pages/overview.js';
import { PlanPage } from './pages/plan.js';
import { ResourcesPage } from './pages/resources.js';
import { ReturnBanners, TopupPage } from './pages/topup.js';
import { TransactionsPage } from './pages/transactions.js';
import { UsagePage } from './pages/usage.js';
import { VouchersPage } from './pages/vouchers.js';

const PAGES = [
  ['overview', 'Overview', OverviewPage],
  ['transactions', 'Transactions', TransactionsPage],
  ['usage', 'Usage', UsagePage],
  ['budgets', 'Budgets', BudgetsPage],
  ['resources', 'Resources', ResourcesPage],
  ['vouchers', 'Vouchers', VouchersPage],
  ['plan', 'Billing plan', PlanPage],
  ['topup', 'Pay now', null],
  ['autotopup', 'Auto top-up', AutoTopupPage],
  ['alerts', 'Alerts', AlertsPage],
];

function routeOf(hash) {
  const name = hash.replace(/^#\/?/, '');
  if (PAGES.some(([id]) => id === name)) return name;
  return isProviderReturn ? 'topup' : 'overview';
}

const STATUS_WORDS = {
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  refused: 'refused',
  expired: 'session expired: open the dashboard again from the portal',
  none: 'no token: open this page as /#token=<JWT> (a link from the portal)',
};

function SessionProblem({ problem }) {
  const href = signInHref(useStore(settings));
  if (!problem || problem.kind === 'missing') return null;
  const expired = problem.kind === 'expired';
  return html`
    <div class="banner error" role="alert" data-testid="session-problem" data-kind=${problem.kind}>
      <strong>${expired ? 'Your session has expired.' : 'Your session is invalid: this link was not accepted.'}</strong>
      ${' '}Get a new link from the portal to see your wallet${href ? html`: <a href=${href} data-testid="session-signin">sign in again</a>` : ''}. Nothing shown here until then says anything about your balance.
    </div>
  `;
}

export function App() {
  const [route, setRoute] = useState(routeOf(location.hash));
  const b = useStore(balance);
  const status = useStore(connection);
  const problem = useStore(sessionProblem);
  useEffect(() => {
    const onHash = () => setRoute(routeOf(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (b) topupsSeeBalance(b);
  }, [b]);
  useEffect(() => {
    document.title = PAGES.find(([id]) => id === route)[1] + ' - GPU wallet';
  }, [route]);
  const Page = PAGES.find(([id]) => id === route)[2];
  const blocked = problem !== null;
  return html`
    <a class="skip" href="#main">Skip to the page</a>
    <header>
      <div class="brand">GPU wallet <span class="muted" id="org">${b ? b.orgId : ''}</span></div>
      <div class="balance">Balance <strong id="total" data-testid="total" class=${b && b.total.startsWith('-') ? 'negative' : ''}>${b ? money(b.total, b.currency) : '-'}</strong></div>
      <div class="muted">Live: <span id="status" data-testid="status" class=${status}>${STATUS_WORDS[status]}</span></div>
    </header>
    <nav aria-label="Billing pages">
      <ul>${PAGES.map(([id, label]) => html`<li><a href=${'#/' + id} aria-current=${route === id ? 'page' : undefined} data-testid=${'nav-' + id}>${label}</a></li>`)}</ul>
    </nav>
    <main id="main" tabindex="-1">
      <${ReturnBanners} />
      <${SessionProblem} problem=${problem} />
      ${blocked || !Page ? null : html`<${Page} />`}
      <div hidden=${route !== 'topup' || (blocked && problem.kind !== 'missing')}><${TopupPage} /></div>
    </main>
  `;
}
