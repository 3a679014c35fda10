import { LoggerService } from '@nestjs/common';

/** One JSON object per line on stdout: what log shippers read without parsing rules. */
export class JsonLogger implements LoggerService {
  constructor(private readonly service: string) {}

  log(message: unknown, context?: string) {
    this.write('info', message, context);
  }
  error(message: unknown, trace?: string, context?: string) {
    this.write('error', message, context, trace);
  }
  warn(message: unknown, context?: string) {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string) {
    if (process.env.LOG_LEVEL === 'debug') this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    if (process.env.LOG_LEVEL === 'debug') this.write('verbose', message, context);
  }

  private write(level: string, message: unknown, context?: string, trace?: string) {
    const body = typeof message === 'object' && message !== null ? message : { msg: String(message) };
    process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, service: this.service, context, ...body, trace }) + '\n');
  }
}
