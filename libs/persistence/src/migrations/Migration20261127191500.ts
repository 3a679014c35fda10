import { Migration } from '@mikro-orm/migrations';

/**
 * `commit_wallet_batch_v2`: the same group commit as `commit_wallet_batch` (same checks, same
 * refusals, same result), cheaper for PostgreSQL per wallet, which is what bounds throughput
 * when each of many wallets commits about one command:
 * - rows arrive as JSON arrays of positional values, not objects: reading a field by position
 *   costs about half of `jsonb_to_recordset`'s lookup by name, and the text is a third shorter;
 * - ledger entries are inserted plainly and a unique violation names the wallets whose keys are
 *   already there (the rare case), instead of `on conflict do nothing` plus an anti-join on every
 *   call.
 * Positions (the repository writes them in this order):
 *   wallets: org_id, currency, currency_locked, version, seq, total
 *   entries: id, org_id, seq, type, amount, currency, split, idempotency_key, request_hash, service,
 *            workspace_id, resource_id, description, reference, total_after, usage_ms, usage_until, created_at
 *   grants:  id, org_id, kind, amount, remaining, currency, service, expires_at, created_at, source_ref,
 *            expiry_notice_at, rollover_cap, rollover_period_ms
 *   meters:  org_id, resource_id, day, charged, usage_ms, until, entries, by_grant
 *   events:  event_id, subject, payload
 * The first function stays (a rollback of this migration leaves the engine it served working).
 */
export class Migration20261127191500 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create function "commit_wallet_batch_v2"(p_wallets jsonb, p_entries jsonb, p_grants jsonb, p_meters jsonb, p_events jsonb) returns jsonb
language plpgsql as $$
declare
  v_expected int := jsonb_array_length(p_wallets);
  v_written text[];
  v_refused jsonb;
  v_outbox jsonb;
begin
  begin
    -- The version check and the write are one statement, in org_id order (two writers of the
    -- same wallets lock them in the same order).
    with written as (
      insert into wallets (org_id, currency, currency_locked, version, seq, total, created_at, updated_at)
      select w->>0, w->>1, (w->>2)::boolean, (w->>3)::int, (w->>4)::bigint, (w->>5)::numeric, now(), now()
      from jsonb_array_elements(p_wallets) as w
      order by w->>0
      on conflict (org_id) do update set currency = excluded.currency, currency_locked = excluded.currency_locked,
        version = excluded.version, seq = excluded.seq, total = excluded.total, updated_at = now()
      where wallets.version = excluded.version - 1
      returning org_id
    )
    select array_agg(org_id) into v_written from written;
    if coalesce(array_length(v_written, 1), 0) <> v_expected then
      select jsonb_build_object('versionConflicts', jsonb_agg(w->>0)) into v_refused
        from jsonb_array_elements(p_wallets) as w where w->>0 <> all(coalesce(v_written, '{}'));
      raise exception 'refused' using errcode = 'P0001';
    end if;

    -- The unique (org, idempotency key) index is the duplicate check.
    begin
      insert into ledger_entries (id, org_id, seq, type, amount, currency, split, idempotency_key, request_hash, service,
        workspace_id, resource_id, description, reference, total_after, usage_ms, usage_until, created_at)
      select (e->>0)::uuid, e->>1, (e->>2)::bigint, e->>3, (e->>4)::numeric, e->>5, e->6, e->>7, e->>8, e->>9,
        e->>10, e->>11, e->>12, e->>13, (e->>14)::numeric, (e->>15)::bigint, (e->>16)::timestamptz, (e->>17)::timestamptz
      from jsonb_array_elements(p_entries) as e;
    exception when unique_violation then
      select jsonb_build_object('duplicateKeys', jsonb_agg(distinct e->>1)) into v_refused
        from jsonb_array_elements(p_entries) as e
        where exists (select 1 from ledger_entries l where l.org_id = e->>1 and l.idempotency_key = e->>7)
        having count(*) > 0;
      -- Not a key already in the ledger (a first commit racing another writer's): the caller sorts it out.
      if v_refused is null then
        raise;
      end if;
      raise exception 'refused' using errcode = 'P0001';
    end;

    insert into grants (id, org_id, kind, amount, remaining, currency, service, expires_at, created_at, source_ref, expiry_notice_at,
      rollover_cap, rollover_period_ms)
    select (g->>0)::uuid, g->>1, g->>2, (g->>3)::numeric, (g->>4)::numeric, g->>5, g->>6, (g->>7)::timestamptz, (g->>8)::timestamptz,
      g->>9, (g->>10)::timestamptz, (g->>11)::numeric, (g->>12)::bigint
    from jsonb_array_elements(p_grants) as g
    on conflict (id) do update set remaining = excluded.remaining, expiry_notice_at = excluded.expiry_notice_at;

    insert into meters (org_id, resource_id, day, charged, usage_ms, until, entries, by_grant, updated_at)
    select m->>0, m->>1, (m->>2)::date, (m->>3)::numeric, (m->>4)::bigint, (m->>5)::timestamptz, (m->>6)::int, m->7, now()
    from jsonb_array_elements(p_meters) as m
    on conflict (org_id, resource_id, day) do update set charged = excluded.charged, usage_ms = excluded.usage_ms,
      until = excluded.until, entries = excluded.entries, by_grant = excluded.by_grant, updated_at = now();

    with stored as (
      insert into outbox_events (event_id, subject, payload)
      select (x->>0)::uuid, x->>1, x->>2 from jsonb_array_elements(p_events) as x
      returning id, event_id
    )
    select coalesce(jsonb_agg(jsonb_build_array(stored.id::text, stored.event_id)), '[]'::jsonb) into v_outbox from stored;
  exception when sqlstate 'P0001' then
    -- Everything of this call is undone; the refused wallets decide again and are sent back.
    return v_refused;
  end;
  return jsonb_build_object('outbox', v_outbox);
end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists "commit_wallet_batch_v2"(jsonb, jsonb, jsonb, jsonb, jsonb);`);
  }
}
