import { ConfigError, loadConfig, unknownVariables, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';

export interface Running {
  /** Stop within `deadlineMs`: stop accepting, finish in-flight work, drain the bus, close stores. */
  stop(deadlineMs: number): Promise<void>;
}

/**
 * Run one process: load config (a bad key stops the start with one line naming it), start,
 * then on SIGTERM/SIGINT stop gracefully within `shutdown.deadline` and exit 0. A start that
 * fails prints one clear line and exits 1. Errors that escape a request are logged, never
 * fatal: one bad request must not take the process down.
 */
export async function runProcess(name: string, start: (cfg: Config, log: Logger) => Promise<Running>): Promise<void> {
  // The all-in-one process is called "fileshare" itself: its lines say "fileshare: …".
  const who = name === 'fileshare' ? 'fileshare' : `fileshare ${name}`;
  let cfg: Config;
  try {
    cfg = loadConfig();
  } catch (err) {
    process.stderr.write(`${who}: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger(cfg, name);
  const unknown = unknownVariables();
  if (unknown.length) {
    process.stderr.write(`${who}: warning: ignoring unknown environment variable${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (see docs/configuration.md)\n`);
    log.warn({ variables: unknown }, 'unknown FILESHARE_* environment variables ignored');
  }
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));

  let running: Running;
  try {
    running = await start(cfg, log);
  } catch (err) {
    log.fatal({ err }, 'start failed');
    process.stderr.write(`${who}: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = cfg['shutdown.deadline'] * 1000;
    log.info({ signal, deadlineMs: deadline }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, deadline + 5000).unref();
    running.stop(deadline).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** True when `import.meta.url` is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  return metaUrl === new URL(`file://${arg.startsWith('/') ? arg : `${process.cwd()}/${arg}`}`).href;
}
