import { Batcher } from '@billing/actors';
import { ErrorCode, errorReply, Subjects } from '@billing/contracts';
import { connect, Msg } from 'nats';
import { Pool } from 'pg';
import { loadConfig } from '../../apps/billing/src/config';

/**
 * The durable floor: the least a server can do and still answer a debit only once it is on
 * disk. One row per debit appended to a table of its own, one `INSERT ... unnest` per
 * transaction, the reply after the commit; no balance, no rules, no index, no events.
 * Requests are group-committed by the engine's own `Batcher` with the engine's own limits
 * (MAX_WALLETS_PER_COMMIT rows, CONCURRENT_COMMITS commits under way), so the engine and the
 * floor batch the same way and differ only in what each commit does.
 */
const TABLE = 'bench_floor_debits';
const OK = Buffer.from('{"ok":true}');
/** The bench's amounts are plain decimals; anything else is refused before it can fail a whole batch. */
const AMOUNT = /^\d{1,12}(\.\d{1,8})?$/;

interface FloorRow {
  readonly orgId: string;
  readonly idempotencyKey: string;
  readonly amount: string;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: config.dbPoolMax });
  await pool.query(`create table if not exists ${TABLE} (org_id text not null, idempotency_key text not null, amount numeric not null, created_at timestamptz not null default now())`);
  // Connected as the bench's other servers (echo, baseline) are.
  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-floor' });
  const subjects = new Subjects(process.env.SUBJECT_PREFIX);

  const commits = new Batcher<FloorRow, true>(
    async (rows) => {
      // Autocommit: one statement is one transaction, one round trip, one WAL flush.
      await pool.query(`insert into ${TABLE} (org_id, idempotency_key, amount) select * from unnest($1::text[], $2::text[], $3::numeric[])`, [
        rows.map((r) => r.orgId),
        rows.map((r) => r.idempotencyKey),
        rows.map((r) => r.amount),
      ]);
      return rows.map(() => true as const);
    },
    config.maxWalletsPerCommit,
    config.concurrentCommits,
  );

  const refuse = (msg: Msg, message: string) => msg.respond(Buffer.from(JSON.stringify(errorReply(ErrorCode.INVALID_FIELD, message))));
  nc.subscribe(`${process.env.SUBJECT_PREFIX}.wallet.*.debit`, {
    callback: (_e, msg) => {
      const orgId = subjects.splitWalletSubject(msg.subject)?.orgId;
      let body: { idempotencyKey?: unknown; amount?: unknown };
      try {
        body = JSON.parse(Buffer.from(msg.data).toString('utf8'));
      } catch {
        return refuse(msg, 'body is not JSON');
      }
      if (!orgId || typeof body.idempotencyKey !== 'string' || typeof body.amount !== 'string' || !AMOUNT.test(body.amount)) return refuse(msg, 'orgId, idempotencyKey and amount are required');
      commits.submit({ orgId, idempotencyKey: body.idempotencyKey, amount: body.amount }).then(
        () => msg.respond(OK),
        (error) => msg.respond(Buffer.from(JSON.stringify(errorReply(ErrorCode.INTERNAL, String(error))))),
      );
    },
  });
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'stats') process.send?.({ type: 'stats', commits: commits.flushes });
  });
  process.on('SIGTERM', () => void nc.drain().then(() => pool.end()).then(() => process.exit(0)));
  process.send?.('ready');
}

void main().catch((error) => {
  process.stderr.write(`floor server failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
