import test from 'ava';
import {
  AppError,
  ConfigError,
  ERRORS,
  envName,
  errorFromWire,
  hashPassword,
  isId,
  isTokenId,
  loadConfig,
  newId,
  newTokenId,
  subjectMatches,
  createLogger,
  COMMANDS,
  EVENTS,
} from '@fileshare/shared';
import { PasswordVerifier } from '../../services/gateway/src/auth/verifier.js';

test('ids: UUID v4 for records; URL-safe tokens of 24 bytes: the issuing millisecond, then 144 random bits', (t) => {
  const ids = new Set(Array.from({ length: 1000 }, newId));
  t.is(ids.size, 1000);
  t.true([...ids].every(isId));
  t.false(isId(newId().toUpperCase()));
  const before = Date.now();
  const tokens = Array.from({ length: 1000 }, newTokenId);
  const after = Date.now();
  t.is(new Set(tokens).size, 1000);
  const bytes = tokens.map((x) => Buffer.from(x, 'base64url'));
  t.true(tokens.every((x, i) => isTokenId(x) && bytes[i].length === 24));
  // Time first (neighbours in the store's key index), in the first 8 characters...
  t.true(bytes.every((b) => b.readUIntBE(0, 6) >= before && b.readUIntBE(0, 6) <= after));
  // ...and the capability after it: 18 bytes whose every bit varies across ids (a constant or
  // counting tail would leave bits fixed), with about half of them set.
  const tails = bytes.map((b) => b.subarray(6));
  let ones = 0;
  for (let bit = 0; bit < 144; bit++) {
    const set = tails.filter((b) => (b[bit >> 3] >> (bit & 7)) & 1).length;
    t.true(set > 380 && set < 620, `bit ${bit} of the random part set in ${set} of 1000`);
    ones += set;
  }
  t.true(Math.abs(ones / (144 * 1000) - 0.5) < 0.01);
});

test('every error in the table has a lowercase message and an HTTP status; unknown wire codes are internal', (t) => {
  for (const [code, e] of Object.entries(ERRORS)) {
    const message: string = e.message;
    t.is(message, message.toLowerCase(), code);
    t.true(e.status >= 400 && e.status < 600, code);
  }
  t.is(new AppError('upload_expired').status, 410);
  t.deepEqual(new AppError('upload_expired').toJSON(), { message: 'upload expired', code: 'upload_expired' });
  t.is(errorFromWire('nope', 'leak').code, 'internal');
  t.is(errorFromWire('token_used', undefined).message, 'token already used');
});

test('subjects are defined once and follow the naming rules', (t) => {
  for (const s of Object.values(COMMANDS)) t.regex(s, /^(storage|tokens)\.[a-z]+(\.[a-z]+)?$/);
  for (const s of Object.values(EVENTS)) t.regex(s, /^fileshare\.evt\.[a-z]+\.[a-z]+$/);
  t.is(new Set(Object.values(COMMANDS)).size, Object.values(COMMANDS).length);
  t.true(subjectMatches('fileshare.evt.>', 'fileshare.evt.upload.stored'));
  t.true(subjectMatches('fileshare.evt.*.stored', 'fileshare.evt.upload.stored'));
  t.false(subjectMatches('fileshare.evt.*', 'fileshare.evt.upload.stored'));
  t.false(subjectMatches('fileshare.evt.>', 'fileshare.evt'));
});

test('config: defaults, file < environment < overrides, env names', (t) => {
  const cfg = loadConfig({ env: {} });
  t.is(cfg['models.upload.ttl'], 3600);
  t.is(cfg['models.session.ttl'], 604800);
  t.is(cfg['http.port'], 1446);
  t.is(cfg['http.basePath'], '/rtc/fileshare');
  t.true(cfg['limits.maxFileSize'] < 1_000_000_000);
  t.is(envName('simpleUpload.authentication.enabled'), 'FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_ENABLED');
  t.is(envName('http.tls.keyFile'), 'FILESHARE_HTTP_TLS_KEY_FILE');
  const c2 = loadConfig({ env: { FILESHARE_MODELS_UPLOAD_TTL: '60', FILESHARE_BUS_NATS_URL: 'nats://a:1, nats://b:2' }, overrides: { 'http.port': 0 } });
  t.is(c2['models.upload.ttl'], 60);
  t.deepEqual(c2['bus.natsUrl'], ['nats://a:1', 'nats://b:2']);
  t.is(c2['http.port'], 0);
  const bad: [Record<string, string>, RegExp][] = [
    [{ FILESHARE_HTTP_PORT: 'x' }, /http\.port/],
    [{ FILESHARE_HTTP_TLS_ENABLED: 'yes' }, /http\.tls\.enabled/],
    [{ FILESHARE_LOG_LEVEL: 'loud' }, /log\.level/],
    [{ FILESHARE_MODELS_SESSION_TTL: '0' }, /models\.session\.ttl/],
    [{ FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'a:b', FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_PASSWORD: 'x' }, /username/],
    [{ FILESHARE_SIMPLE_UPLOAD_AUTHENTICATION_USERNAME: 'a' }, /password is required/],
  ];
  for (const [env, re] of bad) {
    const e = t.throws(() => loadConfig({ env }));
    t.true(e instanceof ConfigError);
    t.regex(e.message, re);
  }
});

test('password hashes: scrypt, salted, verified in constant time, malformed is false', async (t) => {
  const h1 = await hashPassword('pw');
  const h2 = await hashPassword('pw');
  t.not(h1, h2);
  t.regex(h1, /^scrypt\$32768\$8\$1\$/);
  // Verified as the gateway verifies: on the PasswordVerifier's own thread.
  const v = new PasswordVerifier({ threads: 1, queue: 4 }, createLogger({ 'log.level': 'silent' }, 'test'));
  try {
    const verifyPassword = (pw: string, hash: string) => v.verify(pw, hash, '127.0.0.1');
    t.true(await verifyPassword('pw', h1));
    t.false(await verifyPassword('pW', h1));
    t.false(await verifyPassword('pw', 'plain'));
    t.false(await verifyPassword('pw', 'scrypt$1$1$1$$'));
  } finally {
    await v.close();
  }
});
