import http from 'http';
import https from 'https';
import { WebhookTargetRefused } from './alerts-error-codes';
import { PostResult, WebhookPoster } from './webhook-dispatcher';
import { TARGET_REFUSED_CODE, WebhookTargetGuard } from './webhook-target-guard';

/** A receiver's answer body is not used; past this much of it the connection is dropped rather than drained. */
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024;
/** Idle keep-alive connections kept per receiver host. */
export const MAX_FREE_SOCKETS_PER_HOST = 8;

export interface GuardedPoster {
  readonly post: WebhookPoster;
  /** Closes the kept-alive connections (at shutdown). */
  close(): void;
}

/**
 * POSTs webhooks with Node's http/https clients, whose agents connect only through the guard's
 * `lookup`: the address a request goes to is the address that was checked (see
 * WebhookTargetGuard). Redirects are not followed: the URL was agreed with the organization, and
 * a redirect could send the signed body elsewhere, inside our network included. Only 2xx is success.
 */
export function guardedPoster(guard: WebhookTargetGuard): GuardedPoster {
  const agentOptions = { keepAlive: true, maxFreeSockets: MAX_FREE_SOCKETS_PER_HOST, scheduling: 'lifo' as const, lookup: guard.lookup };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

  const post: WebhookPoster = async (url, body, headers, timeoutMs) => {
    let target: URL;
    try {
      target = new URL(url);
      guard.checkBeforeConnect(target);
    } catch (error) {
      if (error instanceof WebhookTargetRefused) return { ok: false, error: `refused: ${error.message}` };
      return { ok: false, error: `not a usable URL: ${(error as Error)?.message ?? error}` };
    }
    const signal = AbortSignal.timeout(timeoutMs);
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<PostResult>((resolve) => {
      const req = client.request(
        target,
        { method: 'POST', headers: { ...headers, 'Content-Length': String(body.byteLength) }, agent: target.protocol === 'https:' ? agents.https : agents.http, signal },
        (res) => {
          const status = res.statusCode ?? 0;
          // The body is drained so the connection can serve the next request, within a bound.
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received > MAX_RESPONSE_BODY_BYTES) res.destroy();
          });
          res.on('error', () => undefined);
          if (status >= 200 && status < 300) return resolve({ ok: true });
          const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
          resolve({ ok: false, error: `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${redirect}` });
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === TARGET_REFUSED_CODE) return resolve({ ok: false, error: error.message });
        if (signal.aborted) return resolve({ ok: false, error: `no answer within ${timeoutMs} ms` });
        resolve({ ok: false, error: `${error.message}${error.code && !error.message.includes(error.code) ? `: ${error.code}` : ''}` });
      });
      req.end(body);
    });
  };

  return {
    post,
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
