import { connect, StringCodec } from 'nats';

/**
 * Live demo of the wallet: tops up a demo organization once, then charges it every second the
 * way a running GPU would, and prints each balance event the engine publishes.
 */
const prefix = process.env.SUBJECT_PREFIX ?? 'billing';
const orgId = process.env.DEMO_ORG ?? 'demo-org';
const intervalMs = Number(process.env.DEMO_INTERVAL_MS ?? 1000);
const sc = StringCodec();

async function main(): Promise<void> {
  const nc = await connect({ servers: (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').split(','), name: 'billing-demo' });
  const request = async (command: string, body: object) =>
    JSON.parse(sc.decode((await nc.request(`${prefix}.wallet.${orgId}.${command}`, sc.encode(JSON.stringify(body)), { timeout: 5000 })).data));

  nc.subscribe(`${prefix}.events.${orgId}.*`, {
    callback: (_e, msg) => {
      const event = JSON.parse(sc.decode(msg.data));
      if (event.type === 'balance') {
        process.stdout.write(`[demo] ${orgId} seq=${event.seq} total=${event.total} ${event.currency} exact=${event.exact.total} (plan ${event.plan}, voucher ${event.voucher}, top-up ${event.topup})\n`);
      } else {
        process.stdout.write(`[demo] ${orgId} ${event.type}: ${JSON.stringify(event)}\n`);
      }
    },
  });

  await request('topup', { idempotencyKey: 'demo-topup-1', amount: '25.00', currency: 'USD', provider: 'stripe', reference: 'pi_demo_1' });
  await request('grant', { idempotencyKey: 'demo-voucher-1', kind: 'voucher', amount: '2.00', currency: 'USD', service: 'ai-notebook', expiresAt: new Date(Date.now() + 30 * 86400_000).toISOString() });
  // An H100 at 2.50 USD/h costs 0.000694444... USD a second: charged with the ledger's 8 decimals.
  const timer = setInterval(() => {
    const at = Date.now();
    request('debit', { idempotencyKey: `demo-${at}`, amount: '0.00069444', service: at % 2 ? 'gpu-container' : 'ai-notebook', workspaceId: 'ws-demo', resourceId: 'r-demo' }).catch((e) =>
      process.stdout.write(`[demo] debit failed: ${String(e)}\n`),
    );
  }, intervalMs);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    await nc.drain();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  process.stderr.write(`demo failed: ${error}\n`);
  process.exit(1);
});
