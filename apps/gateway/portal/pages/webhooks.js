// Webhook endpoints of the alert settings: the list (URLs only: the alert service never shows a
// secret again) and replacing it. Saving sends every line's URL and secret; the service checks each
// URL (https, public addresses) and refuses the whole list if one is wrong, changing nothing.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { html } from '../html.js';
import { dateTime } from '../format.js';
import { Problem, Table } from './table.js';

function parseLines(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [url, secret = ''] = l.split(/\s+/);
    return { url, secret };
  });
}

export function Webhooks() {
  const [endpoints, setEndpoints] = useState(null);
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [note, setNote] = useState('');
  useEffect(() => {
    api('/api/v1/alerts/webhooks').then((r) => setEndpoints(r.endpoints), setError);
  }, []);
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    setNote('');
    try {
      const r = await api('/api/v1/alerts/webhooks', { method: 'PUT', body: { endpoints: parseLines(text) } });
      setEndpoints(r.endpoints);
      setText('');
      setNote(r.endpoints.length ? 'Saved: ' + r.endpoints.length + ' endpoint(s).' : 'Every endpoint removed.');
    } catch (err) {
      setError(err);
    }
  };
  const rows = (endpoints || []).map((w) => html`<tr data-testid="webhook-row"><td>${w.url}</td><td>${dateTime(w.createdAt)}</td></tr>`);
  return html`
    <h3>Webhooks</h3>
    <${Table} label="Webhook endpoints" testid="webhooks" empty=${endpoints ? 'No webhook endpoint.' : 'Loading...'} rows=${rows} head=${[{ label: 'URL' }, { label: 'Added' }]} />
    <form class="card" onSubmit=${save}>
      <label class="block" for="webhook-lines">Replace the endpoints: one per line, its URL then its signing secret (16 characters or more). Empty removes them all.</label>
      <textarea id="webhook-lines" data-testid="webhook-lines" rows="3" value=${text} onInput=${(e) => setText(e.currentTarget.value)} placeholder="https://hooks.example.com/billing a-long-signing-secret" spellcheck="false"></textarea>
      <button type="submit" data-testid="webhook-save">Save webhooks</button>
    </form>
    <div role="status" data-testid="webhook-note">${note}</div>
    <${Problem} error=${error} />
  `;
}
