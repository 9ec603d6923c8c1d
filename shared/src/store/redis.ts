/**
 * Redis store for the distributed mode: records through keyv + @keyv/redis, atomic primitives
 * as single Redis commands or one Lua script on the client keyv already holds. Layout:
 *   fs:<key>            keyv records (JSON with keyv's envelope), Redis TTL = record TTL
 *   fs:claim:<key>      SET NX PX markers
 *   fs:set:<name>       Redis sets
 *   fs:expiry           the expiry index: a sorted set scored by due time (ms)
 * Commands fail fast (no offline queue) while Redis is unreachable, so requests answer 503
 * instead of hanging; the client reconnects on its own.
 */
import KeyvRedis, { createClient, type RedisClientType } from '@keyv/redis';
import { Keyv } from 'keyv';
import type { Logger } from 'pino';
import { decodeRecord, encodeRecord } from './keyv-format.js';
import { KeyvRecords, guarded } from './keyv-records.js';
import type { Store } from './store.js';

const EXPIRY = 'fs:expiry';
/** Take due items and push their score to the lease end, atomically. */
const CLAIM_DUE = `
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(items) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], m) end
return items`;

export class RedisStore extends KeyvRecords implements Store {
  private constructor(
    keyv: Keyv,
    private readonly client: RedisClientType,
  ) {
    super(keyv);
  }

  static async connect(url: string, log: Logger, connectTimeoutMs = 30_000): Promise<RedisStore> {
    let lastLogged = 0;
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
    }) as RedisClientType;
    client.on('error', (err: Error) => {
      // The client retries by itself; say so at most once a second.
      if (Date.now() - lastLogged > 1000) {
        lastLogged = Date.now();
        log.warn({ err: err.message, url: redactUrl(url) }, 'redis connection error');
      }
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`cannot connect to Redis at ${redactUrl(url)} within ${connectTimeoutMs} ms`)), connectTimeoutMs).unref(),
    );
    try {
      await Promise.race([client.connect(), timeout]);
    } catch (err) {
      client.destroy();
      throw err;
    }
    const adapter = new KeyvRedis(client, { throwOnErrors: true, throwOnConnectError: true });
    return new RedisStore(new Keyv({ store: adapter, namespace: 'fs', throwOnErrors: true, serialize: encodeRecord, deserialize: decodeRecord }), client);
  }

  private cmd<T>(args: string[]): Promise<T> {
    return guarded(() => this.client.sendCommand<T>(args));
  }

  async claim(key: string, ttlMs?: number): Promise<boolean> {
    const args = ['SET', `fs:claim:${key}`, '1', 'NX'];
    if (ttlMs) args.push('PX', String(Math.max(1, Math.ceil(ttlMs))));
    return (await this.cmd<string | null>(args)) === 'OK';
  }
  lease(key: string, ttlMs: number): Promise<boolean> {
    return this.claim(key, ttlMs);
  }
  async release(key: string): Promise<void> {
    await this.cmd(['DEL', `fs:claim:${key}`]);
  }
  async renew(key: string, ttlMs: number): Promise<boolean> {
    return (await this.cmd<number>(['PEXPIRE', `fs:claim:${key}`, String(Math.max(1, Math.ceil(ttlMs)))])) === 1;
  }
  async claimed(key: string): Promise<boolean> {
    return (await this.cmd<number>(['EXISTS', `fs:claim:${key}`])) === 1;
  }
  async addMember(set: string, member: string): Promise<void> {
    await this.cmd(['SADD', `fs:set:${set}`, member]);
  }
  async removeMember(set: string, member: string): Promise<void> {
    await this.cmd(['SREM', `fs:set:${set}`, member]);
  }
  members(set: string): Promise<string[]> {
    return this.cmd<string[]>(['SMEMBERS', `fs:set:${set}`]);
  }
  async deleteSet(set: string): Promise<void> {
    await this.cmd(['DEL', `fs:set:${set}`]);
  }
  async schedule(item: string, atMs: number): Promise<void> {
    await this.cmd(['ZADD', EXPIRY, String(atMs), item]);
  }
  async unschedule(item: string): Promise<void> {
    await this.cmd(['ZREM', EXPIRY, item]);
  }
  claimDue(nowMs: number, leaseMs: number, limit: number): Promise<string[]> {
    return this.cmd<string[]>(['EVAL', CLAIM_DUE, '1', EXPIRY, String(nowMs), String(nowMs + leaseMs), String(limit)]);
  }
  async dueAt(item: string): Promise<number | undefined> {
    const score = await this.cmd<string | null>(['ZSCORE', EXPIRY, item]);
    return score === null ? undefined : Number(score);
  }
  async ping(): Promise<void> {
    await this.cmd(['PING']);
  }
  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close().catch(() => this.client.destroy());
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
