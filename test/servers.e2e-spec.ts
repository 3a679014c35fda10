import { connect, NatsConnection, StorageType } from 'nats';
import { Client } from 'pg';
import { existsSync } from 'fs';
import { startNats, startPostgres, TcpProxy, TestNats, TestPostgres } from './support/servers';

/** The test servers do what the crash tests rely on: start, cut, restore, restart, stop by pid. */

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves with the outcome, or 'still waiting' after `ms`. */
function within<T>(ms: number, work: Promise<T>): Promise<T | 'still waiting'> {
  return Promise.race([work, new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), ms))]);
}

async function query(url: string, text: string, connectionTimeoutMillis = 5000): Promise<any[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('test servers', () => {
  let pg: TestPostgres | undefined;
  let proxy: TcpProxy | undefined;
  let nats: TestNats | undefined;

  afterAll(async () => {
    await proxy?.close().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
  }, 60_000);

  it('starts a PostgreSQL of its own that answers a query', async () => {
    pg = await startPostgres();
    expect(pg.port).not.toBe(5432);
    expect(await query(pg.url, 'select current_database() as db, 1 + 1 as two')).toEqual([{ db: 'test', two: 2 }]);
  }, 60_000);

  it('refuses connections through a proxy cut in refuse mode, at once, and forwards again once restored', async () => {
    proxy = await TcpProxy.start(pg!.url);
    const before = new Client({ connectionString: proxy.url });
    before.on('error', () => undefined);
    await before.connect();
    expect((await before.query('select 1 as one')).rows).toEqual([{ one: 1 }]);

    proxy.cut('refuse');
    await expect(before.query('select 1')).rejects.toThrow();
    const startedMs = Date.now();
    await expect(query(proxy.url, 'select 1', 5000)).rejects.toThrow();
    expect(Date.now() - startedMs).toBeLessThan(1000);

    proxy.restore();
    expect(await query(proxy.url, 'select 2 as two')).toEqual([{ two: 2 }]);
  }, 30_000);

  it('lets nothing through a proxy cut in blackhole mode, so queries hang until restored', async () => {
    const open = new Client({ connectionString: proxy!.url });
    open.on('error', () => undefined);
    await open.connect();
    proxy!.cut('blackhole');
    expect(await within(1000, open.query('select 1').catch(() => 'failed'))).toBe('still waiting');
    expect(await within(1000, query(proxy!.url, 'select 1', 60_000).catch(() => 'failed'))).toBe('still waiting');

    proxy!.restore();
    await open.end().catch(() => undefined);
    expect(await query(proxy!.url, 'select 3 as three')).toEqual([{ three: 3 }]);
  }, 30_000);

  it('restarts NATS on the same port with its JetStream streams kept', async () => {
    nats = await startNats();
    expect(nats.port).not.toBe(4222);
    let nc: NatsConnection = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'SERVERS_TEST', subjects: ['servers-test.>'], storage: StorageType.File });
    await nc.jetstream().publish('servers-test.one', Buffer.from('kept'));
    await nc.close();

    const firstPid = nats.pid;
    await nats.restart(500);
    expect(nats.pid).not.toBe(firstPid);
    expect(processExists(firstPid)).toBe(false);

    nc = await connect({ servers: nats.url });
    const info = await (await nc.jetstreamManager()).streams.info('SERVERS_TEST');
    await nc.close();
    expect(info.state.messages).toBe(1);
  }, 60_000);

  it('stops each server by its pid and removes its folder', async () => {
    const { pid: pgPid, dataDir } = pg!;
    const natsPid = nats!.pid;
    await pg!.stop();
    await nats!.stop();
    pg = nats = undefined;
    expect(processExists(pgPid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
    expect(processExists(natsPid)).toBe(false);
  }, 60_000);
});
