/** What the control plane did to resources, counted between two summaries rather than told one by one. */
export type ResourceAction = 'started' | 'refused' | 'stopped' | 'replaced';

/** The part of a `balance` reply a summary shows. */
export interface BalanceView {
  readonly currency: string | null;
  readonly total: string;
  readonly plan: string;
  readonly voucher: string;
  readonly topup: string;
  readonly burnRatePerHour: string;
  readonly exact: { readonly total: string };
}

export interface OrgRow {
  readonly orgId: string;
  /** Null when the engine did not answer in time. */
  readonly balance: BalanceView | null;
  readonly running: number;
}

/** Notable happenings shown on one line; past that, "+N more". */
const MAX_NOTES_PER_LINE = 6;
const ACTIONS: readonly ResourceAction[] = ['started', 'stopped', 'replaced', 'refused'];

/**
 * The demo's console: every few seconds one short line per organization (balance and its parts,
 * burn, what runs) with what happened since the last one (thresholds crossed, GPUs the engine
 * stopped, depletion, top-ups, vouchers expired, resources started and stopped), never a line per event.
 */
export class DemoSummary {
  private readonly notes = new Map<string, string[]>();
  private readonly counts = new Map<string, Map<ResourceAction, number>>();
  /** GPUs the control plane stopped on the engine's command, by organization and the command's reason. */
  private readonly engineStops = new Map<string, Map<string, number>>();

  constructor(private readonly startedAtMs: number) {}

  /** Something worth a word in the next summary of `orgId` ('' for the demo as a whole). */
  note(orgId: string, text: string): void {
    const list = this.notes.get(orgId) ?? [];
    if (list.at(-1) !== text) list.push(text);
    this.notes.set(orgId, list);
  }

  count(orgId: string, action: ResourceAction): void {
    const counts = this.counts.get(orgId) ?? new Map<ResourceAction, number>();
    counts.set(action, (counts.get(action) ?? 0) + 1);
    this.counts.set(orgId, counts);
  }

  /** The control plane stopped a GPU of `orgId` on the engine's stop command (`reason`: the command's, such as available_exhausted). */
  engineStopped(orgId: string, reason: string): void {
    const stops = this.engineStops.get(orgId) ?? new Map<string, number>();
    stops.set(reason, (stops.get(reason) ?? 0) + 1);
    this.engineStops.set(orgId, stops);
  }

  /** The lines of one summary (one per organization, and one for the demo when it has news); forgets what they said. */
  lines(rows: readonly OrgRow[], nowMs: number): string[] {
    const head = `[demo ${clock(nowMs - this.startedAtMs)}]`;
    const width = Math.max(...rows.map((r) => r.orgId.length));
    const out: string[] = [];
    const general = this.take('');
    if (general.length) out.push(`${head} ${general.join(' · ')}`);
    for (const row of rows) {
      const b = row.balance;
      const state = b
        ? `${b.currency ?? ''} ${b.total} (plan ${b.plan}, voucher ${b.voucher}, top-up ${b.topup}) burn ${b.burnRatePerHour}/h, ${row.running} running`
        : `balance not answered, ${row.running} running`;
      const news = this.take(row.orgId);
      out.push(`${head} ${row.orgId.padEnd(width)} ${state.trim()}${news.length ? ` | ${news.join(' · ')}` : ''}`);
    }
    return out;
  }

  private take(orgId: string): string[] {
    const notes = this.notes.get(orgId) ?? [];
    const counts = this.counts.get(orgId);
    const counted = counts ? ACTIONS.filter((a) => counts.has(a)).map((a) => `${counts.get(a)} ${a === 'refused' ? 'starts refused' : a}`) : [];
    const stops = [...(this.engineStops.get(orgId) ?? [])].map(([reason, n]) => `engine stopped ${n} GPU${n === 1 ? '' : 's'}: ${reason.replace(/_/g, ' ')}`);
    this.notes.delete(orgId);
    this.counts.delete(orgId);
    this.engineStops.delete(orgId);
    const all = [...notes, ...stops, ...counted];
    return all.length > MAX_NOTES_PER_LINE ? [...all.slice(0, MAX_NOTES_PER_LINE - 1), `+${all.length - MAX_NOTES_PER_LINE + 1} more`] : all;
  }
}

function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
