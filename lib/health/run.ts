// The health-check operation: every check in parallel under one deadline, each turned
// into a CheckResult. A check still running at the deadline is reported (CRITICAL for
// services that should answer, UNKNOWN for facts that could not be read) and the run
// returns by the deadline. The checks live in checks-service.ts and checks-host.ts.
import { performance } from 'node:perf_hooks'
import { runProbes } from '../wait.ts'
import type { RestartMemory } from './evaluate.ts'
import { hostChecks, thresholdCheck } from './checks-host.ts'
import { serviceChecks } from './checks-service.ts'
import { summarize, type CheckResult, type HealthReport } from './model.ts'
import { createSources, type HealthInput } from './sources.ts'
import { appHostCheckDefs } from '../multihost-checks.ts'

export type { HealthInput } from './sources.ts'

/**
 * The part of the deadline kept for what follows the checks (aborting them, the report): 10% of it,
 * 20 to 500 ms. The checks get the rest, so the report is complete by the deadline even on a busy
 * host, where timers fire late.
 */
export const reportReserveMs = (deadlineMs: number): number => Math.min(500, Math.max(20, Math.round(deadlineMs * 0.1)))

export async function runHealthCheck(input: HealthInput): Promise<{ report: HealthReport; restarts: RestartMemory }> {
  const src = createSources(input)
  const startedAt = src.now()
  const t0 = performance.now()
  const defs = [
    ...thresholdCheck(input.thresholdProblems),
    ...serviceChecks(src),
    ...hostChecks(src),
    ...appHostCheckDefs(input),
  ]
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
    { deadlineMs: Math.max(1, input.deadlineMs - reportReserveMs(input.deadlineMs)) },
  )
  src.shared.abort()
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
  return {
    report: summarize(input.config.target, checks, startedAt, performance.now() - t0),
    restarts: src.memory.restarts,
  }
}
