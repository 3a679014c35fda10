import { createServer, Server } from 'http';
import { AddressInfo } from 'net';

/**
 * The portal's part in a dashboard session, played locally: the portal is where the user is
 * signed in (its own session, which this fake keeps as "who is signed in"), and it opens the
 * dashboard with a short-lived token in the URL fragment, as `npm start`'s link does. At
 * DASHBOARD_SIGN_IN_URL, `GET /dashboard/open?return=<path and query>`, it sends the browser to
 * the gateway's dashboard at that path with a new token (`<gateway><return>#token=<JWT>`); the
 * fragment never reaches a server. `return` must be a path of the gateway (one `/`, no scheme
 * or host): anything else is refused, so the portal cannot be made to send tokens elsewhere.
 */
export class FakePortal {
  /** The organization whose user is signed in at the portal; null: nobody (the portal answers 401). */
  signedIn: string | null = null;
  /** How many times the portal opened the dashboard. */
  opened = 0;
  /** The tokens it gave out (a test may clear it). */
  readonly issued: string[] = [];
  private server: Server | null = null;
  private base = '';

  constructor(
    private readonly gatewayUrl: () => string,
    private readonly tokenFor: (org: string) => string,
  ) {}

  get url(): string {
    return this.base;
  }

  /** The value of DASHBOARD_SIGN_IN_URL. */
  get signInUrl(): string {
    return `${this.base}/dashboard/open`;
  }

  /** Where the portal's own "open the dashboard" link goes. */
  openUrl(returnPath = '/'): string {
    return `${this.signInUrl}?${new URLSearchParams({ return: returnPath })}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://portal');
      const back = url.searchParams.get('return') ?? '/';
      if (req.method !== 'GET' || url.pathname !== '/dashboard/open') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      } else if (!/^\/(?![/\\])[^\s#]*$/.test(back)) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('return must be a path of the dashboard');
      } else if (this.signedIn === null) {
        res.writeHead(401, { 'content-type': 'text/html' }).end('<html><body>Sign in to the portal first</body></html>');
      } else {
        this.opened++;
        const token = this.tokenFor(this.signedIn);
        this.issued.push(token);
        res.writeHead(302, { location: `${this.gatewayUrl()}${back}#token=${token}` }).end();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
