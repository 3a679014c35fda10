import { INestApplicationContext } from '@nestjs/common';
import { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { IncomingMessage } from 'http';
import { HelmetOptions } from 'helmet';
import { Server, ServerOptions } from 'socket.io';
import { STRIPE_JS_ORIGIN, StripeBrowserSettings } from '../dashboard/dashboard.config';

/**
 * Stripe's documented Content-Security-Policy entries for Stripe.js
 * (docs.stripe.com/security/guide, "Content Security Policy"), without Google Maps'
 * (maps.googleapis.com in script-src and connect-src), which only the Address Element's
 * autocomplete uses: the dashboard mounts the Payment Element alone.
 */
export const STRIPE_JS_CSP = {
  'script-src': [STRIPE_JS_ORIGIN, 'https://*.js.stripe.com'],
  'frame-src': [STRIPE_JS_ORIGIN, 'https://*.js.stripe.com', 'https://hooks.stripe.com'],
  'connect-src': ['https://api.stripe.com'],
} as const;

/**
 * What the page's policy must add for card payments: nothing without a publishable key; Stripe's
 * entries for Stripe's own Stripe.js; for a Stripe.js served elsewhere (development and tests
 * only: production refuses it, dashboard.config.ts), that one origin, which then serves the
 * script, its frame and its API.
 */
export function stripeCspSources(stripe: StripeBrowserSettings | null): { 'script-src': string[]; 'frame-src': string[]; 'connect-src': string[] } | null {
  if (!stripe) return null;
  const origin = new URL(stripe.jsUrl).origin;
  if (origin === STRIPE_JS_ORIGIN) return { 'script-src': [...STRIPE_JS_CSP['script-src']], 'frame-src': [...STRIPE_JS_CSP['frame-src']], 'connect-src': [...STRIPE_JS_CSP['connect-src']] };
  return { 'script-src': [origin], 'frame-src': [origin], 'connect-src': [origin] };
}

/**
 * helmet's headers with a Content-Security-Policy the gateway's own pages live under: the
 * portal (apps/gateway/public: its bundle build/portal.js, its socket.io client and API
 * calls from this origin) and the Swagger page at /docs (scripts from /docs, inline <style>
 * blocks in Swagger UI's page, data: images). No inline script anywhere, no other origin but
 * Stripe.js's when card payments are set up (STRIPE_PUBLISHABLE_KEY): its script, its frames and
 * its API, and no frames at all otherwise but the page's own. The providers' payment pages (VNPAY,
 * PayPal) are top-level navigations, which the policy does not govern.
 * helmet's `upgrade-insecure-requests` stays: browsers exempt localhost from it, so the demo
 * over http://localhost works, and anything else should be served over https anyway.
 */
export function securityHeaders(stripe: StripeBrowserSettings | null): HelmetOptions {
  const card = stripeCspSources(stripe);
  return {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'", ...(card?.['script-src'] ?? [])],
        'script-src-attr': ["'none'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'", 'data:'],
        'connect-src': ["'self'", ...(card?.['connect-src'] ?? [])],
        ...(card ? { 'frame-src': card['frame-src'] } : {}),
        'object-src': ["'none'"],
        'base-uri': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'self'"],
      },
    },
  };
}

/** CORS of the HTTP API for the configured origins: bearer tokens, never credentials (cookies). */
export function httpCors(origins: readonly string[]): CorsOptions {
  return { origin: [...origins], credentials: false, methods: ['GET', 'POST', 'PUT'], allowedHeaders: ['Authorization', 'Content-Type'], maxAge: 600 };
}

/**
 * Whether a socket.io handshake may go on: without an Origin (not a browser), from this very
 * host (the dashboard), or from a configured origin. CORS headers alone would not do: browsers
 * do not apply CORS to WebSocket connections, so another site's page could open one.
 */
export function handshakeOriginAllowed(request: Pick<IncomingMessage, 'headers'>, origins: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (origins.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** socket.io with the gateway's CORS (the configured origins only) and the Origin check of every handshake. */
export class GatewayIoAdapter extends IoAdapter {
  constructor(app: INestApplicationContext, private readonly origins: readonly string[]) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    return super.createIOServer(port, {
      ...options,
      cors: { origin: this.origins.length > 0 ? [...this.origins] : false, credentials: false },
      allowRequest: (request: IncomingMessage, callback: (error: string | null | undefined, allowed: boolean) => void) => callback(null, handshakeOriginAllowed(request, this.origins)),
    });
  }
}
