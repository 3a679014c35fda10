// Resources: running and stopped, each with its cost so far (the engine's sum of its charges over
// the last 366 days, the longest period usage answers for, rounded once).
import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { html } from '../html.js';
import { dateTime, money } from '../format.js';
import { Problem, Table } from './table.js';

const COST_WINDOW_MS = 366 * 86400000;
const REFRESH_MS = 5000;

async function load() {
  const to = new Date();
  const [res, usage] = await Promise.all([
    api('/api/v1/resources'),
    api('/api/v1/wallet/usage?' + query({ from: new Date(to.getTime() - COST_WINDOW_MS).toISOString(), to: to.toISOString() })),
  ]);
  const costs = new Map(usage.resources.map((r) => [r.resourceId, r.display]));
  return { resources: res.resources.filter((r) => r.status !== 'DELETED'), costs, currency: usage.currency };
}

function rowsOf(list, data) {
  return list.map(
    (r) => html`<tr data-testid="resource-row">
      <td>${r.resourceId}</td><td>${r.workspaceId}</td><td>${r.service}</td><td>${r.sku}</td><td>${r.status}</td>
      <td>${r.runningSince ? dateTime(r.runningSince) : '-'}</td>
      <td class="num">${data.costs.has(r.resourceId) ? money(data.costs.get(r.resourceId), data.currency) : money('0', data.currency)}</td>
    </tr>`,
  );
}

const HEAD = [{ label: 'Resource' }, { label: 'Workspace' }, { label: 'Service' }, { label: 'SKU' }, { label: 'Status' }, { label: 'Running since' }, { label: 'Cost so far', num: true }];

export function ResourcesPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    const refresh = () => load().then((d) => live && (setData(d), setError(null)), (e) => live && setError(e));
    refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  if (!data) return html`<h2>Resources</h2><${Problem} error=${error} />${error ? null : html`<p class="muted" role="status">Loading...</p>`}`;
  const running = data.resources.filter((r) => r.running);
  const stopped = data.resources.filter((r) => !r.running);
  return html`
    <h2>Resources</h2>
    <p class="muted">GPU time is charged from RUNNING until the resource is stopped; storage is charged until it is deleted, also while stopped.</p>
    <${Problem} error=${error} />
    <h3>Running</h3>
    <${Table} label="Running resources" testid="resources-running" empty="None running." rows=${rowsOf(running, data)} head=${HEAD} />
    <h3>Stopped</h3>
    <${Table} label="Stopped resources" testid="resources-stopped" empty="None stopped." rows=${rowsOf(stopped, data)} head=${HEAD} />
  `;
}
