// The health-check operation: every check in parallel under one deadline, each turned
// into a CheckResult. A check still running at the deadline is reported (CRITICAL for
// services that should answer, UNKNOWN for facts that could not be read) and the run
// returns by the deadline.
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Thresholds } from '../config-health.ts'
import type { Paths } from '../paths.ts'
import { type Slot, type Role, ROLES, ROLE_PREFIX } from '../model.ts'
import type { Config } from '../config.ts'
import { slotProject } from '../compose.ts'
import { readLive } from '../nginx.ts'
import { probeHttp, probePostgres, probeRedis, runProbes } from '../probe.ts'
import type { ProbeResult } from '../probe.ts'
import { readState } from '../state.ts'
import { LIVE_RESTORE_OFF, liveRestoreEnabled } from '../docker-daemon.ts'
import {
  evaluateContainers,
  evaluateDisk,
  evaluateDrift,
  evaluateHttp,
  evaluateLoad,
  evaluateLock,
  evaluateMemory,
  evaluatePostgres,
  evaluateRedis,
  evaluateTls,
} from './evaluate.ts'
import type { ContainerFact, RestartMemory } from './evaluate.ts'
import { certView } from '../certs-op.ts'
import { readCertFile, readContainers, readDisks, readLoad, readLockFact, readMemory } from './facts.ts'
import { summarize } from './model.ts'
import type { CheckResult, CheckStatus, HealthReport } from './model.ts'

export type HealthInput = {
  config: Config
  paths: Paths
  thresholds: Thresholds
  thresholdProblems: readonly string[]
  /** container restart counts seen by earlier runs */
  restarts: RestartMemory
  deadlineMs: number
  now?: () => Date
}

/** A check: null means "does not apply now" (a slot that is not running). */
type CheckDef = { name: string; onTimeout: CheckStatus; run: (signal: AbortSignal) => Promise<CheckResult | null> }

const SLOTS: readonly Slot[] = ['blue', 'green']

const elapsedSince = (t: number) => Math.round((performance.now() - t) * 10) / 10

/** Runs fn and wraps a thrown error into an UNKNOWN result for this check. */
async function fact(name: string, fn: () => Promise<CheckResult> | CheckResult): Promise<CheckResult> {
  const t = performance.now()
  try {
    const r = await fn()
    return r.latencyMs ? r : { ...r, latencyMs: elapsedSince(t) }
  } catch (e) {
    return { name, status: 'UNKNOWN', latencyMs: elapsedSince(t), detail: `can't tell: ${(e as Error).message}` }
  }
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined
  return () => (p ??= fn())
}

export async function runHealthCheck(input: HealthInput): Promise<{ report: HealthReport; restarts: RestartMemory }> {
  const { config, paths, thresholds: t } = input
  const now = input.now ?? (() => new Date())
  const startedAt = now()
  const t0 = performance.now()
  const host = config.localAddr
  const timeoutMs = Math.max(100, Math.min(t.probeTimeoutMs, input.deadlineMs - 50))
  // one controller for facts shared between checks, aborted when the run ends
  const shared = new AbortController()
  const https = (port: number, p: string) => `https://${host}:${port}${p}`

  const projects = [...new Set([config.composeProject, ...SLOTS.map((s) => slotProject(config, s))])]
  const containers = once(() => readContainers(projects, shared.signal))
  const appSlots = async (): Promise<Record<Slot, ContainerFact[]>> => {
    const all = await containers()
    const apps = all.filter((c) => c.slot && (ROLES as readonly string[]).includes(c.service))
    return { blue: apps.filter((c) => c.slot === 'blue'), green: apps.filter((c) => c.slot === 'green') }
  }
  const publicNginx = once(() =>
    probeHttp({
      url: https(config.ports.https, '/nginx-health'),
      expectStatus: 200,
      bodyPattern: /ok/,
      insecure: true,
      timeoutMs,
      signal: shared.signal,
    }),
  )
  const roleProbe = (role: Role) =>
    probeHttp({
      url: https(config.ports.https, `${ROLE_PREFIX[role]}/ready`),
      expectStatus: 200,
      header: ['x-role', role],
      insecure: true,
      timeoutMs,
      signal: shared.signal,
    })
  const roleProbes = Object.fromEntries(ROLES.map((r) => [r, once(() => roleProbe(r))])) as Record<
    Role,
    () => Promise<ProbeResult>
  >
  let restarts: RestartMemory = input.restarts

  const defs: CheckDef[] = []
  if (input.thresholdProblems.length) {
    defs.push({
      name: 'thresholds',
      onTimeout: 'UNKNOWN',
      run: async () => ({
        name: 'thresholds',
        status: 'UNKNOWN',
        latencyMs: 0,
        detail: `bad HEALTH_* settings in the env file: ${input.thresholdProblems.join('; ')}`,
      }),
    })
  }
  defs.push({
    name: 'public_https',
    onTimeout: 'CRITICAL',
    run: async () => evaluateHttp('public_https', await publicNginx(), t),
  })
  for (const role of ROLES) {
    defs.push({
      name: `role_${role}`,
      onTimeout: 'CRITICAL',
      run: async () => evaluateHttp(`role_${role}`, await roleProbes[role](), t),
    })
  }
  for (const slot of SLOTS) {
    const name = `slot_${slot}`
    defs.push({
      name,
      onTimeout: 'CRITICAL',
      run: async (signal) => {
        const running = (await appSlots())[slot].filter((c) => c.state === 'running')
        if (running.length === 0) return null
        const versions = [...new Set(running.map((c) => c.version).filter(Boolean))]
        const results = await Promise.all(
          ROLES.map((role) =>
            probeHttp({
              name: role,
              url: https(config.ports.preview, `${ROLE_PREFIX[role]}/ready`),
              headers: { 'X-DMS-Slot': slot },
              expectStatus: 200,
              header: ['x-slot', slot],
              insecure: true,
              timeoutMs,
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
        const r = evaluateHttp(
          name,
          { ...slowest, detail: `${versions.join(', ') || 'unknown version'}: all ${results.length} roles ready` },
          t,
        )
        return r
      },
    })
  }
  defs.push({
    name: 'postgres',
    onTimeout: 'CRITICAL',
    run: async (signal) =>
      config.postgres.password
        ? evaluatePostgres(
            await probePostgres({
              host: '127.0.0.1',
              port: config.ports.postgres,
              user: config.postgres.user,
              password: config.postgres.password,
              database: config.postgres.db,
              timeoutMs,
              signal,
            }),
            t,
          )
        : {
            name: 'postgres',
            status: 'UNKNOWN',
            latencyMs: 0,
            detail: `no POSTGRES_PASSWORD in ${config.localFile}: nothing deployed yet?`,
          },
  })
  defs.push({
    name: 'redis',
    onTimeout: 'CRITICAL',
    run: async (signal) =>
      evaluateRedis(
        await probeRedis({
          host: '127.0.0.1',
          port: config.ports.redis,
          ...(config.redisPassword ? { password: config.redisPassword } : {}),
          timeoutMs,
          signal,
        }),
        t,
      ),
  })
  defs.push({
    name: 'containers',
    onTimeout: 'UNKNOWN',
    run: () =>
      fact('containers', async () => {
        const t1 = performance.now()
        const r = evaluateContainers(await containers(), input.restarts, now(), t, 0)
        restarts = r.memory
        return { ...r.result, latencyMs: elapsedSince(t1) }
      }),
  })
  defs.push({
    name: 'host_disk',
    onTimeout: 'UNKNOWN',
    run: () => fact('host_disk', async () => evaluateDisk(await readDisks([paths.varDir, '/']), t)),
  })
  defs.push({
    name: 'host_memory',
    onTimeout: 'UNKNOWN',
    run: () => fact('host_memory', () => evaluateMemory(readMemory(), t)),
  })
  defs.push({
    name: 'host_load',
    onTimeout: 'UNKNOWN',
    run: () => fact('host_load', () => evaluateLoad(readLoad(), t)),
  })
  defs.push({
    name: 'tls_certificate',
    onTimeout: 'UNKNOWN',
    run: () =>
      fact('tls_certificate', async () => {
        const p = await publicNginx()
        // issuer, names and the renewal date of the pair nginx serves (the handshake gives days left)
        const v = certView(config, paths)
        const about = v.served ? { issuer: v.served.issuer, names: v.served.names, nextRenewal: v.nextRenewal } : {}
        if (p.tls)
          return evaluateTls({ ...p.tls, ...about, source: `served on port ${config.ports.https}` }, t, p.latencyMs)
        const file = path.join(paths.certs, 'tls.crt')
        try {
          return evaluateTls(readCertFile(file), t)
        } catch (e) {
          return evaluateTls(
            { error: `the listener did not answer (${p.detail}) and ${file} is unreadable (${(e as Error).message})` },
            t,
          )
        }
      }),
  })
  defs.push({
    name: 'drift',
    onTimeout: 'UNKNOWN',
    run: () =>
      fact('drift', async () => {
        const t1 = performance.now()
        const state = readState(paths.state, config.target)
        const routing = readLive(paths.live)
        const markerLive: Slot | null = routing.markers.includes('green')
          ? 'green'
          : routing.markers.includes('blue')
            ? 'blue'
            : null
        const splitMarkers = routing.markers.filter((m) => /^to-(blue|green)-b\d+$/.test(m))
        const [slots, nginxView, ...roleResults] = await Promise.all([
          appSlots(),
          probeHttp({
            url: `http://${host}:${config.ports.status}/live-slot`,
            expectStatus: 200,
            keepBody: true,
            timeoutMs,
            signal: shared.signal,
          }),
          ...ROLES.map((r) => roleProbes[r]()),
        ])
        const headerSlot = roleResults.map((r) => r.headers?.['x-slot']).find((s) => s !== undefined)
        let nginxLive: Slot | undefined
        try {
          const live = nginxView.ok ? JSON.parse(nginxView.body ?? 'null')?.live : undefined
          if (live === 'blue' || live === 'green') nginxLive = live
        } catch {
          nginxLive = undefined
        }
        const running = (s: Slot) => slots[s].filter((c) => c.state === 'running').map((c) => c.version ?? '?')
        const lock = readLockFact(paths.lock)
        return evaluateDrift(
          {
            stateLive: state.live,
            markerLive,
            splitMarkers,
            headerSlot,
            ...(nginxLive ? { nginxLive } : {}),
            recorded: { blue: state.slots.blue?.version ?? null, green: state.slots.green?.version ?? null },
            running: { blue: running('blue'), green: running('green') },
            lockHeld: 'held' in lock && lock.held,
          },
          elapsedSince(t1),
        )
      }),
  })
  defs.push({
    name: 'docker_live_restore',
    onTimeout: 'UNKNOWN',
    run: () =>
      fact('docker_live_restore', async () => {
        const on = await liveRestoreEnabled(shared.signal)
        if (on === null) throw new Error('docker info did not answer')
        return on
          ? {
              name: 'docker_live_restore',
              status: 'OK',
              latencyMs: 0,
              detail: 'live-restore is on: containers keep serving while dockerd restarts',
            }
          : { name: 'docker_live_restore', status: 'WARNING', latencyMs: 0, detail: LIVE_RESTORE_OFF }
      }),
  })
  defs.push({
    name: 'deploy_lock',
    onTimeout: 'UNKNOWN',
    run: () => fact('deploy_lock', () => evaluateLock(readLockFact(paths.lock), now(), t)),
  })

  const results = new Map<string, CheckResult | null>()
  const probes = await runProbes(
    defs.map((d) => ({
      name: d.name,
      run: async (signal: AbortSignal) => {
        let r: CheckResult | null
        try {
          r = await d.run(signal)
        } catch (e) {
          r = { name: d.name, status: 'UNKNOWN', latencyMs: 0, detail: `can't tell: ${(e as Error).message}` }
        }
        results.set(d.name, r)
        return {
          name: d.name,
          ok: r === null || r.status === 'OK',
          latencyMs: r?.latencyMs ?? 0,
          detail: r?.detail ?? '',
        }
      },
    })),
    { deadlineMs: input.deadlineMs },
  )
  shared.abort()
  const checks: CheckResult[] = []
  defs.forEach((d, i) => {
    if (results.has(d.name)) {
      const r = results.get(d.name)
      if (r) checks.push(r)
      return
    }
    const p = probes[i]!
    checks.push({ name: d.name, status: d.onTimeout, latencyMs: p.latencyMs, detail: p.detail })
  })
  return { report: summarize(config.target, checks, startedAt, performance.now() - t0), restarts }
}
