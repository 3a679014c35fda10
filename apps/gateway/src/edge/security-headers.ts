import { INestApplicationContext } from '@nestjs/common';
import { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { IncomingMessage } from 'http';
import { HelmetOptions } from 'helmet';
import { Server, ServerOptions } from 'socket.io';

/**
 * helmet's headers with a Content-Security-Policy the gateway's own pages live under: the
 * dashboard (apps/gateway/public: its script in dashboard.js, its socket.io client and API
 * calls from this origin) and the Swagger page at /docs (scripts from /docs, inline <style>
 * blocks in Swagger UI's page, data: images). No inline script anywhere, no other origin.
 * helmet's `upgrade-insecure-requests` stays: browsers exempt localhost from it, so the demo
 * over http://localhost works, and anything else should be served over https anyway.
 */
export const SECURITY_HEADERS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: true,
    directives: {
      'default-src': ["'self'"],
      'script-src': ["'self'"],
      'script-src-attr': ["'none'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'img-src': ["'self'", 'data:'],
      'font-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'object-src': ["'none'"],
      'base-uri': ["'self'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'self'"],
    },
  },
};

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
