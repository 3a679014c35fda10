import { CanActivate, ExecutionContext, HttpException, Inject, Injectable } from '@nestjs/common';
import { GatewayConfig } from '../config';
import { GATEWAY_CONFIG } from '../tokens';
import { AuthError, verifyToken } from './token';

/**
 * Bearer tokens, the same as the sockets'; the organization always comes from the token, and an
 * organization token grants only what its organization may do (no `role` claim is read).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const header: string | undefined = request.headers.authorization;
    try {
      const principal = verifyToken(header?.startsWith('Bearer ') ? header.slice(7) : undefined, this.config.tokens);
      request.principal = principal;
      return true;
    } catch (error) {
      const e = error instanceof AuthError ? error : new AuthError('UNAUTHENTICATED', 'invalid token');
      throw new HttpException({ ok: false, error: { code: e.code, message: e.message } }, e.code === 'FORBIDDEN' ? 403 : 401);
    }
  }
}
