'use strict';
// Versioned, expand-only SQL migrations.
//   node /app/src/migrate.js                       apply pending migrations
//   node /app/src/migrate.js --list-pending --json  report pending ones (and whether any contracts)
//   --allow-contract                               apply migrations marked "-- contract" too
// Files: $MIGRATIONS_DIR (default /app/migrations)/NNN_name.sql, applied in order up to
// $MIGRATIONS_UNTIL (e.g. 001) when set. Each runs in its own transaction under an advisory lock.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { Client } = require('pg');
const { pg } = require('./config.js');

const LOCK_ID = 727001; // pg_advisory_lock key for migrations
const dir = process.env.MIGRATIONS_DIR || path.join(__dirname, '..', 'migrations');
const until = process.env.MIGRATIONS_UNTIL || '';
const args = new Set(process.argv.slice(2));
const json = args.has('--json');

function readMigrations() {
  return fs.readdirSync(dir)
    .filter((f) => /^\d{3,}_[A-Za-z0-9_-]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = fs.readFileSync(path.join(dir, file), 'utf8');
      const version = file.split('_')[0];
      return {
        version, file, name: file.replace(/^\d+_/, '').replace(/\.sql$/, ''), sql,
        contract: /^--\s*contract\b/i.test(sql.split('\n')[0].trim()),
        checksum: crypto.createHash('sha256').update(sql).digest('hex'),
      };
    })
    .filter((m) => !until || Number(m.version) <= Number(until));
}

async function connect() {
  const deadline = Date.now() + Number(process.env.MIGRATE_CONNECT_TIMEOUT_MS || 30000);
  for (;;) {
    const client = new Client({ ...pg, connectionTimeoutMillis: 3000 });
    try { await client.connect(); return client; } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`can't connect to postgres at ${pg.host}:${pg.port}: ${err.message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function applied(client) {
  const { rows } = await client.query("SELECT to_regclass('public.schema_migrations') AS t");
  if (!rows[0].t) return new Map();
  const res = await client.query('SELECT version, checksum FROM schema_migrations');
  return new Map(res.rows.map((r) => [r.version, r.checksum]));
}

const out = (doc, text) => process.stdout.write(json ? JSON.stringify(doc) + '\n' : text + '\n');
const brief = (m) => ({ version: m.version, name: m.name, file: m.file, contract: m.contract });

async function main() {
  const all = readMigrations();
  const client = await connect();
  try {
    if (args.has('--list-pending')) {
      const done = await applied(client);
      const pending = all.filter((m) => !done.has(m.version));
      out({ pending: pending.map(brief), applied: [...done.keys()].sort(), contract: pending.some((m) => m.contract) },
        pending.length ? pending.map((m) => `pending ${m.file}${m.contract ? ' (contract)' : ''}`).join('\n') : 'no pending migrations');
      return 0;
    }
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = await applied(client);
    const pending = all.filter((m) => !done.has(m.version));
    const changed = all.filter((m) => done.has(m.version) && done.get(m.version) !== m.checksum).map((m) => m.file);
    const contracts = pending.filter((m) => m.contract);
    if (contracts.length && !args.has('--allow-contract')) {
      out({ ok: false, error: 'contract migrations refused', contract: contracts.map(brief) },
        `Can't migrate: ${contracts.map((m) => m.file).join(', ')} contract the schema (marked "-- contract"); ` +
        'the old release may still use it. Nothing was applied. Ship it in a later release or pass --allow-contract.');
      return 3;
    }
    const appliedNow = [];
    for (const m of pending) {
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
        appliedNow.push(m.file);
        if (!json) process.stdout.write(`applied ${m.file}\n`);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        out({ ok: false, applied: appliedNow, failed: m.file, error: err.message },
          `Can't apply ${m.file}: ${err.message}. It was rolled back; earlier ones stay applied.`);
        return 1;
      }
    }
    out({ ok: true, applied: appliedNow, changed }, appliedNow.length ? `${appliedNow.length} migration(s) applied` : 'schema is up to date');
    if (changed.length && !json) process.stderr.write(`warning: applied migrations changed since: ${changed.join(', ')}\n`);
    return 0;
  } finally {
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => {});
    await client.end().catch(() => {});
  }
}

main().then((code) => { process.exitCode = code; }, (err) => {
  out({ ok: false, error: err.message }, `Can't migrate: ${err.message}`);
  process.exitCode = 1;
});
