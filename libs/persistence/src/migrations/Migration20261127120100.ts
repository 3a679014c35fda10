import { Migration } from '@mikro-orm/migrations';

/**
 * Group commit in one round trip: `commit_wallet_batch` applies the batches of many wallets
 * (wallet rows, ledger entries, grants, meters, outbox events) as one statement, hence one
 * transaction. Each wallet row is written only if its version is the one its actor expects,
 * and each ledger entry only if its idempotency key is new; if either check fails for any
 * wallet, the call undoes everything and names the wallets that must decide again. Written by
 * hand: MikroORM generates tables, not functions.
 */
export class Migration20261127120100 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create function "commit_wallet_batch"(p_wallets jsonb, p_entries jsonb, p_grants jsonb, p_meters jsonb, p_events jsonb) returns jsonb
language plpgsql as $$
declare
  v_expected int := jsonb_array_length(p_wallets);
  v_written text[];
  v_refused jsonb;
  v_outbox jsonb;
begin
  begin
    -- The version check and the write are one statement: a wallet whose version moved is not
    -- updated, and is named below.
    with written as (
      insert into wallets (org_id, currency, currency_locked, version, seq, total, created_at, updated_at)
      select x.org_id, x.currency, x.currency_locked, x.version, x.seq, x.total, now(), now()
      from jsonb_to_recordset(p_wallets) as x(org_id text, currency text, currency_locked boolean, version int, seq bigint, total numeric)
      order by x.org_id
      on conflict (org_id) do update set currency = excluded.currency, currency_locked = excluded.currency_locked,
        version = excluded.version, seq = excluded.seq, total = excluded.total, updated_at = now()
      where wallets.version = excluded.version - 1
      returning org_id
    )
    select array_agg(org_id) into v_written from written;
    if coalesce(array_length(v_written, 1), 0) <> v_expected then
      select jsonb_build_object('versionConflicts', jsonb_agg(x.org_id)) into v_refused
        from jsonb_to_recordset(p_wallets) as x(org_id text) where x.org_id <> all(coalesce(v_written, '{}'));
      raise exception 'refused' using errcode = 'P0001';
    end if;

    -- The unique (org, idempotency key) index is the duplicate check.
    with written as (
      insert into ledger_entries (id, org_id, seq, type, amount, currency, split, idempotency_key, request_hash, service,
        workspace_id, resource_id, description, reference, total_after, usage_ms, usage_until, created_at)
      select x.id, x.org_id, x.seq, x.type, x.amount, x.currency, x.split, x.idempotency_key, x.request_hash, x.service,
        x.workspace_id, x.resource_id, x.description, x.reference, x.total_after, x.usage_ms, x.usage_until, x.created_at
      from jsonb_to_recordset(p_entries) as x(id uuid, org_id text, seq bigint, type text, amount numeric, currency text,
        split jsonb, idempotency_key text, request_hash text, service text, workspace_id text, resource_id text, description text,
        reference text, total_after numeric, usage_ms bigint, usage_until timestamptz, created_at timestamptz)
      on conflict (org_id, idempotency_key) do nothing
      returning org_id, idempotency_key
    )
    select jsonb_build_object('duplicateKeys', jsonb_agg(distinct x.org_id)) into v_refused
      from jsonb_to_recordset(p_entries) as x(org_id text, idempotency_key text)
      where not exists (select 1 from written w where w.org_id = x.org_id and w.idempotency_key = x.idempotency_key)
      having count(*) > 0;
    if v_refused is not null then
      raise exception 'refused' using errcode = 'P0001';
    end if;

    insert into grants (id, org_id, kind, amount, remaining, currency, service, expires_at, created_at, source_ref, expiry_notice_at,
      rollover_cap, rollover_period_ms)
    select x.id, x.org_id, x.kind, x.amount, x.remaining, x.currency, x.service, x.expires_at, x.created_at, x.source_ref, x.expiry_notice_at,
      x.rollover_cap, x.rollover_period_ms
    from jsonb_to_recordset(p_grants) as x(id uuid, org_id text, kind text, amount numeric, remaining numeric,
      currency text, service text, expires_at timestamptz, created_at timestamptz, source_ref text, expiry_notice_at timestamptz,
      rollover_cap numeric, rollover_period_ms bigint)
    on conflict (id) do update set remaining = excluded.remaining, expiry_notice_at = excluded.expiry_notice_at;

    insert into meters (org_id, resource_id, day, charged, usage_ms, until, entries, by_grant, updated_at)
    select x.org_id, x.resource_id, x.day, x.charged, x.usage_ms, x.until, x.entries, x.by_grant, now()
    from jsonb_to_recordset(p_meters) as x(org_id text, resource_id text, day date, charged numeric, usage_ms bigint, until timestamptz,
      entries int, by_grant jsonb)
    on conflict (org_id, resource_id, day) do update set charged = excluded.charged, usage_ms = excluded.usage_ms,
      until = excluded.until, entries = excluded.entries, by_grant = excluded.by_grant, updated_at = now();

    with stored as (
      insert into outbox_events (event_id, subject, payload)
      select x.event_id, x.subject, x.payload from jsonb_to_recordset(p_events) as x(event_id uuid, subject text, payload text)
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
    this.addSql(`drop function if exists "commit_wallet_batch"(jsonb, jsonb, jsonb, jsonb, jsonb);`);
  }
}
