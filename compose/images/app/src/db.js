'use strict';
// PostgreSQL access for documents (node-pg from Debian).
const { Pool } = require('pg');
const { pg, readyTimeoutMs } = require('./config.js');
const log = require('./log.js');

// Connections are opened before traffic arrives and kept: a slot that receives all traffic at
// once after a switch must not pay for ten SCRAM handshakes under load (seen as 503s in the
// blue-green e2e test when the pool was cold).
const POOL_SIZE = 10;
const pool = new Pool({ ...pg, max: POOL_SIZE, connectionTimeoutMillis: 5000, idleTimeoutMillis: 0, statement_timeout: 10000 });
pool.on('error', (err) => log.warn('postgres pool error', { error: err.message }));
// Readiness has its own connection: it asks whether PostgreSQL answers, not whether one of the ten
// request connections is free (under a saturating load the ping queued behind requests and /ready
// said 503: a verification window then switched a healthy release back, seen in CI).
const probe = new Pool({ ...pg, max: 1, connectionTimeoutMillis: readyTimeoutMs, idleTimeoutMillis: 0, statement_timeout: readyTimeoutMs });
probe.on('error', (err) => log.warn('postgres readiness connection error', { error: err.message }));

/** Opens every pooled connection in parallel (true when all are open; never throws). */
async function warm() {
  const results = await Promise.allSettled(Array.from({ length: POOL_SIZE }, () => pool.connect()));
  for (const r of results) if (r.status === 'fulfilled') r.value.release();
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) log.warn('postgres warm-up incomplete', { error: failed[0].reason.message, open: POOL_SIZE - failed.length });
  return failed.length === 0;
}

const COLS = 'id, title, body, created_at, updated_at';
const toDoc = (r) => r && { id: Number(r.id), title: r.title, body: r.body, created_at: r.created_at, updated_at: r.updated_at };

module.exports = {
  pool,
  warm,
  async ping() { await probe.query('SELECT 1'); },
  async list(limit = 100) {
    const { rows } = await pool.query(`SELECT ${COLS} FROM documents ORDER BY id DESC LIMIT $1`, [limit]);
    return rows.map(toDoc);
  },
  async get(id) {
    const { rows } = await pool.query(`SELECT ${COLS} FROM documents WHERE id = $1`, [id]);
    return toDoc(rows[0]);
  },
  async create(title, body) {
    const { rows } = await pool.query(`INSERT INTO documents (title, body) VALUES ($1, $2) RETURNING ${COLS}`, [title, body]);
    return toDoc(rows[0]);
  },
  async update(id, title, body) {
    const { rows } = await pool.query(
      `UPDATE documents SET title = $2, body = $3, updated_at = now() WHERE id = $1 RETURNING ${COLS}`, [id, title, body]);
    return toDoc(rows[0]);
  },
  async remove(id) {
    const { rowCount } = await pool.query('DELETE FROM documents WHERE id = $1', [id]);
    return rowCount > 0;
  },
  async close() { await Promise.all([pool.end(), probe.end()]); },
};
