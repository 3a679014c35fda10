import { connect } from 'nats';

/** The trivial responder: answers every request on its subject with a fixed small JSON reply. */
async function main(): Promise<void> {
  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-echo' });
  const reply = Buffer.from('{"ok":true}');
  nc.subscribe(`${process.env.SUBJECT_PREFIX}.wallet.>`, { callback: (_e, msg) => msg.respond(reply) });
  process.on('SIGTERM', () => void nc.drain().then(() => process.exit(0)));
  process.send?.('ready');
}

void main();
