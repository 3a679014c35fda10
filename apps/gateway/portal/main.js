// The portal's entry point (bundled by scripts/build-portal.js into public/build/portal.js).
import { render } from 'preact';
import { html } from './html.js';
import { App } from './app.js';
import { connectLive } from './live.js';

const root = document.getElementById('app');
root.textContent = ''; // the "Loading" line the HTML shows until the bundle runs
render(html`<${App} />`, root);
connectLive();
