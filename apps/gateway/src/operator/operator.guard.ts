import { randomUUID } from 'crypto';
import { CanActivate, ExecutionContext, HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import { REQUEST_ID } from '@billing/contracts';
import { verifyToken } from '../auth/token';
import { GatewayConfig } from '../config';
import { GATEWAY_CONFIG } from '../tokens';
import { OperatorAuthError, OperatorPrincipal, verifyOperatorToken } from './operator-token';

/** The header an operator request's id comes in (when well-formed) and goes back in. */
export const REQUEST_ID_HTTP_HEADER = 'x-request-id';

/** Counts for /metrics: operator requests refused before they reach the engine. */
export class OperatorStats {
  /** No operator token, or an invalid one. */
  unauthenticated = 0;
  /** A valid organization token on an operator route. */
  forbidden = 0;
}

export interface OperatorRequest {
  operator: OperatorPrincipal;
  requestId: string;
}

/**
 * Operator routes take operator tokens only (see operator-token.ts). A refusal is answered 401, or
 * 403 when the token is a valid organization token (an organization is never an operator), and is
 * logged with the request id: nothing reached the engine, so nothing is in the audit.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  private readonly logger = new Logger('OperatorGuard');

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig, private readonly stats: OperatorStats) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const response = context.switchToHttp().getResponse();
    const given = request.headers[REQUEST_ID_HTTP_HEADER];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    response.setHeader('X-Request-Id', requestId);
    const header: string | undefined = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    try {
      request.operator = verifyOperatorToken(token, this.config.operators.tokens);
      request.requestId = requestId;
      return true;
    } catch (error) {
      const reason = error instanceof OperatorAuthError ? error.message : 'invalid operator token';
      const organization = this.organizationOf(token);
      if (organization !== null) this.stats.forbidden++;
      else this.stats.unauthenticated++;
      this.logger.warn({ msg: 'operator route refused', method: request.method, path: request.path, requestId, organization, reason, remote: request.ip });
      if (organization !== null) {
        throw new HttpException({ ok: false, error: { code: 'FORBIDDEN', message: 'an organization token cannot act as an operator: operator routes take an operator token' } }, 403);
      }
      throw new HttpException({ ok: false, error: { code: 'UNAUTHENTICATED', message: reason } }, 401);
    }
  }

  /** The organization a valid organization token names, or null. */
  private organizationOf(token: string | undefined): string | null {
    try {
      return verifyToken(token, this.config.tokens).orgId;
    } catch {
      return null;
    }
  }
}
