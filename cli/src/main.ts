import { ConfigError, createLogger, dataPaths, describeConfig, loadConfig, runProcess, unknownVariables } from '@fileshare/shared';
import { CLIENT_OPTIONS, CLIENT_USAGE, clientConfig, parseArgs, type Parsed } from './client/args.js';
import { download, sessionCreate, sessionPut, tokenCreate, upload } from './client/commands.js';
import { ClientError, EXIT } from './client/http.js';
import type { ClientConfig } from './client/http.js';
import { configReference } from './config-docs.js';
import { startAllInOne } from './all-in-one.js';
import { addUser, readUsers, removeUser } from './users.js';
import { readSecret } from './prompt.js';

const HELP: Record<string, string> = {
  start:
    'fileshare start [all|gateway|storage|tokens|expiry]\n  Runs the service: "all" is the embedded all-in-one mode; the others are one service each (distributed mode, bus.kind=nats).',
  cluster: `fileshare cluster [OPTIONS]
  Starts nats-server, redis-server and every service as its own process on this machine.
  Options (defaults in brackets):
    --data-dir DIR       data, logs, engines' files [./data-cluster]
    --gateways N         gateway processes [1]
    --http-port PORT     first gateway's port; the next ones follow [1446, or $FILESHARE_HTTP_PORT]
    --nats-port PORT     nats-server [4222]
    --redis-port PORT    redis-server [6379]
    --storage-port PORT  storage data plane [7001, or $FILESHARE_STORAGE_PORT]
    --tokens-port PORT   tokens health/metrics [7002, or $FILESHARE_TOKENS_PORT]
    --expiry-port PORT   expiry health/metrics [7003, or $FILESHARE_EXPIRY_PORT]
  Everything but the gateways listens on 127.0.0.1 only.`,
  user: 'fileshare user add NAME | remove NAME | list\n  Manages the users file (scrypt hashes). add prompts for the password (or reads FILESHARE_NEW_PASSWORD).',
  config:
    'fileshare config check [FILE] | docs\n  check: validates the configuration (file + environment) and prints it with secrets masked.\n  docs: prints the configuration reference generated from the schema.',
  upload:
    'fileshare upload FILE [--ttl SECONDS] [--resumable | --resume] [--json]\n  Simple upload (POST /uploads); prints the download URL. Files over 64 MiB, or with --resumable, go up\n  resumably (tus, 32 MiB chunks, retried); --resume continues the interrupted upload of FILE (kept in\n  $XDG_STATE_HOME/fileshare/uploads.json, default ~/.local/state/…).',
  session:
    'fileshare session create [--ttl SECONDS] | put SESSION FILE [--resumable | --resume] [--json]\n  create: prints the new session id. put: adds FILE as a file entry and uploads it (resumably as upload\n  does); prints the file id.',
  token: 'fileshare token SESSION FILE_ID [--ttl SECONDS] [--json]\n  Issues a one-time download token; prints its URL.',
  download: 'fileshare download URL [-o FILE] [--json]\n  Saves a download (an upload URL or a token URL; no credentials needed).',
};

const USAGE = `fileshare — self-hosted file sharing

Server:
  fileshare start [all|gateway|storage|tokens|expiry]   run the service (default: all, embedded)
  fileshare cluster                                      run a local distributed deployment
                                                         (nats-server, redis-server, every service)
  fileshare user add NAME | remove NAME | list           manage the users file
  fileshare config check [FILE]                          validate config, print it (secrets masked)
  fileshare config docs                                  print the configuration reference (Markdown)

${CLIENT_USAGE}

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
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write((HELP[cmd] ?? USAGE) + '\n' + (CLIENT_COMMANDS.has(cmd) ? `\n${CLIENT_OPTIONS}\n` : ''));
    return HELP[cmd] ? 0 : 2;
  }
  if (CLIENT_COMMANDS.has(cmd)) return client(cmd, args.slice(1));
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
      if (sub === 'docs') {
        process.stdout.write(configReference());
        return 0;
      }
      if (sub !== 'check') return usage('fileshare config check [FILE] | docs');
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
    const unknown = unknownVariables();
    if (unknown.length) throw new ConfigError(`invalid config: unknown environment variable${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
    process.stdout.write(JSON.stringify(describeConfig(cfg), null, 2) + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`fileshare: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    return 2;
  }
}

const CLIENT_COMMANDS = new Set(['upload', 'session', 'token', 'download']);

/** The client commands: output for people, or JSON with --json; exit codes from EXIT. */
async function client(cmd: string, argv: string[]): Promise<number> {
  let p: Parsed;
  let cfg: ClientConfig;
  try {
    p = parseArgs(argv);
    cfg = clientConfig(p.flags);
    // A user but no password anywhere: ask for it on a terminal (never echoed); scripts get a 401.
    if (cmd !== 'download' && cfg.user !== undefined && cfg.password === undefined && process.stdin.isTTY) cfg.password = await readSecret(`password for ${cfg.user}: `);
  } catch (err) {
    process.stderr.write(`fileshare: ${(err as Error).message}\n`);
    return err instanceof ClientError ? err.exitCode : EXIT.usage;
  }
  const json = p.flags.json === true;
  const out = (human: string, data: unknown) => process.stdout.write((json ? JSON.stringify(data) : human) + '\n');
  try {
    if (cmd === 'upload') await upload(p, cfg, out);
    else if (cmd === 'download') await download(p, cfg, out);
    else if (cmd === 'token') await tokenCreate(p, cfg, out);
    else if (p.args[0] === 'create') await sessionCreate({ ...p, args: p.args.slice(1) }, cfg, out);
    else if (p.args[0] === 'put') await sessionPut({ ...p, args: p.args.slice(1) }, cfg, out);
    else return usage('fileshare session create | put SESSION FILE');
    return EXIT.ok;
  } catch (err) {
    const code = err instanceof ClientError ? err.exitCode : EXIT.failure;
    if (json) process.stdout.write(JSON.stringify({ error: (err as Error).message, exitCode: code }) + '\n');
    process.stderr.write(`fileshare ${cmd}: ${(err as Error).message}\n`);
    return code;
  }
}
