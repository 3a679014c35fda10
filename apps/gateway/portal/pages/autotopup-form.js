// Auto top-up's form: turn it on or change it (PUT /api/v1/autotopup). Amounts are sent as typed,
// decimal strings (the gateway checks them and says what is wrong; nothing is saved on a refusal);
// the runway trigger is typed in whole minutes and sent in seconds (a duration, not money). The card
// is one added here ("Add a card": a Stripe SetupIntent, sent as its setupIntentId), else the one
// saved (or Stripe ids typed by hand). The consent box must be ticked on every save: the gateway
// records each consent with its time.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { html } from '../html.js';
import { money } from '../format.js';
import { AddCard } from './autotopup-card.js';
import { Problem } from './table.js';

const CURRENCIES = ['USD', 'VND', 'JPY'];
const EMPTY = { currency: '', kind: 'amount', amount: '', minutes: '', target: '', maxPerTopup: '', maxPerDay: '', maxPerMonth: '', customer: '', paymentMethod: '' };

/** The form's fields from saved settings (a runway trigger in whole minutes, as typed). */
function fieldsOf(s, currency) {
  if (!s) return { ...EMPTY, currency: currency || 'USD' };
  const runway = s.trigger.runwaySeconds;
  return {
    currency: s.currency,
    kind: runway == null ? 'amount' : 'runway',
    amount: s.trigger.amount ?? '',
    minutes: runway == null ? '' : String(Math.ceil(runway / 60)),
    target: s.target,
    maxPerTopup: s.maxPerTopup,
    maxPerDay: s.maxPerDay,
    maxPerMonth: s.maxPerMonth,
    customer: s.paymentMethod.customer,
    paymentMethod: s.paymentMethod.id,
  };
}

/** A typed amount as it will read once saved, or a placeholder while it is not a decimal yet. */
function typed(text, currency, placeholder) {
  const t = text.trim();
  return /^[0-9]+(\.[0-9]+)?$/.test(t) ? money(t, currency) : placeholder;
}

export function AutoTopupForm({ saved, walletCurrency, onSaved }) {
  const [f, setF] = useState(() => fieldsOf(saved, walletCurrency));
  const [touched, setTouched] = useState(false);
  // A card added here ({setupIntentId, paymentMethod, customer}), until the settings are saved with it.
  const [card, setCard] = useState(null);
  const [consent, setConsent] = useState(false);
  const [error, setError] = useState(null);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  // Until the customer types, the form follows what is saved (it may arrive after the first render).
  useEffect(() => {
    if (!touched) setF(fieldsOf(saved, walletCurrency));
    if (saved && !saved.enabled) setNote('');
  }, [saved, walletCurrency]);
  const set = (key) => (e) => {
    setTouched(true);
    setF({ ...f, [key]: e.currentTarget.value });
  };
  const c = f.currency;
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setNote('');
    if (!consent) return setError({ message: 'Tick the consent box: auto top-up charges your saved card without asking each time, so it needs your explicit agreement. Nothing was saved.' });
    let trigger;
    if (f.kind === 'amount') trigger = { amount: f.amount.trim() };
    else if (/^[0-9]+$/.test(f.minutes.trim())) trigger = { runwaySeconds: Number(f.minutes.trim()) * 60 };
    else return setError({ message: 'Enter the runway trigger in whole minutes (at least 1). Nothing was saved.' });
    if (!card && !(f.customer.trim() && f.paymentMethod.trim())) return setError({ message: 'Add a card first: auto top-up needs a card to charge. Nothing was saved.' });
    const body = {
      currency: c,
      trigger,
      target: f.target.trim(),
      maxPerTopup: f.maxPerTopup.trim(),
      maxPerDay: f.maxPerDay.trim(),
      maxPerMonth: f.maxPerMonth.trim(),
      ...(card ? { setupIntentId: card.setupIntentId } : { paymentMethod: { customer: f.customer.trim(), id: f.paymentMethod.trim() } }),
      consent: true,
    };
    setBusy(true);
    try {
      const reply = await api('/api/v1/autotopup', { method: 'PUT', body });
      setConsent(false);
      setTouched(false);
      setCard(null);
      setNote('Saved: auto top-up is on.');
      onSaved(reply.autoTopup);
    } catch (err) {
      setError({ code: err.code, message: err.message + ' Nothing was saved.' });
    } finally {
      setBusy(false);
    }
  };
  const field = (key, label, extra = {}) => html`
    <label>${label} <input data-testid=${'autotopup-input-' + key} value=${f[key]} onInput=${set(key)} autocomplete="off" size="14" ...${extra} /></label>
  `;
  const decimal = { inputmode: 'decimal' };
  const shownMethod = card ? card.paymentMethod : f.paymentMethod.trim();
  const trigger = f.kind === 'amount' ? 'the balance falls below ' + typed(f.amount, c, 'the trigger amount') : 'the runway falls below ' + (f.minutes.trim() || 'the trigger') + ' minutes';
  return html`
    <h3 id="autotopup-form-heading">${saved && saved.enabled ? 'Change auto top-up' : 'Turn on auto top-up'}</h3>
    <form class="card" onSubmit=${submit} aria-labelledby="autotopup-form-heading" novalidate>
      <div class="form-row">
        <label>Currency
          <select data-testid="autotopup-currency" value=${c} onChange=${set('currency')}>
            ${CURRENCIES.map((x) => html`<option value=${x}>${x}</option>`)}
          </select>
        </label>
        <label>Top up when
          <select data-testid="autotopup-kind" value=${f.kind} onChange=${set('kind')}>
            <option value="amount">the balance falls below an amount</option>
            <option value="runway">the runway falls below a time</option>
          </select>
        </label>
        ${f.kind === 'amount' ? field('amount', 'Trigger amount' + (c ? ' (' + c + ')' : ''), decimal) : field('minutes', 'Runway trigger (minutes)', { inputmode: 'numeric' })}
        ${field('target', 'Top up to (target)', decimal)}
      </div>
      <div class="form-row">
        ${field('maxPerTopup', 'At most per top-up', decimal)}
        ${field('maxPerDay', 'At most per UTC day', decimal)}
        ${field('maxPerMonth', 'At most per UTC month', decimal)}
      </div>
      <p data-testid="autotopup-card">
        ${card ? html`Card to charge: <strong>${card.paymentMethod}</strong> (just added, saved with these settings)` : shownMethod ? html`Card to charge: <strong>${shownMethod}</strong>` : 'No card yet: add one.'}
      </p>
      <${AddCard} onCard=${(c) => (setCard(c), setError(null))} disabled=${busy} />
      ${card
        ? null
        : html`<details>
            <summary>Or name a card already saved at Stripe</summary>
            <div class="form-row">
              ${field('customer', 'Stripe customer (cus_...)', { spellcheck: false })}
              ${field('paymentMethod', 'Saved payment method (pm_...)', { spellcheck: false })}
            </div>
          </details>`}
      <p>
        <label>
          <input type="checkbox" data-testid="autotopup-consent" checked=${consent} onChange=${(e) => setConsent(e.currentTarget.checked)} />
          ${' '}I authorize charges to the saved payment method${shownMethod ? ' ' + shownMethod : ''} without asking each time: whenever ${trigger}, one top-up towards ${typed(f.target, c, 'the target')}, of at most ${typed(f.maxPerTopup, c, 'the per-top-up cap')} each, ${typed(f.maxPerDay, c, 'the daily cap')} a UTC day and ${typed(f.maxPerMonth, c, 'the monthly cap')} a UTC month, until auto top-up is turned off.
        </label>
      </p>
      <button type="submit" data-testid="autotopup-save" disabled=${busy}>${saved && saved.enabled ? 'Save changes' : 'Turn on auto top-up'}</button>
      <div role="status" data-testid="autotopup-saved">${note}</div>
      <${Problem} error=${error} />
    </form>
  `;
}
