// A SessionStore on Redis. It takes a client the application made (an
// `ioredis` Redis or Cluster, or anything with the same three methods), so
// core itself depends on no Redis library.
import { InvalidArgumentError } from './errors.js';
import type { SessionStore } from './session-store.js';

/** The ioredis methods the store uses (`new Redis(…)` from `ioredis` fits). */
export interface RedisSessionClient {
  getBuffer(key: string): Promise<Buffer | null>;
  set(key: string, value: Buffer, mode: 'EX', seconds: number): Promise<unknown>;
  del(key: string): Promise<number>;
}

export interface RedisSessionStoreOptions {
  /** Key prefix; the key is the prefix and the session ID in hex. Default `rxtls:session:`. */
  prefix?: string;
}

/**
 * A session store on Redis: each session is one key (`prefix` + the ID in
 * hex) holding the serialised session as binary, set with `SET … EX ttl` so
 * Redis forgets it when the server would.
 *
 * Give the client `enableOfflineQueue: false` (ioredis): while Redis is
 * down, commands then fail at once and handshakes go on without
 * resumption, instead of queueing until `sessionStoreTimeout`; ioredis
 * reconnects by itself and resumption comes back with Redis.
 *
 * @example
 * import { Redis } from 'ioredis';
 * const redis = new Redis({ host: '127.0.0.1', enableOfflineQueue: false });
 * createTlsServer({ cert, key, sessionStore: createRedisSessionStore(redis) }, onConnection);
 */
export function createRedisSessionStore(client: RedisSessionClient, options: RedisSessionStoreOptions = {}): SessionStore {
  if (typeof client !== 'object' || client === null || typeof client.getBuffer !== 'function' || typeof client.set !== 'function' || typeof client.del !== 'function')
    throw new InvalidArgumentError('Expected "client" to be an ioredis client (getBuffer, set, del)');
  const prefix = options.prefix ?? 'rxtls:session:';
  if (typeof prefix !== 'string') throw new InvalidArgumentError('Expected "prefix" to be a string');
  const key = (id: Buffer): string => prefix + id.toString('hex');
  return {
    async get(id) {
      return (await client.getBuffer(key(id))) ?? undefined;
    },
    async set(id, session, ttlSeconds) {
      await client.set(key(id), session, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    async delete(id) {
      await client.del(key(id));
    },
  };
}
