// Watching traffic: probe a window and analyse it, and wait until the public listener answers from a slot.
import type { SwitchThresholds as Thresholds } from './model.ts'
import type { Platform } from './platform.ts'
import type { ProbeResult } from './probe.ts'
import type { Slot } from './model.ts'
import { analyze, type Analysis } from './traffic.ts'
import { sleepUnlessAborted as sleep } from './wait.ts'

/** Probes in a loop for durationMs; stops early when failures make the thresholds unreachable. */
export async function watchWindow(
  probe: () => Promise<ProbeResult[]>,
  durationMs: number,
  th: Thresholds,
  o: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<Analysis> {
  const results: ProbeResult[] = []
  const end = Date.now() + durationMs
  do {
    results.push(...(await probe()))
    const failures = results.filter((r) => !r.ok).length
    // enough failures that the window can't pass any more: stop early
    if (failures >= 3 && failures / Math.max(results.length, 20) > 1 - th.minSuccessRate) break
    if (Date.now() >= end || o.signal?.aborted) break
    await sleep(o.intervalMs ?? 200, o.signal)
  } while (Date.now() < end && !o.signal?.aborted)
  return analyze(results, th)
}

/** Waits until every public answer comes from `to` (5 s at most); ms it took, or the answers seen. */
export async function confirmPublic(
  p: Platform,
  to: Slot,
  signal?: AbortSignal,
): Promise<{ ok: boolean; ms: number; seen: string }> {
  const t0 = Date.now()
  let seen: ProbeResult[] = []
  for (;;) {
    seen = await p.probePublic(signal)
    if (seen.every((r) => r.ok && r.headers?.['x-deploy-slot'] === to))
      return { ok: true, ms: Date.now() - t0, seen: '' }
    if (Date.now() - t0 > 5000 || signal?.aborted) break
    await sleep(50, signal)
  }
  return {
    ok: false,
    ms: Date.now() - t0,
    seen: seen.map((r) => `${r.name}: ${r.ok ? `X-Deploy-Slot ${r.headers?.['x-deploy-slot']}` : r.detail}`).join('; '),
  }
}
