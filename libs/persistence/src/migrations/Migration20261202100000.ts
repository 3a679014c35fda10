import { Migration } from '@mikro-orm/migrations';

/**
 * Exact under adversity:
 * - **Fencing by partition epoch.** `partition_epochs` holds, per partition, a number that goes up
 *   each time an engine process takes the partition (`take_partition`, under an exclusive advisory
 *   lock). Every write of a wallet or a resource calls `partition_fence(partition, epoch)` in the
 *   same transaction: it takes the shared side of that lock and says whether the epoch is still
 *   the writer's. So a process that lost a partition (paused, cut off) can never write to it
 *   again, and a take waits for the writes already under way to finish.
 * - **`commit_wallet_batch_v3`**: v2 plus the fence, and the cheap invariants of each wallet's
 *   batch checked by the database itself: total = old total + the entries; seqs contiguous from
 *   the old seq; each entry's split adds up to its amount; every grant an entry touches is sent,
 *   belongs to the organization, moves by exactly its parts, and is not negative unless top-up.
 *   A wallet that breaks one is refused (`broken`), the others are committed.
 * - `wallets.version` is a bigint (a 32-bit counter would overflow on a busy wallet).
 * - `resources.recompute_from`: from when a resource's charges must be computed again (null once
 *   all are committed); `storage_gb` may be unknown (null) until an event says it.
 * - `price_versions`: every price version the engine has used or will use, by the instant it takes
 *   effect; what priced usage already is never changed (see PriceCatalog).
 * - The first commit function, unused since v2, is dropped; v2 stays for a rollback.
 * Positions of v3's rows: as v2 (see Migration20261127191500), and wallets gain the epoch:
 *   wallets: org_id, currency, currency_locked, version, seq, total, epoch
 */
export class Migration20261202100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "wallets" alter column "version" type bigint;`);
    this.addSql(`drop function if exists "commit_wallet_batch"(jsonb, jsonb, jsonb, jsonb, jsonb);`);

    this.addSql(`alter table "resources" alter column "storage_gb" drop not null;`);
    this.addSql(`alter table "resources" add column "recompute_from" timestamptz null;`);
    // Resources that may still bill are computed again from their first run, once: the meters are
    // cumulative per day, so what was already charged right charges nothing more.
    this.addSql(`update "resources" r set "recompute_from" = (select min((e->>'at')::timestamptz) from jsonb_array_elements(r.events) e where e->>'status' = 'RUNNING')
      where not r.deleted or r.updated_at > now() - interval '2 days';`);
    this.addSql(`create index "resources_recompute_idx" on "resources" ("org_id", "resource_id") where "recompute_from" is not null;`);

    this.addSql(`create table "price_versions" ("effective_from" timestamptz not null primary key, "catalog" jsonb not null, "recorded_at" timestamptz not null default now());`);
    this.addSql(`create table "partition_epochs" ("group" text not null, "partition" int not null, "epoch" bigint not null, "node" text not null, "taken_at" timestamptz not null default now(), constraint "partition_epochs_pkey" primary key ("group", "partition"));`);
    this.addSql(`
create function partition_fence(p_group text, p_partition int, p_epoch bigint) returns boolean language plpgsql volatile as $$
begin
  perform pg_advisory_xact_lock_shared(hashtext(p_group), p_partition);
  return exists (select 1 from partition_epochs where "group" = p_group and partition = p_partition and epoch = p_epoch);
end $$;`);
    this.addSql(`
create function take_partition(p_group text, p_partition int, p_node text) returns bigint language plpgsql as $$
declare
  v_epoch bigint;
begin
  perform pg_advisory_xact_lock(hashtext(p_group), p_partition);
  insert into partition_epochs ("group", partition, epoch, node) values (p_group, p_partition, 1, p_node)
    on conflict ("group", partition) do update set epoch = partition_epochs.epoch + 1, node = excluded.node, taken_at = now()
    returning epoch into v_epoch;
  return v_epoch;
end $$;`);

    this.addSql(`
create function "commit_wallet_batch_v3"(p_group text, p_partitions int, p_wallets jsonb, p_entries jsonb, p_grants jsonb, p_meters jsonb, p_events jsonb) returns jsonb
language plpgsql as $$
declare
  v_refused jsonb;
  v_outbox jsonb;
  v_stale int[];
begin
  begin
    -- The fence: every wallet's partition still at the epoch its writer took it with (one check per partition).
    select array_agg(p) into v_stale from (
      select distinct org_partition(w->>0, p_partitions) as p, (w->>6)::bigint as epoch from jsonb_array_elements(p_wallets) w
    ) parts where not partition_fence(p_group, p, epoch);
    if v_stale is not null then
      select jsonb_build_object('fenced', jsonb_agg(w->>0)) into v_refused
        from jsonb_array_elements(p_wallets) w where org_partition(w->>0, p_partitions) = any(v_stale);
      raise exception 'refused' using errcode = 'P0001';
    end if;

    -- The version check and the cheap invariants of each wallet's batch, in one pass, on the
    -- wallet rows locked in org_id order (two writers lock them in the same order).
    with w as materialized (
      select x->>0 as org_id, (x->>3)::bigint as version, (x->>4)::bigint as seq, (x->>5)::numeric as total from jsonb_array_elements(p_wallets) x
    ), cur as materialized (
      select c.org_id, c.version, c.total, c.seq from wallets c where c.org_id in (select org_id from w) order by c.org_id for update
    ), e as materialized (
      select x->>1 as org_id, (x->>2)::bigint as seq, (x->>4)::numeric as amount, x->6 as split from jsonb_array_elements(p_entries) x
    ), sums as (
      select org_id, sum(amount) as amount, count(*) as n, min(seq) as lo, max(seq) as hi from e group by org_id
    ), conflicts as (
      select w.org_id from w left join cur on cur.org_id = w.org_id where w.version <> coalesce(cur.version, 0) + 1
    ), bad_wallets as (
      select w.org_id, 'total or seq does not follow from the entries' as reason
      from w left join cur on cur.org_id = w.org_id left join sums s on s.org_id = w.org_id
      where w.total <> coalesce(cur.total, 0) + coalesce(s.amount, 0)
         or w.seq <> coalesce(cur.seq, 0) + coalesce(s.n, 0)
         or (s.n > 0 and (s.lo <> coalesce(cur.seq, 0) + 1 or s.hi <> w.seq))
    ), parts as materialized (
      select e.org_id, (p->>'grantId')::uuid as id, (p->>'amount')::numeric as amount, e.seq from e, jsonb_array_elements(e.split) p
    ), bad_entries as (
      select e.org_id, 'an entry''s split does not add up to its amount, or its wallet is not in the batch' as reason
      from e left join (select org_id, seq, sum(amount) as amount from parts group by org_id, seq) ps on ps.org_id = e.org_id and ps.seq = e.seq
      where coalesce(ps.amount, 0) <> e.amount or e.org_id not in (select org_id from w)
    ), deltas as (
      select org_id, id, sum(amount) as delta from parts group by org_id, id
    ), sent as (
      select (g->>0)::uuid as id, g->>1 as org_id, g->>2 as kind, (g->>4)::numeric as remaining from jsonb_array_elements(p_grants) g
    ), bad_grants as (
      select coalesce(s.org_id, d.org_id) as org_id, 'a grant is missing, belongs to another organization, does not move by its parts, or goes negative' as reason
      from sent s full join deltas d on d.id = s.id left join grants old on old.id = coalesce(s.id, d.id)
      where s.id is null
         or d.org_id <> s.org_id
         or old.org_id <> s.org_id
         or s.remaining <> coalesce(old.remaining, 0) + coalesce(d.delta, 0)
         or (s.kind <> 'topup' and s.remaining < 0)
    )
    select case
        when exists (select 1 from conflicts) then (select jsonb_build_object('versionConflicts', jsonb_agg(org_id)) from conflicts)
        else (select jsonb_build_object('broken', jsonb_agg(jsonb_build_array(org_id, reason)))
              from (select * from bad_wallets union all select * from bad_entries union all select * from bad_grants) b having count(*) > 0)
      end into v_refused;
    if v_refused is not null then
      raise exception 'refused' using errcode = 'P0001';
    end if;

    insert into wallets (org_id, currency, currency_locked, version, seq, total, created_at, updated_at)
    select w->>0, w->>1, (w->>2)::boolean, (w->>3)::bigint, (w->>4)::bigint, (w->>5)::numeric, now(), now()
    from jsonb_array_elements(p_wallets) as w
    order by w->>0
    on conflict (org_id) do update set currency = excluded.currency, currency_locked = excluded.currency_locked,
      version = excluded.version, seq = excluded.seq, total = excluded.total, updated_at = now();

    -- The unique (org, idempotency key) index is the duplicate check.
    begin
      insert into ledger_entries (id, org_id, seq, type, amount, currency, split, idempotency_key, request_hash, service,
        workspace_id, resource_id, description, reference, total_after, usage_ms, usage_until, created_at)
      select (e->>0)::uuid, e->>1, (e->>2)::bigint, e->>3, (e->>4)::numeric, e->>5, e->6, e->>7, e->>8, e->>9,
        e->>10, e->>11, e->>12, e->>13, (e->>14)::numeric, (e->>15)::bigint, (e->>16)::timestamptz, (e->>17)::timestamptz
      from jsonb_array_elements(p_entries) as e;
    exception when unique_violation then
      select jsonb_build_object('duplicateKeys', jsonb_agg(jsonb_build_array(e->>1, e->>7))) into v_refused
        from jsonb_array_elements(p_entries) as e
        where exists (select 1 from ledger_entries l where l.org_id = e->>1 and l.idempotency_key = e->>7)
        having count(*) > 0;
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
    on conflict (id) do update set remaining = excluded.remaining, expiry_notice_at = excluded.expiry_notice_at,
      rollover_cap = excluded.rollover_cap, rollover_period_ms = excluded.rollover_period_ms;

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
    -- Everything of this call is undone; the refused wallets are sent back.
    return v_refused;
  end;
  return jsonb_build_object('outbox', v_outbox);
end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists "commit_wallet_batch_v3"(text, int, jsonb, jsonb, jsonb, jsonb, jsonb);`);
    this.addSql(`drop function if exists take_partition(text, int, text);`);
    this.addSql(`drop function if exists partition_fence(text, int, bigint);`);
    this.addSql(`drop table if exists "partition_epochs";`);
    this.addSql(`drop table if exists "price_versions";`);
    this.addSql(`drop index if exists "resources_recompute_idx";`);
    this.addSql(`alter table "resources" drop column if exists "recompute_from";`);
  }
}
