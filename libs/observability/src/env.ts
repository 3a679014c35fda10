import { readFileSync } from 'fs';

/**
 * Reading settings from the environment, once at start: a value that does not fit stops the
 * process with the variable named, instead of running with a surprise.
 */
export function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

export function envToken(env: NodeJS.ProcessEnv, name: string, fallback: string, pattern: RegExp): string {
  const v = env[name] || fallback;
  if (!pattern.test(v)) throw new Error(`${name} '${v}' does not match ${pattern}`);
  return v;
}

/** A secret file is a password or a key, not a document: anything longer is a mistake. */
export const MAX_SETTING_FILE_BYTES = 64 * 1024;

/**
 * A setting or secret from `<NAME>`, or from the file `<NAME>_FILE` names (Docker and
 * Kubernetes mount secrets as files). The file's trailing line breaks are dropped; an empty
 * value counts as not set. Both set, an unreadable or oversized file: an error naming the variable.
 */
export function envSetting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new Error(`${name} and ${name}_FILE are both set; set one`);
  if (!file) return direct || undefined;
  let text: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > MAX_SETTING_FILE_BYTES) throw new Error(`larger than ${MAX_SETTING_FILE_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (error) {
    throw new Error(`${name}_FILE '${file}' cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return text.replace(/[\r\n]+$/, '') || undefined;
}

/**
 * A secret, or a setting whose default suits only a development machine: what production
 * refuses to start without. `devDefault` is what development runs with when it is not set.
 */
export interface GuardedSetting {
  readonly name: string;
  /** Another variable (or its file) that does instead: NATS_CREDS instead of the role's NATS password. */
  readonly orElse?: string;
  readonly devDefault?: string;
  /** The least length production accepts (an HS256 key shorter than its hash is weak: RFC 7518 3.2). */
  readonly minLength?: number;
  /** Values production refuses whatever else (PAYMENT_PROVIDERS=offline: payments that are made up). */
  readonly refusedValues?: readonly string[];
  /** Left unset is fine (it has a default production accepts): only `refusedValues` are refused. */
  readonly optional?: boolean;
}

/** The value of a guarded setting: its variable (or file), else its development default. */
export function guardedSetting(env: NodeJS.ProcessEnv, setting: GuardedSetting): string {
  const value = envSetting(env, setting.name);
  if (value !== undefined) return value;
  if (setting.devDefault === undefined) throw new Error(`${setting.name} is not set`);
  return setting.devDefault;
}

/** Placeholders as examples write them (`change-me`, `changeme`, `CHANGE_ME`): public, whatever the setting. */
const PLACEHOLDER = /change[-_ ]?me/i;

export interface SettingsReview {
  /** Production refuses these: each names its variable and what is wrong. */
  readonly problems: string[];
  /** Development runs with these defaults (or without these credentials). */
  readonly devDefaults: string[];
}

/** Every guarded setting looked at once, so that one message can name every one that is wrong. */
export function reviewSettings(env: NodeJS.ProcessEnv, settings: readonly GuardedSetting[]): SettingsReview {
  const problems: string[] = [];
  const devDefaults: string[] = [];
  const seen = new Set<string>();
  for (const s of settings) {
    if (seen.has(s.name)) continue;
    seen.add(s.name);
    const label = s.orElse ? `${s.name} (or ${s.orElse})` : s.name;
    let value: string | undefined;
    let other: string | undefined;
    try {
      value = envSetting(env, s.name);
      other = s.orElse ? envSetting(env, s.orElse) : undefined;
    } catch (error) {
      problems.push((error as Error).message);
      continue;
    }
    if (value === undefined && other !== undefined) continue;
    if (value === undefined && s.optional) continue;
    if (value !== undefined && s.refusedValues?.includes(value)) {
      problems.push(`${s.name}=${value} is refused in production`);
      devDefaults.push(`${s.name}=${value}`);
    } else if (value === undefined) {
      problems.push(`${label} is missing`);
      devDefaults.push(label);
    } else if (value === s.devDefault || PLACEHOLDER.test(value)) {
      problems.push(`${s.name} is a development default`);
      devDefaults.push(s.name);
    } else if (s.minLength !== undefined && value.length < s.minLength) {
      problems.push(`${s.name} is shorter than ${s.minLength} characters`);
    }
  }
  return { problems, devDefaults };
}

export function isProduction(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_ENV === 'production';
}

/**
 * The first thing each process does. With NODE_ENV=production and any guarded setting missing,
 * a development default or too weak: one message naming every such variable, and exit 78
 * (EX_CONFIG) before anything is opened. Otherwise, in development: one warning listing the
 * development defaults in use (none when `DEV_DEFAULTS_WARNED=1`: `npm start` has printed one
 * for all its processes).
 */
export function refuseDevelopmentDefaults(processName: string, settings: readonly GuardedSetting[], env: NodeJS.ProcessEnv = process.env, stderr: NodeJS.WritableStream = process.stderr): void {
  const review = reviewSettings(env, settings);
  if (isProduction(env)) {
    if (review.problems.length === 0) return;
    stderr.write(`${processName} refuses to start with NODE_ENV=production: ${review.problems.join('; ')}. Set each (or <NAME>_FILE, a file holding it); see README, "Production checklist".\n`);
    process.exit(EXIT_CONFIG);
  }
  if (review.devDefaults.length > 0 && env.DEV_DEFAULTS_WARNED !== '1') {
    stderr.write(`${processName}: running with development defaults, which NODE_ENV=production refuses: ${review.devDefaults.join(', ')}\n`);
  }
}

/** sysexits.h EX_CONFIG: a configuration error, which restarting will not fix. */
export const EXIT_CONFIG = 78;
