// A table that scrolls sideways inside its own box on a narrow screen instead of widening the page;
// focusable (with a name) so a keyboard user can scroll it too.
import { html } from '../html.js';

export function Table({ label, head, rows, empty, testid }) {
  return html`
    <div class="table-wrap" role="region" aria-label=${label} tabindex="0">
      <table data-testid=${testid}>
        <caption class="visually-hidden">${label}</caption>
        <thead><tr>${head.map((h) => html`<th scope="col" class=${h.num ? 'num' : ''}>${h.label}</th>`)}</tr></thead>
        <tbody>
          ${rows.length
            ? rows
            : html`<tr><td colspan=${head.length} class="muted">${empty}</td></tr>`}
        </tbody>
      </table>
    </div>
  `;
}

export function Problem({ error }) {
  return error ? html`<p class="error-text" role="alert">${error.message}${error.code ? ' [' + error.code + ']' : ''}</p>` : null;
}
