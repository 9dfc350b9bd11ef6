// What the health checks of one run share: the address to probe, the per-probe timeout, one abort
// signal for shared facts, and each shared fact (containers, nginx's public answer, each service's public
// readiness probe) read at most once however many checks use it.
import { performance } from 'node:perf_hooks'
import { slotProject } from '../compose.ts'
import { appOf, appServiceNames } from '../manifest/app-model.ts'
import type { Config } from '../config.ts'
import type { Paths } from '../paths.ts'
import { probeHttp, type ProbeResult } from '../probe.ts'
import type { Slot } from '../model.ts'
import type { ContainerFact, RestartMemory } from './evaluate.ts'
import { publicProbes } from './probe-list.ts'
import { readContainers } from './facts.ts'
import type { CheckResult, CheckStatus } from './model.ts'
import type { Thresholds } from '../config-health.ts'

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
export type CheckDef = {
  name: string
  onTimeout: CheckStatus
  run: (signal: AbortSignal) => Promise<CheckResult | null>
}

export const SLOTS: readonly Slot[] = ['blue', 'green']

export const elapsedSince = (t: number) => Math.round((performance.now() - t) * 10) / 10

/** Runs fn and wraps a thrown error into an UNKNOWN result for this check. */
export async function fact(name: string, fn: () => Promise<CheckResult> | CheckResult): Promise<CheckResult> {
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

export type Sources = ReturnType<typeof createSources>

export function createSources(input: HealthInput) {
  const { config, thresholds: t } = input
  const host = config.listenAddr === '0.0.0.0' ? '127.0.0.1' : config.listenAddr
  const timeoutMs = Math.max(100, Math.min(t.probeTimeoutMs, input.deadlineMs - 50))
  // one controller for facts shared between checks, aborted when the run ends
  const shared = new AbortController()
  const https = (port: number, p: string) => `https://${host}:${port}${p}`
  const projects = [...new Set([config.composeProject, ...SLOTS.map((s) => slotProject(config, s))])]
  const containers = once(() => readContainers(projects, shared.signal))
  const appSlots = async (): Promise<Record<Slot, ContainerFact[]>> => {
    const all = await containers()
    const appServices = appServiceNames(appOf(config))
    const apps = all.filter((c) => c.slot && appServices.includes(c.service))
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
  // each service's readiness through the public listener, at a route that reaches it
  const serviceProbes = Object.fromEntries(
    publicProbes(appOf(config)).map((p) => [
      p.service,
      once(() =>
        probeHttp({
          url: https(config.ports.https, p.path),
          ...(p.host ? { headers: { Host: p.host } } : {}),
          expectStatus: 200,
          insecure: true,
          timeoutMs,
          signal: shared.signal,
        }),
      ),
    ]),
  ) as Record<string, () => Promise<ProbeResult>>
  return {
    input,
    now: input.now ?? (() => new Date()),
    host,
    timeoutMs,
    shared,
    https,
    containers,
    appSlots,
    publicNginx,
    serviceProbes,
    /** the restart counts after this run (the containers check updates them) */
    memory: { restarts: input.restarts },
  }
}
