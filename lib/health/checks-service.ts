// The health checks that ask a service, from the app's manifest: nginx's public listener, each service through
// it (role_<service>), each running slot's replicas at their readiness path (slot_<slot>), the accessories
// (PostgreSQL and Redis by their protocol, any other by TCP).
import { appOf } from '../manifest/app-model.ts'
import { probeHttp, probeTcp } from '../probe.ts'
import { probePostgres, probeRedis } from '../probe-stores.ts'
import type { Slot } from '../model.ts'
import { evaluateHttp, evaluatePostgres, evaluateRedis } from './evaluate.ts'
import type { CheckResult } from './model.ts'
import { accessoryProbes, slotProbes, storeChecks } from './probe-list.ts'
import { SLOTS, type CheckDef, type Sources } from './sources.ts'

export function serviceChecks(s: Sources): CheckDef[] {
  const t = s.input.thresholds
  const app = appOf(s.input.config)
  const stores = storeChecks(app)
  return [
    {
      name: 'public_https',
      onTimeout: 'CRITICAL',
      run: async () => evaluateHttp('public_https', await s.publicNginx(), t),
    },
    ...Object.entries(s.serviceProbes).map(
      ([service, probe]): CheckDef => ({
        name: `role_${service}`,
        onTimeout: 'CRITICAL',
        run: async () => evaluateHttp(`role_${service}`, await probe(), t),
      }),
    ),
    ...SLOTS.map(
      (slot): CheckDef => ({ name: `slot_${slot}`, onTimeout: 'CRITICAL', run: (sig) => slotCheck(s, slot, sig) }),
    ),
    ...(stores.includes('postgres')
      ? [{ name: 'postgres', onTimeout: 'CRITICAL', run: (sig) => postgresCheck(s, sig) } satisfies CheckDef]
      : []),
    ...(stores.includes('redis')
      ? [{ name: 'redis', onTimeout: 'CRITICAL', run: (sig) => redisCheck(s, sig) } satisfies CheckDef]
      : []),
    ...accessoryProbes(app, s.input.config.netPrefix).map(
      (a): CheckDef => ({
        name: `accessory_${a.name}`,
        onTimeout: 'CRITICAL',
        run: async (sig) => evaluateHttp(`accessory_${a.name}`, await probeTcp(a.host, a.port, s.timeoutMs, sig), t),
      }),
    ),
  ]
}

async function redisCheck(s: Sources, signal: AbortSignal): Promise<CheckResult> {
  const { config } = s.input
  const password = config.redisPassword ? { password: config.redisPassword } : {}
  const r = await probeRedis({
    host: '127.0.0.1',
    port: config.ports.redis,
    ...password,
    timeoutMs: s.timeoutMs,
    signal,
  })
  return evaluateRedis(r, s.input.thresholds)
}

/** Every replica of a running slot at its readiness path; null when the slot runs nothing. */
async function slotCheck(s: Sources, slot: Slot, signal: AbortSignal): Promise<CheckResult | null> {
  const name = `slot_${slot}`
  const running = (await s.appSlots())[slot].filter((c) => c.state === 'running')
  if (running.length === 0) return null
  const versions = [...new Set(running.map((c) => c.version).filter(Boolean))]
  const { config } = s.input
  const results = await Promise.all(
    slotProbes(appOf(config), config.netPrefix, slot).map((p) =>
      probeHttp({ name: p.name, url: p.url, expectStatus: 200, timeoutMs: s.timeoutMs, signal }),
    ),
  )
  const bad = results.filter((r) => !r.ok)
  const slowest = results.reduce((a, b) => (b.latencyMs > a.latencyMs ? b : a))
  if (bad.length) {
    return {
      name,
      status: 'CRITICAL',
      latencyMs: slowest.latencyMs,
      detail: `${bad.length} of ${results.length} containers failing their readiness path: ${bad.map((r) => `${r.name} ${r.detail}`).join('; ')}`,
    }
  }
  const detail = `${versions.join(', ') || 'unknown version'}: all ${results.length} containers ready`
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
