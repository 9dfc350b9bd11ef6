'use strict';
// Settings from the environment, read once.
const env = process.env;
const int = (name, def) => {
  const v = Number.parseInt(env[name] ?? '', 10);
  return Number.isFinite(v) && v >= 0 ? v : def;
};
const ROLES = { frontend: '', api: '/api', docs: '/docs', main: '/app' };
const role = env.ROLE || 'frontend';
if (!(role in ROLES)) {
  console.error(`Can't start: ROLE must be one of ${Object.keys(ROLES).join(', ')}, got ${JSON.stringify(role)}`);
  process.exit(2);
}

module.exports = {
  role,
  prefix: ROLES[role],
  slot: env.SLOT || 'blue',
  version: env.VERSION || 'dev',
  port: int('PORT', 8080),
  logLevel: env.LOG_LEVEL || 'info',
  startDelayMs: int('START_DELAY_MS', 0),
  failHealth: env.FAIL_HEALTH === '1' || env.FAIL_HEALTH === 'true',
  failAfterMs: int('FAIL_AFTER_MS', 0),
  slowMs: int('SLOW_MS', 0),
  // /ready's limit for each dependency's answer; below the probes' 3 s so a slow one is named
  readyTimeoutMs: int('READY_TIMEOUT_MS', 2500),
  maxDelayMs: 30000,
  shutdownCapMs: int('SHUTDOWN_CAP_MS', 25000),
  cacheTtlS: int('CACHE_TTL_S', 300),
  demoUser: env.DEMO_USER || 'demo',
  demoPassword: env.DEMO_PASSWORD || 'demo-password',
  pg: {
    host: env.PGHOST || 'postgres',
    port: int('PGPORT', 5432),
    user: env.PGUSER || env.POSTGRES_USER || 'dms',
    database: env.PGDATABASE || env.POSTGRES_DB || 'dms',
    password: env.POSTGRES_PASSWORD || env.PGPASSWORD || '',
  },
  redis: {
    host: env.REDIS_HOST || 'redis',
    port: int('REDIS_PORT', 6379),
    password: env.REDIS_PASSWORD || '',
  },
};
