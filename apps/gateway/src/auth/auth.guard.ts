import { CanActivate, ExecutionContext, HttpException, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GatewayConfig } from '../config';
import { GATEWAY_CONFIG } from '../tokens';
import { AuthError, verifyToken } from './token';

export const ADMIN_ONLY = 'adminOnly';
/** Marks a route that needs `role: "admin"` in the token (granting credit). */
export const AdminOnly = () => SetMetadata(ADMIN_ONLY, true);

/** Bearer tokens, the same as the sockets'; the organization always comes from the token. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig, private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const header: string | undefined = request.headers.authorization;
    try {
      const principal = verifyToken(header?.startsWith('Bearer ') ? header.slice(7) : undefined, this.config.tokens);
      if (this.reflector.get<boolean>(ADMIN_ONLY, context.getHandler()) && !principal.admin) {
        throw new AuthError('FORBIDDEN', 'this needs an admin token');
      }
      request.principal = principal;
      return true;
    } catch (error) {
      const e = error instanceof AuthError ? error : new AuthError('UNAUTHENTICATED', 'invalid token');
      throw new HttpException({ ok: false, error: { code: e.code, message: e.message } }, e.code === 'FORBIDDEN' ? 403 : 401);
    }
  }
}
