import { Inject, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConnectedSocket, MessageBody, OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { BalanceSnapshot, readEvent } from '@billing/contracts';
import { NatsConnection, Subscription } from 'nats';
import { Server, Socket } from 'socket.io';
import { AuthError, Principal, verifyToken } from '../auth/token';
import { GatewayConfig } from '../config';
import { GATEWAY_CONFIG, GATEWAY_NATS } from '../tokens';
import { BillingClient } from '../wallet/billing.client';
import { BalanceFanout } from './balance-fanout';
import { AuthFailureLimiter } from '../edge/auth-failures';
import { RATE_LIMITED } from '../edge/rate-limited';

const ROOM_PREFIX = 'org:';
const room = (orgId: string) => `${ROOM_PREFIX}${orgId}`;

/** What the gateway counts, for /metrics. */
export class GatewayStats {
  sockets = 0;
  pushes = 0;
  events = 0;
  /** Balance events not pushed: unreadable, or naming another organization than their subject's. */
  refused = 0;
  /** Balances read again because an announcement was missed (a gap in `seq`, or NATS reconnected). */
  rereads = 0;
}

/** Sent to a socket just before it is closed because its token expired; the client connects again with a new token. */
export const TOKEN_EXPIRED_EVENT = 'token_expired';

/**
 * Live balances for browsers. A socket authenticates at the handshake with `auth: { token }`
 * and joins its organization's room only; it gets a snapshot at once, then every change, taken
 * from the engine's `balance` events on NATS (so any number of gateway processes can run) and
 * coalesced per organization. Those events are core NATS, not stored: one that announces a change
 * after a seq this gateway never saw (`previousSeq`), and every watched organization after NATS
 * reconnects, has the balance read again, so a lost announcement costs a request, never a stale
 * screen. A socket lives no longer than its token: at `exp` it is sent
 * `token_expired` and disconnected by the server (socket.io clients do not reconnect by themselves then).
 */
// CORS and the handshake's Origin check: GatewayIoAdapter (CORS_ORIGINS).
@WebSocketGateway()
export class BalanceGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, OnApplicationShutdown {
  private readonly logger = new Logger('BalanceGateway');
  @WebSocketServer() server!: Server;
  private fanout!: BalanceFanout<BalanceSnapshot>;
  private subscription: Subscription | null = null;
  /** Organizations whose balance is being read again (one request each at a time). */
  private readonly rereading = new Set<string>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_NATS) private readonly nc: NatsConnection,
    private readonly billing: BillingClient,
    private readonly stats: GatewayStats,
    private readonly authFailures: AuthFailureLimiter,
  ) {}

  afterInit(server: Server): void {
    // A refused handshake is a failed authentication of its address, as a 401 is (edge/auth-failures.ts).
    const rateLimited = (retryAfterSeconds: number) =>
      Object.assign(new Error(`too many failed authentications from this address; retry after ${retryAfterSeconds} s`), { data: { code: RATE_LIMITED, retryAfterSeconds } });
    server.use(async (socket, next) => {
      const address = this.authFailures.addressOf(socket.request);
      const refused = this.authFailures.refusedFor(address);
      if (refused !== null) return next(rateLimited(refused));
      try {
        socket.data.principal = verifyToken(socket.handshake.auth?.token, this.config.tokens);
        next();
      } catch (error) {
        const e = error instanceof AuthError ? error : new AuthError('UNAUTHENTICATED', 'invalid token');
        const wait = await this.authFailures.failed(address).catch(() => null);
        next(wait !== null ? rateLimited(wait) : Object.assign(new Error(e.message), { data: { code: e.code } }));
      }
    });
    this.fanout = new BalanceFanout(this.config.pushIntervalMs, (snapshot) => {
      this.stats.pushes++;
      server.to(room(snapshot.orgId)).emit('balance', snapshot);
    });
    this.subscription = this.nc.subscribe(this.billing.subjects.event('*', 'balance'), {
      callback: (_error, msg) => {
        this.stats.events++;
        // Whose balance it is comes from the subject, which only the engine may publish on (NATS
        // permissions); a body naming another organization goes to nobody's browsers.
        const read = readEvent(this.billing.subjects, msg.subject, msg.data);
        if (read.kind !== 'event' || read.event.type !== 'balance' || typeof read.event.seq !== 'number') {
          this.stats.refused++;
          this.logger.warn({ msg: 'balance event refused', subject: msg.subject, reason: read.kind === 'unusable' ? read.reason : 'not a balance event' });
          return;
        }
        const { eventId: _id, type: _type, previousSeq, ...snapshot } = read.event;
        if (this.fanout.missedBefore(snapshot.orgId, previousSeq)) this.reread(snapshot.orgId);
        this.fanout.offer(snapshot);
      },
    });
    void this.rereadOnReconnect();
  }

  /** Reads a watched organization's balance again and pushes it (an announcement was missed). */
  private reread(orgId: string): void {
    if (this.rereading.has(orgId) || !this.server.sockets.adapter.rooms.has(room(orgId))) return;
    this.rereading.add(orgId);
    this.stats.rereads++;
    this.billing
      .request(orgId, 'balance')
      .then((reply) => reply.ok && this.fanout.offer(reply.balance))
      .catch(() => undefined)
      .finally(() => this.rereading.delete(orgId));
  }

  /** Announcements made while this gateway was disconnected from NATS are gone: every watched balance is read again. */
  private async rereadOnReconnect(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type !== 'reconnect') continue;
      for (const name of this.server.sockets.adapter.rooms.keys()) if (name.startsWith(ROOM_PREFIX)) this.reread(name.slice(ROOM_PREFIX.length));
    }
  }

  async handleConnection(socket: Socket): Promise<void> {
    const principal = socket.data.principal as Principal;
    this.stats.sockets++;
    socket.data.expiry = setTimeout(() => {
      socket.emit(TOKEN_EXPIRED_EVENT, { code: 'TOKEN_EXPIRED', message: 'the token has expired; connect again with a new one' });
      socket.disconnect(true);
    }, Math.max(0, principal.expiresAtMs - Date.now())).unref();
    await socket.join(room(principal.orgId));
    const reply = await this.billing.request(principal.orgId, 'balance');
    // A push that reached the room while this request was under way is newer: never send an older state after it.
    if (reply.ok && reply.balance.seq >= (this.fanout.lastPushed(principal.orgId) ?? -1)) socket.emit('balance', reply.balance);
    else if (!reply.ok) socket.emit('billing_error', reply.error);
  }

  handleDisconnect(socket: Socket): void {
    clearTimeout(socket.data.expiry);
    this.stats.sockets--;
  }

  /** A client may ask for an organization's updates explicitly; only its own is allowed. */
  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: { orgId?: string }): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
    const principal = socket.data.principal as Principal;
    if (body?.orgId !== principal.orgId) {
      return { ok: false, error: { code: 'FORBIDDEN', message: `this token is for organization ${principal.orgId}` } };
    }
    const reply = await this.billing.request(principal.orgId, 'balance');
    if (reply.ok) socket.emit('balance', reply.balance);
    return { ok: true };
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    this.fanout?.close();
  }
}
