/**
 * Records as keyv stores them: `{"value":…,"expires":…}` written by @keyv/serialize, whose only
 * differences from JSON are a string value that starts with `:` (stored with one more `:`) and a
 * Buffer (stored as a `:base64:` string). keyv's serializer builds the JSON by string
 * concatenation in JavaScript and its parser calls a reviver for every value; here a record takes
 * V8's own `JSON.stringify`/`JSON.parse` whenever the text shows neither case, and keyv's
 * functions otherwise, so the stored bytes are the same either way: the Redis store hands these
 * to keyv as its serializer, and the SQLite store, which reads and writes its table without
 * keyv's layers (hooks, stats, an adapter: four awaits per get or set), uses them directly.
 * Records written before (through keyv's own serializer) read the same.
 */
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';

/** What keyv stores around a value: its absolute expiry (ms) when it has a TTL. */
export interface KeyvEnvelope<T = unknown> {
  value?: T;
  expires?: number;
}

/**
 * A string value starting with `:` is written `":` right after `:` (a member's value), `,` or `[`
 * (an array's element); a Buffer becomes such a string too. Keys never get the extra `:`, but a
 * key starting with one also matches: those take keyv's slower path, which gives the same text.
 */
const COLON_STRING = /[:,[]":/;
/** How `JSON.stringify` writes a Buffer (keyv writes it as a `:base64:` string). */
const BUFFER_JSON = '{"type":"Buffer","data":[';

/** The text keyv's default serializer would store for `envelope` (keyv's `serialize` option). */
export function encodeRecord(envelope: { value?: unknown; expires?: number | null }): string {
  const text = JSON.stringify(envelope);
  return COLON_STRING.test(text) || text.includes(BUFFER_JSON) ? defaultSerialize(envelope) : text;
}

/** The envelope keyv's default deserializer would read from `text` (keyv's `deserialize` option). */
export function decodeRecord<T>(text: string): KeyvEnvelope<T> | undefined {
  return (COLON_STRING.test(text) ? defaultDeserialize(text) : JSON.parse(text)) as KeyvEnvelope<T> | undefined;
}
