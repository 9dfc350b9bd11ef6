'use strict';
// Role-specific routes. Each handler gets (req, res, ctx) with ctx = { path, query, params, body() }
// and returns via the helpers in http.js.
const crypto = require('node:crypto');
const cfg = require('./config.js');
const metrics = require('./metrics.js');
const { json, html } = require('./http.js');

const page = (title) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body><h1>${title}</h1><p>role ${cfg.role}, slot ${cfg.slot}, version ${cfg.version}</p></body></html>\n`;

function validDoc(b) {
  if (!b || typeof b !== 'object') return 'body must be a JSON object';
  if (typeof b.title !== 'string' || !b.title.trim() || b.title.length > 200) return 'title must be a non-empty string of at most 200 characters';
  if (b.body !== undefined && (typeof b.body !== 'string' || b.body.length > 100000)) return 'body must be a string of at most 100000 characters';
  return '';
}

function safeEqual(a, b) {
  const ha = crypto.createHash('sha256').update(String(a)).digest();
  const hb = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(ha, hb);
}

function apiRoutes() {
  const db = require('./db.js');
  const cache = require('./cache.js');
  return [
    ['GET', '/', async (req, res) => json(res, 200, { service: 'api', version: cfg.version, slot: cfg.slot })],
    ['GET', '/documents', async (req, res) => json(res, 200, { documents: await db.list() })],
    ['POST', '/documents', async (req, res, ctx) => {
      const b = await ctx.body();
      const bad = validDoc(b);
      if (bad) return json(res, 400, { error: bad });
      const doc = await db.create(b.title, b.body ?? '');
      metrics.created();
      res.setHeader('Location', `${cfg.prefix}/documents/${doc.id}`);
      return json(res, 201, doc);
    }],
    ['GET', '/documents/:id', async (req, res, ctx) => {
      const id = ctx.params.id;
      let doc = await cache.get(id);
      if (doc) { metrics.cacheHits(); res.setHeader('X-Cache', 'hit'); }
      else {
        metrics.cacheMisses();
        res.setHeader('X-Cache', 'miss');
        doc = await db.get(id);
        if (doc) await cache.set(id, doc);
      }
      if (!doc) return json(res, 404, { error: `document ${id} not found` });
      metrics.read();
      return json(res, 200, doc);
    }],
    ['PUT', '/documents/:id', async (req, res, ctx) => {
      const b = await ctx.body();
      const bad = validDoc(b);
      if (bad) return json(res, 400, { error: bad });
      await cache.del(ctx.params.id); // before the write: if Redis is down, nothing changes
      const doc = await db.update(ctx.params.id, b.title, b.body ?? '');
      await cache.del(ctx.params.id).catch(() => {});
      if (!doc) return json(res, 404, { error: `document ${ctx.params.id} not found` });
      metrics.updated();
      return json(res, 200, doc);
    }],
    ['DELETE', '/documents/:id', async (req, res, ctx) => {
      await cache.del(ctx.params.id);
      const gone = await db.remove(ctx.params.id);
      await cache.del(ctx.params.id).catch(() => {});
      if (!gone) return json(res, 404, { error: `document ${ctx.params.id} not found` });
      metrics.deleted();
      return json(res, 200, { id: Number(ctx.params.id), deleted: true });
    }],
    ['POST', '/auth/login', async (req, res, ctx) => {
      const b = await ctx.body();
      const ok = b && typeof b === 'object' && safeEqual(b.username ?? '', cfg.demoUser) && safeEqual(b.password ?? '', cfg.demoPassword);
      if (!ok) {
        metrics.authFailures();
        metrics.logins({ result: 'failure' });
        return json(res, 401, { error: 'invalid username or password' });
      }
      metrics.logins({ result: 'success' });
      return json(res, 200, { token: crypto.randomBytes(24).toString('base64url'), user: cfg.demoUser });
    }],
  ];
}

function frontendRoutes() {
  return [
    ['GET', '/', async (req, res) => html(res, 200, page('Document Management System'))],
    ['GET', '/__ratelimited', async (req, res) => {
      const raw = String(req.headers['x-dms-ratelimit-zone'] || 'unknown');
      const zone = /^[a-z0-9_]{1,32}$/.test(raw) ? raw : 'unknown';
      metrics.rateLimited({ zone });
      res.setHeader('Retry-After', '1');
      return json(res, 429, { error: 'too many requests', zone, retry_after_seconds: 1 });
    }],
  ];
}

function roleRoutes() {
  if (cfg.role === 'api') return apiRoutes();
  if (cfg.role === 'frontend') return frontendRoutes();
  const title = cfg.role === 'docs' ? 'DMS documentation' : 'DMS main application';
  return [['GET', '/', async (req, res) => html(res, 200, page(title))]];
}

/** Compile [method, pattern, handler] into matchers; ":id" matches a positive integer. */
function compile(routes) {
  return routes.map(([method, pattern, handler]) => {
    const re = new RegExp('^' + pattern.replace(/:id/g, '(?<id>[1-9][0-9]{0,14})') + '/?$');
    return { method, pattern, re, handler };
  });
}

module.exports = { compiled: compile(roleRoutes()) };
