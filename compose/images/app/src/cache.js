'use strict';
// Redis read-through cache for documents (node-redis 4 from Debian).
const { createClient } = require('redis');
const { redis, cacheTtlS } = require('./config.js');
const log = require('./log.js');

let lastError = 'not connected yet';
const client = createClient({
  socket: { host: redis.host, port: redis.port, connectTimeout: 2000, reconnectStrategy: (n) => Math.min(n * 200, 2000) },
  password: redis.password || undefined,
});
client.on('error', (err) => {
  if (err.message !== lastError) log.warn('redis error', { error: err.message });
  lastError = err.message;
});
client.on('ready', () => { lastError = ''; log.info('redis ready'); });

let started = false;
function start() {
  if (started) return;
  started = true;
  client.connect().catch((err) => { lastError = err.message; });
}

const withTimeout = (p, ms, what) => Promise.race([
  p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms).unref()),
]);
const key = (id) => `dms:doc:${id}`;

module.exports = {
  start,
  async ping() {
    if (!client.isReady) throw new Error(lastError || 'not ready');
    await client.ping(); // /ready's deadline bounds it (server.js)
  },
  /** Cached document or null; a cache failure counts as a miss. */
  async get(id) {
    if (!client.isReady) return null;
    try {
      const v = await withTimeout(client.get(key(id)), 500, 'GET');
      return v ? JSON.parse(v) : null;
    } catch (err) { log.warn('cache get failed', { error: err.message }); return null; }
  },
  async set(id, doc) {
    if (!client.isReady) return;
    try { await withTimeout(client.set(key(id), JSON.stringify(doc), { EX: cacheTtlS }), 500, 'SET'); }
    catch (err) { log.warn('cache set failed', { error: err.message }); }
  },
  /** Invalidation must not be silently skipped: throws when Redis is unreachable. */
  async del(id) { await withTimeout(client.del(key(id)), 1000, 'DEL'); },
  async close() { if (client.isOpen) await client.quit().catch(() => client.disconnect()); },
};
