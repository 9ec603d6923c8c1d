import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/**
 * Configuration: one schema, one file (YAML or JSON), environment overrides.
 * Every key has a default, an environment variable (FILESHARE_ + the key in upper snake
 * case, e.g. `models.upload.ttl` -> FILESHARE_MODELS_UPLOAD_TTL) and a doc line; the
 * configuration reference (docs/configuration.md) is generated from this table.
 * Invalid values stop the start with a message naming the key.
 */

import { SCHEMA, type Config, type ConfigKey, type KeyDef } from './config-schema.js';

export { SCHEMA, type Config, type ConfigKey } from './config-schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** FILESHARE_ + upper snake case of the key. */
export function envName(key: string): string {
  return (
    'FILESHARE_' +
    key
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/\./g, '_')
      .toUpperCase()
  );
}

function coerce(key: ConfigKey, raw: unknown, from: string): unknown {
  const def: KeyDef = SCHEMA[key];
  const bad = (want: string): never => {
    throw new ConfigError(`invalid config: ${key} (${from}) must be ${want}, got ${JSON.stringify(raw)}`);
  };
  switch (def.kind) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) bad('an integer');
      if (def.min !== undefined && n < def.min) bad(`an integer >= ${def.min}`);
      if (def.max !== undefined && n > def.max) bad(`an integer <= ${def.max}`);
      return n;
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return bad('true or false');
    case 'enum':
      if (typeof raw !== 'string' || !def.values!.includes(raw)) bad(`one of ${def.values!.join(', ')}`);
      return raw;
    case 'list':
      if (Array.isArray(raw) && raw.every((v) => typeof v === 'string')) return raw;
      if (typeof raw === 'string')
        return raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      return bad('a list of strings');
    default:
      if (typeof raw !== 'string') bad('a string');
      return raw;
  }
}

/** Flatten nested objects to dotted keys, leaving leaf arrays as values. */
function flatten(obj: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    out[prefix] = obj;
    return out;
  }
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (key in SCHEMA || v === null || typeof v !== 'object' || Array.isArray(v)) out[key] = v;
    else flatten(v, key, out);
  }
  return out;
}

/**
 * `FILESHARE_*` variables that are not configuration keys but are read elsewhere: the config file's
 * path, the command-line client's credentials and TLS switch, the compose file's credentials, the
 * test harness's node flags.
 */
const OTHER_VARIABLES = new Set(['FILESHARE_CONFIG', 'FILESHARE_URL', 'FILESHARE_USER', 'FILESHARE_PASSWORD', 'FILESHARE_INSECURE', 'FILESHARE_USERNAME', 'FILESHARE_NODE_ARGS']);

/**
 * `FILESHARE_*` environment variables that name no configuration key (a misspelt
 * `FILESHARE_HTTP_PROT` would otherwise be ignored without a word): servers warn about them,
 * `fileshare config check` fails on them.
 */
export function unknownVariables(env: NodeJS.ProcessEnv = process.env): string[] {
  const known = new Set((Object.keys(SCHEMA) as ConfigKey[]).map(envName));
  return Object.keys(env)
    .filter((k) => k.startsWith('FILESHARE_') && !known.has(k) && !OTHER_VARIABLES.has(k))
    .sort();
}

export interface LoadOptions {
  /** Config file path; default $FILESHARE_CONFIG, else ./fileshare.yml when present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values applied last (tests, CLI flags). */
  overrides?: Partial<Record<ConfigKey, unknown>>;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(SCHEMA)) out[key] = def.default;

  const file = opts.file ?? env.FILESHARE_CONFIG ?? (existsSync('fileshare.yml') ? 'fileshare.yml' : undefined);
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`invalid config: cannot read ${file}: ${(err as Error).message}`);
    }
    for (const [key, raw] of Object.entries(flatten(parsed ?? {}))) {
      if (!(key in SCHEMA)) throw new ConfigError(`invalid config: unknown key ${key} in ${file}`);
      out[key] = coerce(key as ConfigKey, raw, file);
    }
  }
  for (const key of Object.keys(SCHEMA) as ConfigKey[]) {
    const name = envName(key);
    if (env[name] !== undefined) out[key] = coerce(key, env[name], name);
  }
  for (const [key, raw] of Object.entries(opts.overrides ?? {})) {
    if (!(key in SCHEMA)) throw new ConfigError(`invalid config: unknown key ${key}`);
    out[key] = coerce(key as ConfigKey, raw, 'override');
  }
  const cfg = out as Config;
  if (cfg['limits.maxFileSize'] >= 1_000_000_000) {
    // Not fatal: chunked uploads pass; but Content-Length uploads this large are refused by uWS.
    process.emitWarning('limits.maxFileSize >= 1e9: single requests with such a Content-Length are refused by uWebSockets.js; chunked and resumable (tus) uploads can reach it');
  }
  const base = cfg['http.basePath'];
  if (!base.startsWith('/') || (base.length > 1 && base.endsWith('/')) || /[?#%\s]/.test(base))
    throw new ConfigError(`invalid config: http.basePath must start with "/" and not end with "/", got ${JSON.stringify(base)}`);
  const fixedUser = cfg['simpleUpload.authentication.username'];
  if (fixedUser.includes(':')) throw new ConfigError('invalid config: simpleUpload.authentication.username must not contain ":"');
  if (fixedUser && !cfg['simpleUpload.authentication.password']) throw new ConfigError('invalid config: simpleUpload.authentication.password is required when a username is set');
  return Object.freeze(cfg);
}

/** The effective config with secrets masked, for `fileshare config check` and start-up logs. */
export function describeConfig(cfg: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(SCHEMA) as [ConfigKey, KeyDef][]) {
    const v = cfg[key];
    out[key] = def.secret && v ? '********' : v;
  }
  return out;
}
