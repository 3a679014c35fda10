import { LoggerService } from '@nestjs/common';
import { isProduction } from './env';
import { JsonLogger } from './json-logger';
import { PrettyLogger } from './pretty-logger';

export type LogFormat = 'json' | 'pretty';

/**
 * LOG_FORMAT (`json` or `pretty`), else JSON lines with NODE_ENV=production (what log shippers
 * read) and one readable line each in development.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const value = env.LOG_FORMAT;
  if (value === undefined || value === '') return isProduction(env) ? 'json' : 'pretty';
  if (value === 'json' || value === 'pretty') return value;
  throw new Error(`LOG_FORMAT must be json or pretty, got '${value}'`);
}

/** The logger of a process (`billing`, `gateway`, `alerts`), in the format its environment asks for. */
export function processLogger(service: string, env: NodeJS.ProcessEnv = process.env): LoggerService {
  return logFormat(env) === 'json' ? new JsonLogger(service) : new PrettyLogger(service, process.stdout, env);
}
