// Alert settings: low-balance thresholds (one low_balance event, and a webhook call, each time the
// balance goes down through one). Thresholds are decimal strings, sent as typed.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { html } from '../html.js';
import { balance } from '../live.js';
import { useStore } from '../store.js';
import { money } from '../format.js';
import { Problem } from './table.js';
import { Webhooks } from './webhooks.js';

export function AlertsPage() {
  const b = useStore(balance);
  const [text, setText] = useState('');
  const [saved, setSaved] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const lowBalance = text.split(/[\s,]+/).filter(Boolean);
    if (!lowBalance.every((t) => /^[0-9]+(\.[0-9]+)?$/.test(t))) return setError({ message: 'Enter amounts such as 50 or 10.50, separated by commas.' });
    try {
      setSaved((await api('/api/v1/wallet/alerts', { method: 'PUT', body: { lowBalance } })).lowBalance);
    } catch (err) {
      setError(err);
    }
  };
  const c = b && b.currency;
  // What is in force: as just saved, else as the engine's balance says (it carries the thresholds).
  const current = saved ?? (b ? b.lowBalance : null);
  return html`
    <h2>Alert settings</h2>
    <p class="muted">Get told before credit runs out: each time the balance goes down through a threshold, the alert service calls the organization's webhooks with a signed low_balance event.</p>
    <form class="card form-row" onSubmit=${submit}>
      <label>Low-balance thresholds${c ? ' (' + c + ')' : ''}
        <input data-testid="alert-thresholds" value=${text} onInput=${(e) => setText(e.currentTarget.value)} placeholder="50, 10" autocomplete="off" aria-describedby="alert-help" />
      </label>
      <button type="submit" data-testid="alert-save">Save</button>
    </form>
    <p id="alert-help" class="muted">At most 10, separated by commas; an empty list removes them all.</p>
    <div role="status" data-testid="alert-saved">${current ? (current.length ? 'Alerts at ' + current.map((t) => money(t, c)).join(', ') + '.' : 'No low-balance alerts.') : ''}</div>
    <${Problem} error=${error} />
    <${Webhooks} />
  `;
}
