import { randomUUID } from 'crypto';
import { entryView, errorReply, InputError, parseWalletRequest, Subjects } from '@billing/contracts';
import { decide, WalletState } from '@billing/domain';
import { fromEntry, fromGrant, GrantRecord, toGrant } from '@billing/persistence';
import { connect } from 'nats';
import { Pool } from 'pg';

/**
 * What a typical billing service does: one transaction per debit, `SELECT ... FOR UPDATE` on
 * the wallet row, then the same domain decision and the same rows as the engine (ledger entry,
 * grants, wallet, outbox event). Same NATS path, same input checks, same tables.
 */
async function main(): Promise<void> {
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 10) });
  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-baseline' });
  const subjects = new Subjects(process.env.SUBJECT_PREFIX);

  async function debit(orgId: string, body: Uint8Array): Promise<object> {
    const parsed = parseWalletRequest('debit', body);
    if (parsed.name !== 'debit') throw new Error('debit only');
    const client = await pool.connect();
    try {
      await client.query('begin');
      const w = (await client.query('select currency, currency_locked, version, seq from wallets where org_id = $1 for update', [orgId])).rows[0];
      const seen = await client.query('select 1 from ledger_entries where org_id = $1 and idempotency_key = $2', [orgId, parsed.command.idempotencyKey]);
      if (seen.rowCount) {
        await client.query('rollback');
        return { ok: true, replayed: true };
      }
      const grants = (await client.query<GrantRecord>('select * from grants where org_id = $1 and remaining <> 0 order by created_at, id', [orgId])).rows.map(toGrant);
      const state: WalletState = { orgId, currency: w.currency, currencyLocked: w.currency_locked, seq: Number(w.seq), grants };
      const d = decide(state, parsed.command, { now: new Date(), newId: randomUUID, requestHash: parsed.requestHash });
      if (!d.ok) {
        await client.query('rollback');
        return errorReply(d.refusal.code, d.refusal.message);
      }
      const e = fromEntry(d.entry);
      await client.query(
        `insert into ledger_entries (id, org_id, seq, type, amount, currency, split, idempotency_key, request_hash, service, workspace_id, resource_id, description, reference, total_after, created_at)
         values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
        [e.id, e.org_id, e.seq, e.type, e.amount, e.currency, JSON.stringify(e.split), e.idempotency_key, e.request_hash, e.service, e.workspace_id, e.resource_id, e.description, e.reference, e.total_after, e.created_at],
      );
      const touched = new Set(d.entry.split.map((p) => p.grantId));
      for (const g of d.state.grants.filter((x) => touched.has(x.id))) {
        const r = fromGrant(orgId, g);
        await client.query('update grants set remaining = $2 where org_id = $3 and id = $1', [r.id, r.remaining, orgId]);
      }
      await client.query('update wallets set version = version + 1, seq = $2, total = $3, updated_at = now() where org_id = $1', [orgId, d.state.seq, d.entry.totalAfter.toFixed()]);
      await client.query('insert into outbox_events (event_id, subject, payload, org_id) values ($1, $2, $3, $4)', [randomUUID(), subjects.event(orgId, 'balance'), JSON.stringify({ seq: d.state.seq, total: d.entry.totalAfter.toFixed() }), orgId]);
      await client.query('commit');
      return { ok: true, entry: entryView(d.entry) };
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  nc.subscribe(`${process.env.SUBJECT_PREFIX}.wallet.*.debit`, {
    callback: (_e, msg) => {
      const orgId = subjects.splitWalletSubject(msg.subject)!.orgId;
      debit(orgId, msg.data).then(
        (r) => msg.respond(Buffer.from(JSON.stringify(r))),
        (error) => msg.respond(Buffer.from(JSON.stringify(error instanceof InputError ? errorReply(error.code, error.message) : errorReply('INTERNAL', String(error))))),
      );
    },
  });
  process.on('SIGTERM', () => void nc.drain().then(() => pool.end()).then(() => process.exit(0)));
  process.send?.('ready');
}

void main();
