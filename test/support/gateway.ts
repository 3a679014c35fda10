import { AddressInfo } from 'net';
import { NestExpressApplication } from '@nestjs/platform-express';
import { io, Socket } from 'socket.io-client';
import { issueToken } from '../../apps/gateway/src/auth/token';
import { createGatewayApp } from '../../apps/gateway/src/app';
import { issueOperatorToken, OperatorTokenSettings } from '../../apps/gateway/src/operator/operator-token';
import { loadGatewayConfig, TokenSettings } from '../../apps/gateway/src/config';
import { NATS_URL, TEST_HEALTH_DETAILS_TOKEN, testDatabaseUrl } from './engine';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef';
export const TEST_OPERATOR_JWT_SECRET = 'test-operator-secret-0123456789abcdef';

export interface TestGateway {
  readonly app: NestExpressApplication;
  readonly url: string;
  /** What its tokens must carry (the documented defaults, unless `env` says otherwise). */
  readonly tokens: TokenSettings;
  /** A valid organization token, as an identity provider would issue it: `iss`, `aud`, `iat`, `exp` (default: the longest allowed). */
  token(org: string, expiresInSeconds?: number): string;
  /** What operator tokens must carry (another secret and audience than the organizations'). */
  readonly operatorTokens: OperatorTokenSettings;
  /** A valid operator token naming `operator` (`sub`). */
  operatorToken(operator: string, expiresInSeconds?: number): string;
  stop(): Promise<void>;
}

/**
 * Every test's requests come from 127.0.0.1: only the tests of the limits themselves
 * (rate-limits.e2e-spec.ts) run with limits that a test can reach. Payment providers are
 * offline unless a test says otherwise (test/payment-providers.e2e-spec.ts).
 */
export const TEST_EDGE_ENV: Record<string, string> = {
  RATE_LIMIT_TOPUPS_PER_ORG: '1000000',
  RATE_LIMIT_TOPUPS_PER_ADDRESS: '1000000',
  RATE_LIMIT_REDEEMS_PER_ORG: '1000000',
  RATE_LIMIT_REDEEMS_PER_ADDRESS: '1000000',
  RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS: '1000000',
  HEALTH_DETAILS_TOKEN: TEST_HEALTH_DETAILS_TOKEN,
  // Tests that start top-ups without testing the providers' APIs: references made up, nothing
  // leaves the machine. The provider tests set PAYMENT_PROVIDERS=api with the local fakes' URLs.
  PAYMENT_PROVIDERS: 'offline',
  // Amount limits no test meets but those of the limits themselves (test/payment-operations.e2e-spec.ts).
  ...Object.fromEntries(['USD', 'VND', 'JPY'].flatMap((c) => [[`TOPUP_MIN_${c}`, c === 'USD' ? '0.01' : '1'], [`TOPUP_MAX_${c}`, '1000000000000'], [`TOPUP_DAILY_MAX_${c}`, '1000000000000']])),
  // The test database is shared by every test file: reconciliation runs only where a test turns it on, on a database of its own (test/reconciliation.e2e-spec.ts).
  PAYMENT_RECONCILE_INTERVAL_MS: '0',
};

/** A gateway on a free port, talking to the test engine's subjects. */
export async function startGateway(subjectPrefix: string, env: Record<string, string> = {}): Promise<TestGateway> {
  env = { ...TEST_EDGE_ENV, ...env };
  const config = loadGatewayConfig({ ...process.env, GATEWAY_PORT: '0', NATS_URL, DATABASE_URL: testDatabaseUrl(), SUBJECT_PREFIX: subjectPrefix, JWT_SECRET: TEST_JWT_SECRET, OPERATOR_JWT_SECRET: TEST_OPERATOR_JWT_SECRET, ...env });
  const app = await createGatewayApp(config, process.env.TEST_LOGS ? undefined : false);
  const address = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${address.port}`;
  return {
    app,
    url,
    tokens: config.tokens,
    token: (org, expiresInSeconds?: number) => issueToken(config.tokens, { org }, expiresInSeconds),
    operatorTokens: config.operators.tokens,
    operatorToken: (operator, expiresInSeconds?: number) => issueOperatorToken(config.operators.tokens, operator, expiresInSeconds),
    stop: () => app.close(),
  };
}

/**
 * A browser-like socket.io client; resolves once connected, rejects with the refusal. The
 * `balance` events are buffered from the first moment, since the snapshot follows the connection.
 */
export function connectSocket(url: string, token: unknown): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    const early: unknown[] = [];
    socket.on('balance', (b) => early.push(b));
    (socket as Socket & { early: unknown[] }).early = early;
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}
