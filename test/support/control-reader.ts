import { AckPolicy, JsMsg, NatsConnection } from 'nats';

/**
 * A control plane's durable consumer of one organization's commands of one kind (`stop`,
 * `delete_storage`) on the engine's control stream, read as the control plane reads them: `drain`
 * takes what has arrived (waiting up to `ms` for more) and acknowledges it; `seen` keeps every
 * command read, with its subject.
 */
export async function controlReader(cp: NatsConnection, stream: string, subjectPrefix: string, org: string, command: 'stop' | 'delete_storage') {
  const durable = `cp-${command === 'stop' ? '' : 'del-'}${org}`;
  const jsm = await cp.jetstreamManager();
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: `${subjectPrefix}.control.${org}.${command}` });
  const consumer = await cp.jetstream().consumers.get(stream, durable);
  const seen: any[] = [];
  return {
    seen,
    async drain(ms = 1000): Promise<any[]> {
      const batch = await consumer.fetch({ max_messages: 100, expires: Math.max(1000, ms) });
      for await (const m of batch as AsyncIterable<JsMsg>) {
        seen.push({ ...JSON.parse(Buffer.from(m.data).toString('utf8')), subject: m.subject });
        m.ack();
      }
      return seen;
    },
  };
}
