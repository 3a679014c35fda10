// Vouchers: each voucher grant with credit left (scope, remaining, expiry), live from the balance,
// and redeeming a code.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { html } from '../html.js';
import { balance } from '../live.js';
import { useStore } from '../store.js';
import { dateTime, money, scope } from '../format.js';
import { Problem, Table } from './table.js';

function Redeem() {
  const [code, setCode] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    try {
      const reply = await api('/api/v1/wallet/redeem', { method: 'POST', body: { idempotencyKey: 'redeem-' + crypto.randomUUID(), code: code.trim() } });
      setResult(reply.entry);
      setCode('');
    } catch (err) {
      setError(err);
    }
  };
  return html`
    <form class="form-row card" onSubmit=${submit}>
      <label>Voucher code <input data-testid="redeem-code" value=${code} onInput=${(e) => setCode(e.currentTarget.value)} autocomplete="off" required /></label>
      <button type="submit" data-testid="redeem-submit">Redeem</button>
    </form>
    <div role="status" data-testid="redeem-result">${result ? 'Redeemed: ' + money(result.amount, result.currency) + ' of voucher credit (' + scope(result.service) + ').' : ''}</div>
    <${Problem} error=${error} />
  `;
}

export function VouchersPage() {
  const b = useStore(balance);
  const vouchers = (b && b.vouchers) || [];
  const rows = vouchers.map(
    (v) => html`<tr data-testid="voucher-row"><td>${scope(v.service)}</td><td class="num">${money(v.display ?? v.remaining, b.currency)}</td><td>${dateTime(v.expiresAt)}</td></tr>`,
  );
  return html`
    <h2>Vouchers</h2>
    <p class="muted">Voucher credit is used after plan credit and before top-up; it always expires. A voucher for one service only is skipped for the others, which then use top-up credit.</p>
    <${Redeem} />
    <h3>Vouchers with credit left</h3>
    <${Table} label="Vouchers" testid="vouchers" empty="No voucher credit." rows=${rows} head=${[{ label: 'Scope' }, { label: 'Remaining', num: true }, { label: 'Expires' }]} />
    ${b ? html`<p class="muted">Voucher total: <strong>${money(b.voucher, b.currency)}</strong></p>` : null}
  `;
}
