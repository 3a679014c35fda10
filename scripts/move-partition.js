// Moves one partition's organizations to another shard (README, "Moving a partition"):
//   npm run build
//   node scripts/move-partition.js --partition 17 --from a --to b [--step fence|copy|verify|all]
//   SHARD_MAP=<the new map> node scripts/move-partition.js --partition 17 --from a --to b --step switch
// with the engine's SHARDS, PARTITIONS, OWNERS_BUCKET (or SUBJECT_PREFIX) and LEASE_TTL_MS in the
// environment. `all` fences, waits for the engine processes to let go (LEASE_TTL_MS and a second),
// copies and verifies; then `switch`, with the new SHARD_MAP (giving the partition to --to) and the
// engine's NATS_URL and NATS credentials (NATS_PASSWORD_BILLING or NATS_CREDS), records the new map
// in the lease bucket: processes with the old map stop taking partitions, processes restarted with
// the new one serve.
require('./register-paths');
const { parseShardMap, fencePartition, copyPartition, verifyPartition, redactedUrl, openDatabase, recordShardMap } = require('../dist/libs/persistence/src');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (fallback !== undefined) return fallback;
  throw new Error(`--${name} is required`);
}

(async () => {
  const partitions = Number(process.env.PARTITIONS || 64);
  const map = parseShardMap(process.env.SHARDS, process.env.SHARD_MAP, partitions, process.env.DATABASE_URL || '');
  const shards = map.shards;
  const from = arg('from');
  const to = arg('to');
  const step = arg('step', 'all');
  const ref = { group: process.env.OWNERS_BUCKET || `${(process.env.SUBJECT_PREFIX || 'billing').toUpperCase()}_OWNERS`, partitions, partition: Number(arg('partition')) };
  if (!Number.isInteger(ref.partition) || ref.partition < 0 || ref.partition >= partitions) throw new Error(`--partition must be 0 to ${partitions - 1}`);
  const source = shards.get(from);
  const target = shards.get(to);
  if (!source || !target || from === to) throw new Error(`--from and --to must be two shards named in SHARDS (${[...shards.keys()].join(', ')})`);
  const say = (msg, extra = {}) => console.log(JSON.stringify({ msg, partition: ref.partition, from, to, ...extra }));
  if (step === 'fence' || step === 'all') say('fenced in the source', { epoch: await fencePartition(source, ref, to), source: redactedUrl(source) });
  // The engine's LEASE_TTL_MS (10 s unless it was set): the old owner has let go that long after the fence.
  const settleMs = Number(process.env.LEASE_TTL_MS || 10000) + 1000;
  if (step === 'all') {
    say('waiting for the engine processes to let go', { waitMs: settleMs });
    await new Promise((r) => setTimeout(r, settleMs));
  }
  if (step === 'copy' || step === 'all') {
    // A new shard has no tables yet: its migrations first (as an engine process would on its first take).
    await (await openDatabase(target, 2)).close(true);
    say('copied', { rows: await copyPartition(source, target, ref, settleMs) });
  }
  if (step === 'verify' || step === 'all') {
    const differences = await verifyPartition(source, target, ref);
    if (differences.length > 0) {
      say('verify FAILED: do not switch SHARD_MAP', { differences });
      process.exit(1);
    }
    say(`verified: the source and the target hold the same rows; now run --step switch with SHARD_MAP giving partition ${ref.partition} to ${to}, and restart every process with that SHARD_MAP`);
  }
  if (step === 'switch') {
    if (map.byPartition[ref.partition] !== to) throw new Error(`SHARD_MAP gives partition ${ref.partition} to ${map.byPartition[ref.partition]}: run the switch with the new map, giving it to ${to}`);
    const { connectNats, natsAuth } = require('../dist/libs/messaging/src');
    const nc = await connectNats(process.env.NATS_URL || 'nats://127.0.0.1:4222', 'move-partition', natsAuth('billing', process.env));
    try {
      const kv = await nc.jetstream().views.kv(ref.group, { bindOnly: true });
      const record = await recordShardMap(kv, map, `move-partition ${ref.partition} ${from}->${to}`);
      say('switched: the new SHARD_MAP is recorded; processes with the old map stop taking partitions, restart them with the new one', { fingerprint: record.fingerprint });
    } finally {
      await nc.close();
    }
  }
})().catch((error) => {
  console.error(String(error && error.message ? error.message : error));
  process.exit(1);
});
