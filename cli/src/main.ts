import { ConfigError, createLogger, dataPaths, describeConfig, loadConfig, runProcess } from '@fileshare/shared';
import { startAllInOne } from './all-in-one.js';
import { addUser, readUsers, removeUser } from './users.js';
import { readSecret } from './prompt.js';

const USAGE = `fileshare — self-hosted file sharing

Server:
  fileshare start [all|gateway|storage|tokens|expiry]   run the service (default: all, embedded)
  fileshare cluster                                      run a local distributed deployment
                                                         (nats-server, redis-server, every service)
  fileshare user add NAME | remove NAME | list           manage the users file
  fileshare config check [FILE]                          validate config, print it (secrets masked)

Options: --config FILE (or FILESHARE_CONFIG); every key also as FILESHARE_<KEY> (see docs/configuration.md).
Exit codes: 0 ok, 1 failure, 2 usage or configuration error.`;

/** Runs a command; resolves to the exit code (long-running commands never resolve). */
export async function run(argv: string[]): Promise<number> {
  const args = [...argv];
  const cfgIdx = args.indexOf('--config');
  if (cfgIdx >= 0) {
    process.env.FILESHARE_CONFIG = args[cfgIdx + 1];
    args.splice(cfgIdx, 2);
  }
  const [cmd, sub, ...rest] = args;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd ? 0 : 2;
  }
  switch (cmd) {
    case 'start':
      return start(sub ?? 'all');
    case 'cluster': {
      const { runCluster } = await import('./cluster.js');
      return runCluster(args.slice(1));
    }
    case 'user':
      return user(sub, rest[0]);
    case 'config':
      if (sub !== 'check') return usage('fileshare config check [FILE]');
      return configCheck(rest[0]);
    default:
      return usage(`unknown command "${cmd}"`);
  }
}

function usage(msg: string): number {
  process.stderr.write(`fileshare: ${msg}\n\n${USAGE}\n`);
  return 2;
}

async function start(which: string): Promise<number> {
  const mains: Record<string, () => Promise<{ main: Parameters<typeof runProcess>[1] }>> = {
    gateway: () => import('@fileshare/gateway/main'),
    storage: () => import('@fileshare/storage/main'),
    tokens: () => import('@fileshare/tokens/main'),
    expiry: () => import('@fileshare/expiry/main'),
  };
  if (which === 'all') {
    await runProcess('fileshare', startAllInOne);
  } else if (mains[which]) {
    await runProcess(which, (await mains[which]()).main);
  } else return usage(`unknown service "${which}"`);
  return new Promise<number>(() => undefined); // runs until a signal
}

async function user(sub: string | undefined, name: string | undefined): Promise<number> {
  const cfg = loadConfig();
  const file = dataPaths(cfg).usersFile;
  if (sub === 'list') {
    for (const u of readUsers(file).users) process.stdout.write(u.username + '\n');
    return 0;
  }
  if (!name || (sub !== 'add' && sub !== 'remove')) return usage('fileshare user add NAME | remove NAME | list');
  if (sub === 'remove') {
    if (!removeUser(file, name)) {
      process.stderr.write(`fileshare: no user "${name}"\n`);
      return 1;
    }
    process.stdout.write(`removed ${name}\n`);
    return 0;
  }
  const password = process.env.FILESHARE_NEW_PASSWORD ?? (await readSecret(`password for ${name}: `));
  try {
    await addUser(file, name, password);
  } catch (err) {
    process.stderr.write(`fileshare: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`saved ${name} to ${file}\n`);
  return 0;
}

function configCheck(file?: string): number {
  try {
    const cfg = loadConfig(file ? { file } : {});
    createLogger(cfg, 'config'); // the level parses
    process.stdout.write(JSON.stringify(describeConfig(cfg), null, 2) + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`fileshare: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    return 2;
  }
}
