import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger } from 'pino';

/** Keys that must never reach a log line, wherever they appear. */
const REDACT = [
  'authorization',
  'password',
  '*.authorization',
  '*.password',
  'headers.authorization',
  'req.headers.authorization',
  '*.secret',
];

/** One JSON logger per process; `service` names the emitting service on every line. */
export function createLogger(cfg: Pick<Config, 'log.level'>, service: string): Logger {
  return pino({
    level: cfg['log.level'],
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
  });
}
