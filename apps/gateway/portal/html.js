// Preact with htm: tagged templates instead of JSX, so the portal's sources are plain JavaScript
// that esbuild bundles as they are (no JSX step, no types to configure). htm is CSP-safe (no eval).
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
