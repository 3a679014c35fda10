import { randomBytes } from 'crypto';
import { isolatedNames, startEngine, TestEngine, WalletClient } from './support/engine';
import { FakeProviders } from './support/fake-providers';
import { startGateway, TestGateway } from './support/gateway';
import { eventually } from './support/lifecycle';

/**
 * A crossing no gateway heard (balance changes are live NATS messages): the organization's balance
 * falls below its trigger while no gateway runs, and nothing changes after (its GPUs were
 * stopped, say). The next gateway reads every balance with auto top-up on when it starts, as it
 * does when its NATS connection comes back, and tops it up.
 */
describe('auto top-up: a crossing nobody heard', () => {
  const names = isolatedNames();
  const run = randomBytes(3).toString('hex');
  const fakes = new FakeProviders('autotopupmissed');
  let engine: TestEngine;
  let client: WalletClient;
  let gateway: TestGateway | null = null;

  beforeAll(async () => {
    await fakes.start();
    engine = await startEngine({}, names);
    client = await WalletClient.connect(names.subjectPrefix);
  });

  afterAll(async () => {
    await gateway?.stop();
    await engine?.dispose(client.nc);
    await client?.close();
    await fakes.stop();
  });

  it('tops up, once, an organization that crossed while no gateway listened', async () => {
    const org = `atm-${run}`;
    const ids = { customer: `cus_${org.replace(/-/g, '_')}`, id: `pm_${org.replace(/-/g, '_')}` };
    fakes.stripe.savePaymentMethod(ids.customer, ids.id, org);
    const env = { ...fakes.gatewayEnv(), PAYMENTS_SWEEP_INTERVAL_MS: '200' };
    expect((await client.request(org, 'topup', { idempotencyKey: 't-1', amount: '100', currency: 'USD', provider: 'bank', reference: 'b-1' })).ok).toBe(true);

    const first = await startGateway(names.subjectPrefix, env);
    fakes.deliverTo(first.url);
    const put = await fetch(`${first.url}/api/v1/autotopup`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${first.token(org)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ currency: 'USD', trigger: { amount: '50.00' }, target: '200.00', maxPerTopup: '500.00', maxPerDay: '1000.00', maxPerMonth: '5000.00', paymentMethod: ids, consent: true }),
    });
    expect(put.status).toBe(200);
    await first.stop();

    // Below the trigger with no gateway running: the announcement reaches nobody.
    expect((await client.request(org, 'debit', { idempotencyKey: 'd-1', amount: '60', service: 'gpu-container', workspaceId: 'ws-1' })).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(fakes.stripe.offSessionIntents().filter((pi) => pi.metadata.orgId === org)).toHaveLength(0);

    gateway = await startGateway(names.subjectPrefix, env);
    fakes.deliverTo(gateway.url);
    await eventually(async () => (await client.request(org, 'balance')).balance.total, (t) => t === '200.00');
    await new Promise((r) => setTimeout(r, 500));
    expect(fakes.stripe.offSessionIntents().filter((pi) => pi.metadata.orgId === org)).toHaveLength(1);
  });
});
