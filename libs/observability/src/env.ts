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
