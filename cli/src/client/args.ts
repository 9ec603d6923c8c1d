/** The client commands' command line: options, usage text, and where credentials come from. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ClientError, EXIT, type ClientConfig } from './http.js';

export const CLIENT_OPTIONS = `Client options: --url BASE (e.g. https://host:1446/rtc/fileshare), --user NAME or -u NAME[:PASSWORD]
(curl's form), --insecure or -k (accept a self-signed certificate), --json (machine-readable output);
"--name value" and "--name=value" alike.
Credentials: FILESHARE_URL, FILESHARE_USER, FILESHARE_PASSWORD, or ~/.config/fileshare/client.json
({"url","user","password","insecure"}); with no password anywhere, it is asked for on a terminal.
Exit codes: 0 ok, 1 failure, 2 usage, 3 authentication, 4 not found or gone.`;

export const CLIENT_USAGE = `Client:
  fileshare upload FILE [--ttl SECONDS]             simple upload; prints the download URL
             [--resumable | --resume]               in resumable chunks (always above 64 MiB); --resume
             [--chunk-size BYTES]                   continues this file's interrupted upload
  fileshare session create [--ttl SECONDS]          prints the session id
  fileshare session put SESSION FILE                adds FILE to the session; prints the file id
             [--resumable | --resume]               as for upload
  fileshare token SESSION FILE_ID [--ttl SECONDS]   one-time download URL for one recipient
  fileshare download URL [-o FILE] [--force]        saves a download into the current directory under
                                                    the server's name (never a dot-file, never elsewhere);
                                                    an existing file is kept unless --force

${CLIENT_OPTIONS}`;

export interface Parsed {
  args: string[];
  flags: Record<string, string | true>;
}

/** Options that take a value, by their long name; short forms as curl spells them. */
const VALUED = new Set(['ttl', 'url', 'user', 'password', 'output', 'chunk-size']);
const SWITCHES = new Set(['insecure', 'json', 'force', 'resumable', 'resume']);
const SHORT: Record<string, string> = { o: 'output', u: 'user', k: 'insecure' };

/**
 * `--name value`, `--name=value`, `--switch`, and the short forms `-o FILE`, `-u USER`, `-k`;
 * everything else positional. An unknown option is a usage error (a misspelt `--tll 60` must not
 * upload with the default ttl), and so is a value given to a switch.
 */
export function parseArgs(argv: string[]): Parsed {
  const args: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-' || !a.startsWith('-')) {
      args.push(a);
      continue;
    }
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    const eq = a.indexOf('=');
    const raw = eq > 0 ? a.slice(0, eq) : a;
    const name = raw.startsWith('--') ? raw.slice(2) : SHORT[raw.slice(1)];
    if (!name || (!VALUED.has(name) && !SWITCHES.has(name))) throw new ClientError(`unknown option ${raw}`, EXIT.usage);
    if (SWITCHES.has(name)) {
      if (eq > 0) throw new ClientError(`${raw} takes no value`, EXIT.usage);
      flags[name] = true;
    } else if (eq > 0) flags[name] = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new ClientError(`${raw} needs a value`, EXIT.usage);
      flags[name] = argv[++i];
    }
  }
  return { args, flags };
}

export function clientConfig(flags: Parsed['flags'], env = process.env): ClientConfig {
  const file = join(env.HOME ?? homedir(), '.config', 'fileshare', 'client.json');
  const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<ClientConfig>) : {};
  const url = (flags.url as string) ?? env.FILESHARE_URL ?? saved.url ?? 'https://localhost:1446/rtc/fileshare';
  let user = (flags.user as string) ?? env.FILESHARE_USER ?? saved.user;
  let password = (flags.password as string) ?? env.FILESHARE_PASSWORD ?? saved.password;
  // curl's `--user name:password`.
  if (user !== undefined && user.includes(':')) {
    password = user.slice(user.indexOf(':') + 1);
    user = user.slice(0, user.indexOf(':'));
  }
  return {
    url: url.replace(/\/$/, ''),
    user,
    password,
    insecure: flags.insecure === true || env.FILESHARE_INSECURE === 'true' || saved.insecure === true,
  };
}
