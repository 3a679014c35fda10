import { writeFileSync } from 'fs';
import { Session } from 'inspector';
import path from 'path';
import { createBillingApp } from '../../apps/billing/src/app';
import { loadConfig } from '../../apps/billing/src/config';
import { LifecycleConsumer } from '../../apps/billing/src/resources/lifecycle.consumer';
import { ResourceService } from '../../apps/billing/src/resources/resource.service';
import { WalletService } from '../../apps/billing/src/wallet/wallet.service';

/**
 * The real engine, started as the benchmark's child process. Tells the parent when it is up,
 * and answers `stats` with its own CPU time, memory and counters; `profile-start` and
 * `profile-stop` record a CPU profile of a measured window (BENCH_PROFILE).
 */
function profiler(): void {
  const session = new Session();
  session.connect();
  process.on('message', (m: { type?: string; dir?: string }) => {
    if (m?.type === 'profile-start') {
      session.post('Profiler.enable', () => session.post('Profiler.start', () => process.send?.({ type: 'profile-started' })));
    } else if (m?.type === 'profile-stop') {
      session.post('Profiler.stop', (error, result) => {
        const file = path.join(m.dir ?? '.', `engine-${process.pid}-${Date.now()}.cpuprofile`);
        if (!error) writeFileSync(file, JSON.stringify(result.profile));
        process.send?.({ type: 'profile-stopped', path: error ? `failed: ${error}` : file });
      });
    }
  });
}

createBillingApp(loadConfig(), process.env.BENCH_ENGINE_LOG ? undefined : false).then(
  (app) => {
    profiler();
    process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
    process.on('message', (m: { type?: string; gc?: boolean }) => {
      if (m?.type !== 'stats') return;
      const gc = (globalThis as { gc?: () => void }).gc;
      if (m.gc && gc) gc();
      const resources = app.get(ResourceService);
      const wallets = app.get(WalletService);
      process.send?.({
        type: 'stats',
        cpu: process.cpuUsage(),
        memory: process.memoryUsage(),
        billableResources: resources.billable,
        resourceActors: resources.registry.size,
        walletActors: wallets.registry.size,
        lifecycleApplied: app.get(LifecycleConsumer).applied,
        commits: wallets.commitFlushes,
      });
    });
    process.send?.('ready');
  },
  (error) => {
    process.stderr.write(`engine failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
