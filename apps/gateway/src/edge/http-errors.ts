import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { IncomingMessage } from 'http';
import { ErrorBody, ErrorCode, errorReply } from '@billing/contracts';
import { VnpayIpnReply } from '../payments/vnpay';
import { AuthFailureLimiter, isProviderWebhook } from './auth-failures';
import { RATE_LIMITED } from './rate-limited';

/** What this file uses of express's request (the gateway has no express typings). */
type Request = IncomingMessage & { readonly path?: string };

/**
 * The code of an error whose thrower named none (Nest's own exceptions, express's and
 * body-parser's errors), by status. Any other 4xx is INVALID_FIELD: the request, as sent, cannot
 * be taken. Ours (the guards, the engine's replies, the limits) carry their code already.
 */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: ErrorCode.INVALID_FIELD,
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.METHOD_NOT_ALLOWED,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  429: RATE_LIMITED,
  503: ErrorCode.UNAVAILABLE,
};

/** Server errors say no more than this: their message may name hosts, files or queries. */
const SERVER_ERROR_MESSAGES: Readonly<Record<string, string>> = {
  [ErrorCode.UNAVAILABLE]: 'the service is unavailable; retry later',
  [ErrorCode.INTERNAL]: 'internal error',
};

type ErrorReply = { ok: false; error: ErrorBody };

/** The error body of the API: `{ok: false, error: {code, message}}`, as the engine answers. */
export function isErrorReply(body: unknown): body is ErrorReply {
  const error = (body as { ok?: unknown; error?: { code?: unknown; message?: unknown } } | null)?.error;
  return (body as { ok?: unknown } | null)?.ok === false && typeof error?.code === 'string' && typeof error.message === 'string';
}

/**
 * body-parser's errors (its README lists their `type`s) as the API's errors; the others (a stream
 * read twice, a verify function throwing) are the server's and go on as they are (500).
 */
const BODY_ERRORS: Readonly<Record<string, (e: BodyParserError) => [number, ErrorCode, string]>> = {
  'entity.parse.failed': (e) => [400, ErrorCode.MALFORMED_JSON, `the body is not valid JSON: ${e.message}`],
  'entity.too.large': (e) => [413, ErrorCode.PAYLOAD_TOO_LARGE, typeof e.length === 'number' ? `the body is ${e.length} bytes; the limit is ${e.limit}` : `the body is over the limit of ${e.limit} bytes`],
  'parameters.too.many': (e) => [413, ErrorCode.PAYLOAD_TOO_LARGE, e.message],
  'charset.unsupported': (e) => [415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, `${e.message}; send JSON in UTF-8`],
  'encoding.unsupported': (e) => [415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, e.message],
  'request.size.invalid': () => [400, ErrorCode.MALFORMED_JSON, 'the body is not as long as its Content-Length says'],
  'request.aborted': () => [400, ErrorCode.MALFORMED_JSON, 'the request was aborted before its body was read'],
};
interface BodyParserError {
  readonly type: string;
  readonly message: string;
  readonly length?: number;
  readonly limit?: number;
}

/**
 * An express error handler, right after the body parsers (app.ts registers them, in Nest's own
 * order and with its options, so that it can follow them): their refusals become the API's
 * errors, with a code, before Nest maps them to its own (malformed JSON would otherwise reach the
 * filter as a nameless 400, a body too large as a bare error).
 */
export function bodyParserErrors(error: unknown, _request: unknown, _response: unknown, next: (error?: unknown) => void): void {
  const type = (error as Partial<BodyParserError> | null)?.type;
  const toApi = typeof type === 'string' && Object.prototype.hasOwnProperty.call(BODY_ERRORS, type) ? BODY_ERRORS[type] : undefined;
  if (!toApi) return next(error);
  const [status, code, message] = toApi(error as BodyParserError);
  next(new HttpException(errorReply(code, message), status));
}

/**
 * One error shape on the whole HTTP surface: `{ok: false, error: {code, message}}`, whatever
 * refused the request (a guard, the engine, a limit, Nest's router, body-parser, a bug), with
 * the status that goes with it. Answers that chose another body keep it: `/health`'s
 * `{status: "down"}`, and the provider webhooks, which answer in their providers' formats.
 * Nothing of an unexpected error reaches the client: it is logged and answered 500 INTERNAL.
 */
@Catch()
@Injectable()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrors');
  /** Each route's path, split, and its methods: for 405 and `Allow`. Read once, after the routes are registered. */
  private routes: { segments: string[]; methods: string[] }[] | null = null;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authFailures: AuthFailureLimiter,
  ) {}

  async catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    // Sockets answer their own refusals (connect_error, error events); only HTTP comes here.
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse();
    const adapter = this.adapterHost.httpAdapter;
    let status: number;
    let body: object;
    try {
      const answered = exception instanceof HttpException ? await this.authFailures.answerFor(exception, request, response) : exception;
      ({ status, body } = this.answer(answered, request, response));
    } catch (error) {
      ({ status, body } = this.unexpected(error, request));
    }
    if (isProviderWebhook(request)) ({ status, body } = webhookAnswer(status, body, request));
    if (adapter.isHeadersSent(response)) {
      adapter.end(response);
      return;
    }
    adapter.reply(response, body, status);
  }

  private answer(exception: unknown, request: Request, response: unknown): { status: number; body: object } {
    if (!(exception instanceof HttpException)) {
      // An http-errors error (express's router, serve-static) that is the client's and may be shown.
      const e = exception as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown } | null;
      const status = Number(e?.status ?? e?.statusCode);
      if (Number.isInteger(status) && status >= 400 && status < 500 && e?.expose === true && typeof e.message === 'string') {
        return { status, body: errorReply(CODE_BY_STATUS[status] ?? ErrorCode.INVALID_FIELD, e.message) };
      }
      return this.unexpected(exception, request);
    }
    const status = exception.getStatus();
    const given = exception.getResponse();
    if (isErrorReply(given)) return { status, body: given };
    // A body of its own that is not Nest's default one ({statusCode, message, error}): /health's.
    if (typeof given === 'object' && given !== null && !('statusCode' in given)) return { status, body: given };
    if (status === 404) return this.noRoute(request, response);
    if (status >= 500) {
      if (status !== 503) return this.unexpected(exception, request);
      this.logger.warn({ msg: 'answered 503', method: request.method, path: request.path, error: exception.message });
      return { status, body: errorReply(ErrorCode.UNAVAILABLE, SERVER_ERROR_MESSAGES[ErrorCode.UNAVAILABLE]) };
    }
    const message = (given as { message?: unknown } | string);
    const text = typeof message === 'string' ? message : Array.isArray(message.message) ? message.message.join('; ') : typeof message.message === 'string' ? message.message : exception.message;
    return { status, body: errorReply(CODE_BY_STATUS[status] ?? ErrorCode.INVALID_FIELD, text) };
  }

  /** Nest's router found nothing: 405 with `Allow` if the path has routes for other methods, else 404. */
  private noRoute(request: Request, response: unknown): { status: number; body: object } {
    const method = (request.method ?? 'GET').toUpperCase();
    // The path only: the query may hold what should not be echoed (a token someone put there).
    const path = request.path ?? (request.url ?? '/').split('?')[0];
    const allowed = this.allowedMethods(path);
    if (allowed.length > 0 && !allowed.includes(method)) {
      this.adapterHost.httpAdapter.setHeader(response, 'Allow', allowed.join(', '));
      return { status: 405, body: errorReply(ErrorCode.METHOD_NOT_ALLOWED, `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`) };
    }
    return { status: 404, body: errorReply(ErrorCode.NOT_FOUND, `no route for ${method} ${path}`) };
  }

  /** The methods of the routes matching `path`, read from express's router as Nest registered them. */
  private allowedMethods(path: string): string[] {
    this.routes ??= readRoutes(this.adapterHost.httpAdapter.getInstance());
    const segments = splitPath(path);
    const methods = new Set<string>();
    for (const route of this.routes) {
      if (route.segments.length !== segments.length) continue;
      if (route.segments.every((s, i) => (s.startsWith(':') ? segments[i] !== '' : s === segments[i]))) route.methods.forEach((m) => methods.add(m));
    }
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  }

  private unexpected(error: unknown, request: Request): { status: number; body: object } {
    this.logger.error({ msg: 'unexpected error, answered 500', method: request.method, path: request.path, error: String((error as Error)?.stack ?? error) });
    return { status: 500, body: errorReply(ErrorCode.INTERNAL, SERVER_ERROR_MESSAGES[ErrorCode.INTERNAL]) };
  }
}

/**
 * The provider webhooks' own error format: the body their controller writes for its refusals
 * (`{received: false, error}`), and VNPAY's IPN table (it expects 200 with an RspCode, and
 * delivers again after 99).
 */
function webhookAnswer(status: number, body: object, request: Request): { status: number; body: object } {
  if ((request.method ?? '').toUpperCase() === 'GET' && (request.path ?? '') === '/webhooks/vnpay/ipn') return { status: 200, body: VnpayIpnReply.UNKNOWN_ERROR };
  return { status, body: isErrorReply(body) ? { received: false, error: body.error.message } : body };
}

/** Lower case, without a trailing slash: express's defaults (not case sensitive, not strict). */
function splitPath(path: string): string[] {
  return path.toLowerCase().replace(/\/+$/, '').split('/').slice(1);
}

/**
 * express 5's router (`app.router.stack`): each route layer has its path and methods. Paths that
 * are not plain (wildcards, optional parts) are left out: those would have matched the request anyway.
 */
function readRoutes(app: { router?: { stack?: { route?: { path?: unknown; methods?: Record<string, boolean> } }[] } }): { segments: string[]; methods: string[] }[] {
  const out: { segments: string[]; methods: string[] }[] = [];
  for (const layer of app?.router?.stack ?? []) {
    const path = layer.route?.path;
    if (typeof path !== 'string' || /[*?{}()+]/.test(path)) continue;
    const methods = Object.entries(layer.route?.methods ?? {})
      .filter(([m, on]) => on && m !== '_all')
      .map(([m]) => m.toUpperCase());
    out.push({ segments: splitPath(path), methods });
  }
  return out;
}
