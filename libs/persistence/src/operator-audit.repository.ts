import { MikroORM } from '@mikro-orm/postgresql';
import { AuditQuery } from '@billing/contracts';

/** Longest error message kept with an outcome, in characters. */
export const MAX_AUDIT_MESSAGE_CHARS = 1000;

/** What an operator asked for, as recorded before it is done. */
export interface OperatorActionRecord {
  readonly operator: string;
  readonly via: 'http' | 'nats';
  readonly command: string;
  readonly orgId: string | null;
  readonly params: Record<string, unknown>;
  readonly requestId: string;
  readonly nodeId: string;
}

export interface OperatorActionOutcome {
  /** `ok` or the reply's error code. */
  readonly outcome: string;
  readonly message: string | null;
  readonly detail: Record<string, unknown> | null;
}

/** One action with its outcome, as the audit API shows it. */
export interface AuditEntry {
  readonly seq: string;
  readonly at: string;
  readonly operator: string;
  readonly via: string;
  readonly command: string;
  readonly orgId: string | null;
  readonly params: Record<string, unknown>;
  readonly requestId: string;
  readonly nodeId: string;
  /** null: no outcome recorded (in flight, or its process stopped before it could say). */
  readonly outcome: string | null;
  readonly message: string | null;
  readonly detail: Record<string, unknown> | null;
  readonly finishedAt: string | null;
}

/** PostgreSQL text holds no NUL character. */
function storable(text: string): string {
  return text.replace(/\u0000/g, '\uFFFD');
}

/** The operators' audit: append-only (the database refuses anything else), read newest first. */
export class OperatorAuditRepository {
  constructor(private readonly orm: MikroORM) {}

  private get knex() {
    return this.orm.em.getConnection().getKnex();
  }

  /** Records what is asked, before it is done; resolves with the action's id. */
  async begin(action: OperatorActionRecord): Promise<string> {
    const result = await this.knex.raw(
      'insert into operator_actions (operator, via, command, org_id, params, request_id, node_id) values (?, ?, ?, ?, ?::jsonb, ?, ?) returning id',
      [action.operator, action.via, action.command, action.orgId, JSON.stringify(action.params), action.requestId, action.nodeId],
    );
    return String((result.rows as { id: string | number }[])[0].id);
  }

  /** Records how it ended; a second outcome for the same action (a retried write that had landed) is dropped. */
  async finish(actionId: string, outcome: OperatorActionOutcome): Promise<void> {
    await this.knex.raw('insert into operator_action_outcomes (action_id, outcome, message, detail) values (?, ?, ?, ?::jsonb) on conflict (action_id) do nothing', [
      actionId,
      outcome.outcome,
      outcome.message === null ? null : storable(outcome.message).slice(0, MAX_AUDIT_MESSAGE_CHARS),
      outcome.detail === null ? null : JSON.stringify(outcome.detail),
    ]);
  }

  async list(filter: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: (string | number | Date)[] = [];
    const add = (sql: string, value: string | Date) => {
      where.push(sql);
      params.push(value);
    };
    if (filter.operator !== null) add('operator = ?', filter.operator);
    if (filter.orgId !== null) add('org_id = ?', filter.orgId);
    if (filter.command !== null) add('command = ?', filter.command);
    if (filter.outcome === 'unknown') where.push('outcome is null');
    else if (filter.outcome !== null) add('outcome = ?', filter.outcome);
    if (filter.from !== null) add('at >= ?', filter.from);
    if (filter.to !== null) add('at < ?', filter.to);
    if (filter.cursor !== null) add('id < ?', filter.cursor);
    params.push(filter.limit);
    const result = await this.knex.raw(
      `select id::text as seq, at, operator, via, command, org_id, params, request_id, node_id, outcome, message, detail, finished_at
         from operator_audit ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
        order by id desc limit ?`,
      params,
    );
    return (result.rows as any[]).map((r) => ({
      seq: r.seq,
      at: new Date(r.at).toISOString(),
      operator: r.operator,
      via: r.via,
      command: r.command,
      orgId: r.org_id,
      params: r.params,
      requestId: r.request_id,
      nodeId: r.node_id,
      outcome: r.outcome,
      message: r.message,
      detail: r.detail,
      finishedAt: r.finished_at === null ? null : new Date(r.finished_at).toISOString(),
    }));
  }
}
