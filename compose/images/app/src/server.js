'use strict';
// HTTP server for every role: common endpoints, test knobs, metrics and graceful shutdown.
const http = require('node:http');
const cfg = require('./config.js');
const log = require('./log.js');
const metrics = require('./metrics.js');
const { compiled } = require('./routes.js');
const { HttpError, json, text, readJson } = require('./http.js');

const startedAt = Date.now();
let draining = false;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failing = () => cfg.failAfterMs > 0 && Date.now() - startedAt >= cfg.failAfterMs;
const deps = cfg.role === 'api' ? { postgres: require('./db.js'), redis: require('./cache.js') } : {};

// A dependency that has not answered within cfg.readyTimeoutMs makes /ready say 503. When the
// deadline's timer fires, the event loop gets one more turn (setImmediate runs after the I/O poll)
// before the verdict: a process that was stalled (CPU-starved on a busy host) finds the answer
// that arrived meanwhile, instead of blaming a dependency that answered in time.
const deadline = (ms) => new Promise((_, reject) => setTimeout(
  () => setImmediate(() => reject(new Error(`no answer within ${ms} ms`))), ms).unref());

async function ready() {
  const checks = {};
  const reasons = [];
  await Promise.all(Object.entries(deps).map(async ([name, dep]) => {
    try {
      await Promise.race([dep.ping(), deadline(cfg.readyTimeoutMs)]);
      checks[name] = 'ok';
    } catch (err) { checks[name] = 'failed'; reasons.push(`${name}: ${err.message}`); }
  }));
  return { ready: reasons.length === 0, checks, reason: reasons.join('; ') || undefined };
}

function common(method, path) {
  if (method !== 'GET' && method !== 'HEAD') return null;
  if (path === '/health') return async (req, res) => json(res, cfg.failHealth ? 500 : 200, { status: cfg.failHealth ? 'failing' : 'ok' });
  if (path === '/ready') return async (req, res) => {
    if (cfg.failHealth) return json(res, 500, { ready: false, reason: 'FAIL_HEALTH is set' });
    if (draining) return json(res, 503, { ready: false, reason: 'shutting down' });
    const r = await ready();
    return json(res, r.ready ? 200 : 503, r);
  };
  if (path === '/version') return async (req, res) => json(res, 200, { version: cfg.version, slot: cfg.slot, role: cfg.role });
  if (path === '/metrics') return async (req, res) => text(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
  return null;
}
const COMMON = new Set(['/health', '/ready', '/version', '/metrics']);

function match(method, path) {
  const c = common(method, path);
  if (c) return { route: path, handler: c, params: {} };
  let wrongMethod = null;
  for (const r of compiled) {
    const m = r.re.exec(path);
    if (!m) continue;
    if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { route: r.pattern, handler: r.handler, params: m.groups || {} };
    wrongMethod = r.pattern;
  }
  if (wrongMethod) return { route: wrongMethod, handler: async (req, res) => json(res, 405, { error: `${method} not allowed` }), params: {} };
  if (COMMON.has(path)) return { route: path, handler: async (req, res) => json(res, 405, { error: `${method} not allowed` }), params: {} };
  return { route: 'unmatched', handler: async (req, res) => json(res, 404, { error: 'not found' }), params: {} };
}

async function handle(req, res) {
  const t0 = process.hrtime.bigint();
  res.setHeader('X-Slot', cfg.slot);
  res.setHeader('X-Version', cfg.version);
  res.setHeader('X-Role', cfg.role);
  if (draining) res.setHeader('Connection', 'close');
  const url = new URL(req.url || '/', 'http://app.invalid');
  let path = url.pathname;
  if (cfg.prefix && (path === cfg.prefix || path.startsWith(cfg.prefix + '/'))) path = path.slice(cfg.prefix.length) || '/';
  const { route, handler, params } = match(req.method, path);
  res.on('finish', () => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    metrics.requests({ route, method: req.method, status: res.statusCode });
    metrics.observe(route, seconds);
    log.debug('request', { method: req.method, path: url.pathname, route, status: res.statusCode, ms: Math.round(seconds * 1000) });
  });
  try {
    const delay = Math.min(cfg.maxDelayMs, cfg.slowMs + Math.max(0, Number.parseInt(url.searchParams.get('delay_ms') || '0', 10) || 0));
    if (delay > 0) await sleep(delay);
    if (failing() && path !== '/metrics') return json(res, 500, { error: 'failing on purpose (FAIL_AFTER_MS)' });
    await handler(req, res, { path, params, query: url.searchParams, body: () => readJson(req) });
  } catch (err) {
    if (err instanceof HttpError) return json(res, err.status, { error: err.message });
    log.error('request failed', { route, error: err.message });
    json(res, 503, { error: 'service unavailable', reason: err.message });
  }
}

const server = http.createServer({ keepAliveTimeout: 65000 }, (req, res) => { handle(req, res); });
server.headersTimeout = 66000;

function shutdown(signal) {
  if (draining) return;
  draining = true;
  log.info('shutting down', { signal });
  setTimeout(() => { log.warn('shutdown cap reached, exiting'); process.exit(1); }, cfg.shutdownCapMs).unref();
  server.close(async () => {
    await Promise.all(Object.values(deps).map((d) => d.close().catch(() => {})));
    log.info('stopped');
    process.exit(0);
  });
  server.closeIdleConnections();
  // Keep-alive connections that become idle after their last response are closed too.
  const sweep = setInterval(() => server.closeIdleConnections(), 200);
  sweep.unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

(async () => {
  if (deps.redis) deps.redis.start();
  if (cfg.startDelayMs > 0) { log.info('delaying start', { ms: cfg.startDelayMs }); await sleep(cfg.startDelayMs); }
  if (draining) return;
  if (deps.postgres) await deps.postgres.warm();
  server.listen(cfg.port, () => log.info('listening', { port: cfg.port }));
})();
