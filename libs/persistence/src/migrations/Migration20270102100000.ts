import { Migration } from '@mikro-orm/migrations';

/**
 * `balance` events are no longer written to the outbox (they are announced on core NATS after the
 * commit, README Decisions): rows an earlier engine wrote and did not publish would never be
 * published now (the events stream no longer takes that subject), so they go. The outbox
 * repository also leaves out any such row an engine of the earlier version writes during an upgrade.
 */
export class Migration20270102100000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`delete from "outbox_events" where "subject" like '%.events.%.balance';`);
  }

  override async down(): Promise<void> {
    // Nothing to bring back: a balance is read again at any time.
  }
}
