import { createHash } from 'crypto';
import { envSetting } from '@billing/observability';
import { parseAllowCidr, parseAllowHost } from './webhook-address-policy';
import { parseSecretKey, SecretKey } from './secret-box';

/**
 * The development key for webhook secrets: public (it is derived from this sentence), so that a
 * development machine runs with no setting. Production refuses it, and refuses to start without a key.
 */
export const DEVELOPMENT_SECRET_KEY: SecretKey = {
  id: 'dev',
  key: createHash('sha256').update('billing-alerts development key: public, never for production').digest(),
};

/** Where webhooks may go and how their secrets are kept; read once at start with the alert service's other settings. */
export interface WebhookSecurityConfig {
  /** NODE_ENV=production: https URLs only, and a real secret key required. */
  readonly production: boolean;
  /** ALERTS_WEBHOOK_ALLOW_CIDRS: address ranges allowed although not public (tests, private deployments). */
  readonly allowCidrs: readonly string[];
  /** ALERTS_WEBHOOK_ALLOW_HOSTS: host names allowed whatever they resolve to (cloud metadata excepted). */
  readonly allowHosts: readonly string[];
  /** Every key that may open a stored secret. */
  readonly secretKeys: readonly SecretKey[];
  /** The key that seals new secrets. */
  readonly activeSecretKeyId: string;
  /** To log once at start: the development key in use, allow-lists in effect. */
  readonly warnings: readonly string[];
}

/** `<NAME>` or the file `<NAME>_FILE` names (Docker and Kubernetes secrets); both set is an error. */
/** A setting or its `_FILE`, whitespace around it dropped (keys are pasted by hand). */
function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return envSetting(env, name)?.trim() || undefined;
}

/** A comma- or whitespace-separated list; each entry read by `parse`, whose error is prefixed with the variable. */
function list<T>(env: NodeJS.ProcessEnv, name: string, parse: (entry: string) => T): T[] {
  const entries = (env[name] ?? '').split(/[\s,]+/).filter((e) => e.length > 0);
  return entries.map((e) => {
    try {
      return parse(e);
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`);
    }
  });
}

export function loadWebhookSecurityConfig(env: NodeJS.ProcessEnv): WebhookSecurityConfig {
  const production = env.NODE_ENV === 'production';
  const warnings: string[] = [];
  const allowCidrs = list(env, 'ALERTS_WEBHOOK_ALLOW_CIDRS', (e) => (parseAllowCidr(e), e));
  const allowHosts = list(env, 'ALERTS_WEBHOOK_ALLOW_HOSTS', parseAllowHost);
  if (allowCidrs.length > 0 || allowHosts.length > 0) {
    warnings.push(`webhooks may go to these non-public targets: ${[...allowCidrs, ...allowHosts].join(', ')} (ALERTS_WEBHOOK_ALLOW_CIDRS, ALERTS_WEBHOOK_ALLOW_HOSTS)`);
  }

  const single = setting(env, 'ALERTS_SECRET_KEY');
  const several = setting(env, 'ALERTS_SECRET_KEYS');
  if (single && several) throw new Error('ALERTS_SECRET_KEY and ALERTS_SECRET_KEYS are both set; set one (ALERTS_SECRET_KEYS holds every key, the active one included)');
  let secretKeys: SecretKey[];
  if (single) secretKeys = [parseSecretKey(single, 'ALERTS_SECRET_KEY')];
  else if (several) secretKeys = several.split(/[\s,]+/).filter((e) => e.length > 0).map((e) => parseSecretKey(e, 'ALERTS_SECRET_KEYS'));
  else if (production) {
    throw new Error(
      'ALERTS_SECRET_KEY is required with NODE_ENV=production (or ALERTS_SECRET_KEY_FILE, or ALERTS_SECRET_KEYS for several): it encrypts the webhook signing secrets at rest. Generate one with `openssl rand -base64 32` (docs/alerts.md, "Secrets at rest").',
    );
  } else {
    secretKeys = [DEVELOPMENT_SECRET_KEY];
    warnings.push('ALERTS_SECRET_KEY is not set: webhook secrets are encrypted with the public development key, which NODE_ENV=production refuses');
  }
  if (production && secretKeys.some((k) => k.key.equals(DEVELOPMENT_SECRET_KEY.key))) {
    throw new Error('ALERTS_SECRET_KEY(S) holds the public development key, which NODE_ENV=production refuses; generate a key with `openssl rand -base64 32`');
  }
  const ids = new Set<string>();
  for (const k of secretKeys) {
    if (ids.has(k.id)) throw new Error(`ALERTS_SECRET_KEYS: the key id '${k.id}' appears twice`);
    ids.add(k.id);
  }
  const chosen = env.ALERTS_SECRET_KEY_ID?.trim();
  if (chosen && !ids.has(chosen)) throw new Error(`ALERTS_SECRET_KEY_ID '${chosen}' is not the id of a configured key (${[...ids].join(', ')})`);
  // The first key listed seals unless another is named: rotating is putting the new key first.
  const activeSecretKeyId = chosen || secretKeys[0].id;
  return { production, allowCidrs, allowHosts, secretKeys, activeSecretKeyId, warnings };
}
