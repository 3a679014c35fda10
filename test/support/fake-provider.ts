import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';

/**
 * The common part of the local fake payment providers (fake-stripe.ts, fake-paypal.ts,
 * fake-vnpay.ts): an HTTP server on 127.0.0.1 that records every request and can be told to
 * misbehave for the next requests, before each fake answers in its provider's own wire format.
 * Nothing here reaches beyond the machine; the fakes' webhooks go to the URLs the tests give.
 */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface FakeAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** An object is sent as JSON. */
  readonly body: unknown;
}

type Fault =
  /** Answer `status` (a 5xx, 429...) without serving the request; the provider's own error body unless `body`. */
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string; readonly body?: unknown; readonly match?: RegExp; remaining: number }
  /** Hold the answer for `ms` (past the client's timeout); with `process`, serve the request first (done, answer lost). */
  | { readonly kind: 'stall'; readonly ms: number; readonly process: boolean; readonly match?: RegExp; remaining: number };

/** Bodies a fake reads: providers' requests are small. */
const MAX_BODY_BYTES = 1024 * 1024;

export abstract class FakeProvider {
  readonly requests: RecordedRequest[] = [];
  private readonly faults: Fault[] = [];
  private server: Server | null = null;
  private base = '';

  /** `http://127.0.0.1:<port>`: the base URL to give the gateway. */
  get url(): string {
    return this.base;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.serve(req, res).catch((error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake provider bug: ${(error as Error).stack}`);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `times` requests (whose `METHOD path` matches `match`) answer `status` instead of being served. */
  failNext(times: number, status: number, options: { retryAfter?: string; body?: unknown; match?: RegExp } = {}): void {
    this.faults.push({ kind: 'status', status, ...options, remaining: times });
  }

  /** The next `times` requests get their answer only after `ms` (a time-out for a client waiting less); `process`: served all the same (the answer is what is lost). */
  stallNext(times: number, ms: number, options: { process?: boolean; match?: RegExp } = {}): void {
    this.faults.push({ kind: 'stall', ms, process: options.process ?? false, match: options.match, remaining: times });
  }

  /** Forgets the faults not yet used up. */
  clearFaults(): void {
    this.faults.splice(0);
  }

  /** Requests recorded whose `METHOD path` matches. */
  requestsTo(match: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => match.test(`${r.method} ${r.url}`));
  }

  /** The provider's own error body for a status it sends when it fails (5xx, 429). */
  protected abstract faultBody(status: number): unknown;

  /** The provider's answer to a request. */
  protected abstract handle(request: RecordedRequest): Promise<FakeAnswer>;

  private takeFault(request: RecordedRequest): Fault | null {
    const line = `${request.method} ${request.url}`;
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.match || f.match.test(line)));
    if (!fault) return null;
    fault.remaining--;
    return fault;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const request: RecordedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    this.requests.push(request);
    const fault = this.takeFault(request);
    let answer: FakeAnswer;
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {};
      answer = { status: fault.status, headers, body: fault.body ?? this.faultBody(fault.status) };
    } else {
      if (fault?.kind === 'stall' && !fault.process) {
        await this.hold(res, fault.ms);
        if (res.destroyed) return;
      }
      answer = await this.handle(request);
      if (fault?.kind === 'stall' && fault.process) {
        await this.hold(res, fault.ms);
        if (res.destroyed) return;
      }
    }
    const json = typeof answer.body !== 'string';
    const text = json ? JSON.stringify(answer.body) : (answer.body as string);
    if (res.destroyed) return;
    res.writeHead(answer.status, { 'content-type': json ? 'application/json' : 'text/html; charset=utf-8', ...answer.headers });
    res.end(text);
  }

  /** Waits `ms`, or until the client gives up (its socket closes) or the server stops. */
  private hold(res: ServerResponse, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      res.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Posts a webhook as a provider does: the exact bytes, its headers; the answer read whole. */
export async function deliver(url: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // kept as text
  }
  return { status: res.status, body: parsed };
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export function randomId(length: number, alphabet = ALNUM): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}
