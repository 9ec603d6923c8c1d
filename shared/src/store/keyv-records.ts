import type { Keyv } from 'keyv';
import { AppError } from '../errors.js';
import type { Store } from './store.js';

/** Runs a store operation, turning a backend failure into a 503 for the caller. */
export async function guarded<T>(op: () => Promise<T> | T): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw Object.assign(new AppError('unavailable'), { cause: err });
  }
}

/**
 * Records through keyv (get/set/delete with TTL): the Redis store's. The SQLite store reads and
 * writes the same stored form without keyv's layers (keyv-format.ts). Each store adds the atomic
 * primitives with its own engine's tools (SQLite transactions, Redis commands/Lua).
 */
export abstract class KeyvRecords implements Pick<Store, 'get' | 'set' | 'delete'> {
  constructor(protected readonly keyv: Keyv) {}

  get<T>(key: string): Promise<T | undefined> {
    return guarded(() => this.keyv.get<T>(key));
  }
  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const ok = await guarded(() => this.keyv.set(key, value, ttlMs));
    if (!ok) throw new AppError('unavailable');
  }
  delete(key: string): Promise<boolean> {
    return guarded(() => this.keyv.delete(key));
  }
}
