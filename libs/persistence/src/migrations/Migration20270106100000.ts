import { Migration } from '@mikro-orm/migrations';

/**
 * Every per-organization table keyed by organization (#17, item 2), so that a distributed
 * PostgreSQL (Citus, distributing by org_id and co-locating the tables) could hold it unchanged:
 * every primary key and unique index of such a table includes org_id (test/citus-keys.e2e-spec.ts).
 * - `grants`: primary key (org_id, id), was (id). `grants_org_id_idx` is dropped (the key's prefix
 *   now), and a plain index on id takes its place: the commit function's check that a grant sent
 *   belongs to the organization looks the grant up by id alone (a grant id of another organization
 *   is still refused, so an id stays one organization's).
 * - `stop_commands`: primary key (org_id, command_id), was (command_id).
 * - `outbox_events`: gains org_id (the organization its subject names,
 *   `<prefix>.events.<orgId>.<type>`: the token before the last), filled for the rows there, and
 *   the primary key (id, org_id), was (id): id first, since the relay reads and deletes by id
 *   across organizations (id stays unique: one sequence numbers it).
 * - `commit_wallet_batch_v3`, same signature and row positions: grants upserted on (org_id, id),
 *   outbox rows written with their org_id. Nothing else of it changes (v4 still calls it).
 */
export class Migration20270106100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "grants" drop constraint "grants_pkey", add constraint "grants_pkey" primary key ("org_id", "id");`);
    this.addSql(`drop index if exists "grants_org_id_idx";`);
    this.addSql(`create index "grants_id_idx" on "grants" ("id");`);

    this.addSql(`alter table "stop_commands" drop constraint "stop_commands_pkey", add constraint "stop_commands_pkey" primary key ("org_id", "command_id");`);

    this.addSql(`alter table "outbox_events" add column "org_id" text null;`);
    this.addSql(`update "outbox_events" set "org_id" = split_part("subject", '.', -2);`);
    this.addSql(`alter table "outbox_events" alter column "org_id" set not null;`);
    this.addSql(`alter table "outbox_events" drop constraint "outbox_events_pkey", add constraint "outbox_events_pkey" primary key ("id", "org_id");`);

    this.addSql(`
create or replace function "commit_wallet_batch_v3"(p_group text, p_partitions int, p_wallets jsonb, p_entries jsonb, p_grants jsonb, p_meters jsonb, p_events jsonb) returns jsonb
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
    on conflict (org_id, id) do update set remaining = excluded.remaining, expiry_notice_at = excluded.expiry_notice_at,
      rollover_cap = excluded.rollover_cap, rollover_period_ms = excluded.rollover_period_ms;

    insert into meters (org_id, resource_id, day, charged, usage_ms, until, entries, by_grant, updated_at)
    select m->>0, m->>1, (m->>2)::date, (m->>3)::numeric, (m->>4)::bigint, (m->>5)::timestamptz, (m->>6)::int, m->7, now()
    from jsonb_array_elements(p_meters) as m
    on conflict (org_id, resource_id, day) do update set charged = excluded.charged, usage_ms = excluded.usage_ms,
      until = excluded.until, entries = excluded.entries, by_grant = excluded.by_grant, updated_at = now();

    with stored as (
      insert into outbox_events (event_id, subject, payload, org_id)
      select (x->>0)::uuid, x->>1, x->>2, split_part(x->>1, '.', -2) from jsonb_array_elements(p_events) as x
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
    this.addSql(`
create or replace function "commit_wallet_batch_v3"(p_group text, p_partitions int, p_wallets jsonb, p_entries jsonb, p_grants jsonb, p_meters jsonb, p_events jsonb) returns jsonb
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
    this.addSql(`alter table "outbox_events" drop constraint "outbox_events_pkey", add constraint "outbox_events_pkey" primary key ("id");`);
    this.addSql(`alter table "outbox_events" drop column "org_id";`);
    this.addSql(`alter table "stop_commands" drop constraint "stop_commands_pkey", add constraint "stop_commands_pkey" primary key ("command_id");`);
    this.addSql(`drop index if exists "grants_id_idx";`);
    this.addSql(`create index "grants_org_id_idx" on "grants" ("org_id");`);
    this.addSql(`alter table "grants" drop constraint "grants_pkey", add constraint "grants_pkey" primary key ("id");`);
  }
}
