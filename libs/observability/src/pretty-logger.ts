import { LoggerService } from '@nestjs/common';

/**
 * Nest's start-up chatter (each module wired, each route mapped: some 60 lines before anything
 * useful): debug here, so that a developer's console starts with what the processes say.
 */
const FRAMEWORK_START_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'WebSocketsController', 'NestFactory']);

const LEVEL_LABELS = { info: 'INFO ', warn: 'WARN ', error: 'ERROR', debug: 'DEBUG', verbose: 'VERB ' } as const;
type Level = keyof typeof LEVEL_LABELS;
const COLOURS: Partial<Record<Level, string>> = { warn: '\x1b[33m', error: '\x1b[31m', debug: '\x1b[2m', verbose: '\x1b[2m' };
const RESET = '\x1b[0m';

/** A value as `key=value` writes it: bare when it reads unambiguously, else JSON (quoted, newlines escaped). */
function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return '[unserializable]';
    }
  }
  return String(value);
}

/**
 * One line a person reads, for development: `time level service [context] message key=value ...`
 * (time of day in UTC). The same fields as JsonLogger writes; a stack trace follows its line, indented.
 */
export class PrettyLogger implements LoggerService {
  private readonly colour: boolean;
  private readonly debugEnabled: boolean;

  constructor(
    private readonly service: string,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.colour = out.isTTY === true && !env.NO_COLOR;
    this.debugEnabled = env.LOG_LEVEL === 'debug';
  }

  log(message: unknown, context?: string) {
    if (context !== undefined && FRAMEWORK_START_CONTEXTS.has(context)) return this.debug(message, context);
    this.write('info', message, context);
  }
  error(message: unknown, trace?: string, context?: string) {
    this.write('error', message, context, trace);
  }
  warn(message: unknown, context?: string) {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string) {
    if (this.debugEnabled) this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    if (this.debugEnabled) this.write('verbose', message, context);
  }

  private write(level: Level, message: unknown, context?: string, trace?: string) {
    const { msg, ...fields } = typeof message === 'object' && message !== null ? (message as Record<string, unknown>) : { msg: message };
    const parts = [new Date().toISOString().slice(11, 23), LEVEL_LABELS[level], this.service];
    if (context) parts.push(`[${context}]`);
    if (msg !== undefined) parts.push(typeof msg === 'string' ? msg.replace(/\r?\n/g, ' ') : formatValue(msg));
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
    let line = parts.join(' ');
    if (this.colour && COLOURS[level]) line = `${COLOURS[level]}${line}${RESET}`;
    if (trace) line += `\n${trace.replace(/^/gm, '    ')}`;
    this.out.write(`${line}\n`);
  }
}
