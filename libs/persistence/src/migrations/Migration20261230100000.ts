import { Migration } from '@mikro-orm/migrations';

/**
 * Holds (issue 15, item 1):
 * - `holds`: what each running GPU resource holds against its organization's balance, as its
 *   last committed meter said (amount in the wallet's currency, and the end of the hold period it
 *   covers). A row with nothing held is deleted. Holds are not money: the ledger, the grants and
 *   the wallet's total never move because of them.
 * - **`commit_wallet_batch_v4`**: `commit_wallet_batch_v3`, then the holds of the batch, in the same
 *   transaction and only if v3 committed every wallet of the call (a refused call writes nothing:
 *   v3 undid it and sends the refused wallets back, and so does v4). So a wallet loaded again (a
 *   restart, a handover) reads the holds of exactly the meters it reads. v3 keeps its text and its
 *   positions; v4 reads only the holds' (test/commit-codec.e2e-spec.ts checks both):
 *   holds: org_id, resource_id, currency, amount, until
 */
export class Migration20261230100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "holds" ("org_id" text not null, "resource_id" text not null, "currency" varchar(3) not null, "amount" numeric(38,8) not null, "until" timestamptz null, "updated_at" timestamptz not null default now(), constraint "holds_pkey" primary key ("org_id", "resource_id"), constraint "holds_amount_positive" check ("amount" > 0));`);
    this.addSql(`
create function "commit_wallet_batch_v4"(p_group text, p_partitions int, p_wallets jsonb, p_entries jsonb, p_grants jsonb, p_meters jsonb, p_events jsonb, p_holds jsonb) returns jsonb
language plpgsql as $$
declare
  v_result jsonb;
begin
  v_result := commit_wallet_batch_v3(p_group, p_partitions, p_wallets, p_entries, p_grants, p_meters, p_events);
  if v_result->'outbox' is not null then
    -- A hold of nothing is no row: a stop (or a period of no cost) releases it.
    delete from holds h using jsonb_array_elements(p_holds) as x
      where h.org_id = x->>0 and h.resource_id = x->>1 and (x->>3)::numeric = 0;
    insert into holds (org_id, resource_id, currency, amount, until, updated_at)
    select x->>0, x->>1, x->>2, (x->>3)::numeric, (x->>4)::timestamptz, now()
    from jsonb_array_elements(p_holds) as x
    where (x->>3)::numeric <> 0
    order by x->>0, x->>1
    on conflict (org_id, resource_id) do update set currency = excluded.currency, amount = excluded.amount, until = excluded.until, updated_at = now();
  end if;
  return v_result;
end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists "commit_wallet_batch_v4"(text, int, jsonb, jsonb, jsonb, jsonb, jsonb, jsonb);`);
    this.addSql(`drop table if exists "holds";`);
  }
}
