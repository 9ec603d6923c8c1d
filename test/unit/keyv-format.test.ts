/**
 * The record codec against keyv's own functions: its own file (process) because 3,000 values are
 * ~150 ms of synchronous work, which would stall the TTL-timed store contract tests beside it.
 */
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import test from 'ava';
import { decodeRecord, encodeRecord } from '../../shared/src/store/keyv-format.js';

const CHARS = ':",[]\\{}a\u00e9\u2028 ';

/** Strings heavy in what JSON and keyv's escaping care about: quotes, colons, commas, brackets, backslashes. */
function randomValue(depth: number, rnd: () => number): unknown {
  const str = () => Array.from({ length: Math.floor(rnd() * 6) }, () => CHARS[Math.floor(rnd() * CHARS.length)]).join('');
  const pick = Math.floor(rnd() * (depth > 2 ? 6 : 9));
  if (pick === 0) return str();
  if (pick === 1) return rnd() * 1e6 - 5e5;
  if (pick === 2) return rnd() < 0.5;
  if (pick === 3) return null;
  if (pick === 4) return Buffer.from(str());
  if (pick === 5) return new Date(Math.floor(rnd() * 2e12));
  if (pick === 6) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(depth + 1, rnd));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rnd() * 4); i > 0; i--) o[str()] = randomValue(depth + 1, rnd);
  if (rnd() < 0.2) o.skipped = undefined;
  return o;
}

test('records are stored exactly as keyv stores them: the same text written, the same value read, for any JSON value', (t) => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const fixed = [':a', '::', { ':key': ':value' }, [':x', 'y'], { a: 'b":c' }, 'a\\', { '': ':' }, Buffer.from('bytes'), { d: new Date(0) }, { n: null, u: undefined }];
  let fast = 0;
  for (let i = 0; i < 3000; i++) {
    const value = i < fixed.length ? fixed[i] : randomValue(0, rnd);
    const expires = i % 2 ? 1_800_000_000_000 + i : undefined;
    const text = encodeRecord({ value, expires });
    t.is(text, defaultSerialize({ value, expires }), `written: ${text}`);
    t.deepEqual(decodeRecord(text), defaultDeserialize(text), `read: ${text}`);
    if (text === JSON.stringify({ value, expires })) fast++;
  }
  // Both paths were taken: JSON's own (most records) and keyv's (colons, Buffers).
  t.true(fast > 300 && fast < 2700, `${fast} of 3000 on JSON's own path`);
});
