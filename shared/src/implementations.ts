/**
 * The bus and store implementations, apart from the index: each pulls in a driver
 * (nats, better-sqlite3, @redis/client) that a process only loads when its config names it
 * (see connect.ts). Import from `@fileshare/shared/implementations`.
 */
export { NatsBus, type NatsBusOptions } from './bus/nats.js';
export { SqliteStore } from './store/sqlite.js';
export { RedisStore } from './store/redis.js';
