import { AppError, isMediaType } from '@fileshare/shared';
import type { Exchange } from './exchange.js';
import { nonIntegerLiterals } from './json-numbers.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(;|$)/i;

/**
 * An optional JSON object body: empty is `{}`; otherwise it must be `application/json` (415),
 * parse (400) and be an object (400), within `limit` bytes (413). A number written other than as
 * plain digits (`1e3`, `5.0`) reads as NaN, so it fails every integer check (docs/decisions.md).
 */
export async function readJson(ex: Exchange, limit: number): Promise<Record<string, unknown>> {
  if (!ex.body) return {};
  const raw = await ex.body.readAll(limit);
  if (raw.length === 0) return {};
  if (!JSON_TYPE.test(ex.req.headers['content-type'] ?? '')) throw new AppError('json_required');
  const text = raw.toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AppError('invalid_json');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new AppError('invalid_json', 'json body must be an object');
  const body = v as Record<string, unknown>;
  for (const key of nonIntegerLiterals(text)) body[key] = Number.NaN;
  return body;
}

/** Checks one field's value (undefined when absent) and returns it typed; throws the field's AppError. */
export type Field<T> = (value: unknown) => T;
/** Checks a whole body; built by `object`. */
export type Schema<T> = (body: Record<string, unknown>) => T;

/**
 * A schema from one Field per key, checked in the order written (the first failure is the answer).
 * Keys not listed are ignored: clients may send more than we read.
 */
export function object<F extends Record<string, Field<unknown>>>(fields: F): Schema<{ [K in keyof F]: ReturnType<F[K]> }> {
  const entries = Object.entries(fields);
  return (body) => {
    const out: Record<string, unknown> = {};
    for (const [key, field] of entries) out[key] = field(body[key]);
    return out as { [K in keyof F]: ReturnType<F[K]> };
  };
}

/**
 * A ttl in whole seconds within 1..`max`; absent: `fallback` (capped at `max`). From JSON it must be
 * a number (a string "60" is refused: the contract says integer seconds); from a form (`fromForm`),
 * digits.
 */
export function ttl(max: number, fallback: number, fromForm = false): Field<number> {
  return (value) => {
    if (value === undefined) return Math.min(fallback, max);
    let n: number;
    if (!fromForm && typeof value === 'number') n = value;
    else if (fromForm && typeof value === 'string' && /^\d{1,12}$/.test(value)) n = Number(value);
    else throw new AppError('invalid_ttl');
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new AppError('invalid_ttl');
    return n;
  };
}

/** A string with something besides spaces in it; otherwise `invalid_field` saying `<name> is required`. */
export const requiredString =
  (name: string): Field<string> =>
  (value) => {
    if (typeof value !== 'string' || value.trim() === '') throw new AppError('invalid_field', `${name} is required`);
    return value;
  };

/** An optional media type (`type/subtype`, parameters allowed), at most 255 characters. */
export const optionalMediaType: Field<string | undefined> = (value) => {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 255 || !isMediaType(value)) throw new AppError('invalid_field', 'invalid content type');
  return value;
};

/** An optional byte count (absent or null: unknown); more than `max` is `file_too_large`. */
export const optionalSize =
  (max: number): Field<number | null> =>
  (value) => {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new AppError('invalid_field', 'invalid size');
    if (value > max) throw new AppError('file_too_large');
    return value;
  };

/**
 * The optional `maxDownloads` of a simple upload (form field, tus metadata): digits, 1 to the
 * server's cap; absent: as many downloads as wanted (the handbook's rule).
 */
export const downloadLimit =
  (cap: number) =>
  (value: string | undefined): { maxDownloads?: number } => {
    if (value === undefined) return {};
    const n = /^\d{1,9}$/.test(value) ? Number(value) : 0;
    if (n < 1 || n > cap) throw new AppError('invalid_max_downloads', `invalid max downloads: 1 to ${cap}`);
    return { maxDownloads: n };
  };
