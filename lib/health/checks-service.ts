// The health checks that ask a service: nginx's public listener, each role through it, each running
// slot through the preview listener, PostgreSQL and Redis.
import { ROLES, ROLE_PREFIX } from '../model.ts'
import { probeHttp } from '../probe.ts'
import { probePostgres, probeRedis } from '../probe-stores.ts'
import type { Slot } from '../model.ts'
import { evaluateHttp, evaluatePostgres, evaluateRedis } from './evaluate.ts'
import type { CheckResult } from './model.ts'
import { SLOTS, type CheckDef, type Sources } from './sources.ts'

export function serviceChecks(s: Sources): CheckDef[] {
  const t = s.input.thresholds
  return [
    {
      name: 'public_https',
      onTimeout: 'CRITICAL',
      run: async () => evaluateHttp('public_https', await s.publicNginx(), t),
    },
    ...ROLES.map(
      (role): CheckDef => ({
        name: `role_${role}`,
        onTimeout: 'CRITICAL',
        run: async () => evaluateHttp(`role_${role}`, await s.roleProbes[role](), t),
      }),
    ),
    ...SLOTS.map(
      (slot): CheckDef => ({ name: `slot_${slot}`, onTimeout: 'CRITICAL', run: (sig) => slotCheck(s, slot, sig) }),
    ),
    { name: 'postgres', onTimeout: 'CRITICAL', run: (sig) => postgresCheck(s, sig) },
    {
      name: 'redis',
      onTimeout: 'CRITICAL',
      run: async (signal) => {
        const { config } = s.input
        const password = config.redisPassword ? { password: config.redisPassword } : {}
        const r = await probeRedis({
          host: '127.0.0.1',
          port: config.ports.redis,
          ...password,
          timeoutMs: s.timeoutMs,
          signal,
        })
        return evaluateRedis(r, t)
      },
    },
  ]
}

/** Every role of a running slot through the preview listener; null when the slot runs nothing. */
async function slotCheck(s: Sources, slot: Slot, signal: AbortSignal): Promise<CheckResult | null> {
  const name = `slot_${slot}`
  const running = (await s.appSlots())[slot].filter((c) => c.state === 'running')
  if (running.length === 0) return null
  const versions = [...new Set(running.map((c) => c.version).filter(Boolean))]
  const results = await Promise.all(
    ROLES.map((role) =>
      probeHttp({
        name: role,
        url: s.https(s.input.config.ports.preview, `${ROLE_PREFIX[role]}/ready`),
        headers: { 'X-DMS-Slot': slot },
        expectStatus: 200,
        header: ['x-slot', slot],
        insecure: true,
        timeoutMs: s.timeoutMs,
        signal,
      }),
    ),
  )
  const bad = results.filter((r) => !r.ok)
  const slowest = results.reduce((a, b) => (b.latencyMs > a.latencyMs ? b : a))
  if (bad.length) {
    return {
      name,
      status: 'CRITICAL',
      latencyMs: slowest.latencyMs,
      detail: `${bad.length} of ${results.length} roles failing through the preview listener: ${bad.map((r) => `${r.name} ${r.detail}`).join('; ')}`,
    }
  }
  const detail = `${versions.join(', ') || 'unknown version'}: all ${results.length} roles ready`
  return evaluateHttp(name, { ...slowest, detail }, s.input.thresholds)
}

async function postgresCheck(s: Sources, signal: AbortSignal): Promise<CheckResult> {
  const { config } = s.input
  if (!config.postgres.password)
    return {
      name: 'postgres',
      status: 'UNKNOWN',
      latencyMs: 0,
      detail: `no POSTGRES_PASSWORD in ${config.localFile}: nothing deployed yet?`,
    }
  const r = await probePostgres({
    host: '127.0.0.1',
    port: config.ports.postgres,
    user: config.postgres.user,
    password: config.postgres.password,
    database: config.postgres.db,
    timeoutMs: s.timeoutMs,
    signal,
  })
  return evaluatePostgres(r, s.input.thresholds)
}
