// Usage: per workspace and service per UTC day (summed and rounded by the engine: `daily`), a chart
// and the same figures as a table, and the totals per workspace.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { html } from '../html.js';
import { money } from '../format.js';
import { drawUsage } from '../usage-chart.js';
import { Problem, Table } from './table.js';

const DAY_MS = 86400000;

export function UsagePage() {
  const [days, setDays] = useState('30');
  const [usage, setUsage] = useState(null);
  const [error, setError] = useState(null);
  const canvas = useRef(null);
  useEffect(() => {
    const to = new Date();
    const from = new Date(to.getTime() - Number(days) * DAY_MS);
    setUsage(null);
    api('/api/v1/wallet/usage?' + query({ from: from.toISOString(), to: to.toISOString() })).then(setUsage, setError);
  }, [days]);
  useEffect(() => {
    if (!usage || !canvas.current || usage.daily.length === 0) return undefined;
    const chart = drawUsage(canvas.current, usage.daily);
    return () => chart.destroy();
  }, [usage]);
  const c = usage && usage.currency;
  const daily = usage ? [...usage.daily].sort((a, b) => (a.day < b.day ? 1 : a.day > b.day ? -1 : 0)) : [];
  return html`
    <h2>Usage</h2>
    <div class="form-row">
      <label>Period
        <select data-testid="usage-period" value=${days} onChange=${(e) => setDays(e.currentTarget.value)}>
          <option value="7">last 7 days</option><option value="30">last 30 days</option><option value="90">last 90 days</option>
        </select>
      </label>
    </div>
    <${Problem} error=${error} />
    ${usage === null && !error ? html`<p class="muted" role="status">Loading...</p>` : null}
    ${usage && usage.daily.length
      ? html`<div class="chart card"><canvas ref=${canvas} role="img" aria-label="Usage per day, stacked by workspace and service; the table below has the same figures" data-testid="usage-chart"></canvas></div>`
      : null}
    <h3>Per workspace</h3>
    <${Table} label="Usage per workspace" testid="usage-workspaces" empty="No usage in this period." head=${[{ label: 'Workspace' }, { label: 'GPU-hours', num: true }, { label: 'Amount', num: true }]}
      rows=${(usage ? usage.workspaces : []).map((w) => html`<tr data-testid="usage-row"><td>${w.workspaceId ?? '-'}</td><td class="num">${w.gpuHoursDisplay}</td><td class="num">${money(w.display, c)}</td></tr>`)} />
    <h3>Per workspace and service, per day</h3>
    <${Table} label="Usage per workspace and service per day" testid="usage-daily" empty="No usage in this period." head=${[{ label: 'Day (UTC)' }, { label: 'Workspace' }, { label: 'Service' }, { label: 'Amount', num: true }]}
      rows=${daily.map((d) => html`<tr data-testid="usage-daily-row"><td>${d.day}</td><td>${d.workspaceId ?? '-'}</td><td>${d.service ?? '-'}</td><td class="num">${money(d.display, c)}</td></tr>`)} />
  `;
}
