// Traffic analysis: success rate and latency percentiles of many probe results against thresholds.
import type { ProbeResult } from './model.ts'

export type Analysis = {
  total: number
  failures: number
  successRate: number
  p50: number
  p95: number
  p99: number
  ok: boolean
  reasons: string[]
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/**
 * Summarise many probe results (a smoke or load run). Latency percentiles are over all
 * results, failures included (a timeout's latency is the time it wasted).
 */
export function analyze(
  results: readonly (Pick<ProbeResult, 'ok' | 'latencyMs'> & Partial<Pick<ProbeResult, 'name' | 'detail'>>)[],
  { minSuccessRate, maxP95Ms }: { minSuccessRate: number; maxP95Ms: number },
): Analysis {
  const total = results.length
  const failures = results.filter((r) => !r.ok).length
  const successRate = total === 0 ? 0 : (total - failures) / total
  const sorted = results.map((r) => r.latencyMs).sort((a, b) => a - b)
  const p50 = percentile(sorted, 50)
  const p95 = percentile(sorted, 95)
  const p99 = percentile(sorted, 99)
  const reasons: string[] = []
  if (total === 0) reasons.push('no results')
  else if (successRate < minSuccessRate) {
    reasons.push(
      `success rate ${(successRate * 100).toFixed(1)}% below ${(minSuccessRate * 100).toFixed(1)}% (${failures} of ${total} failed${failureText(results)})`,
    )
  }
  if (total > 0 && p95 > maxP95Ms) reasons.push(`p95 latency ${p95} ms above ${maxP95Ms} ms`)
  return { total, failures, successRate, p50, p95, p99, ok: reasons.length === 0, reasons }
}

/** ": <name>: <detail>; …" of the distinct failures that carry a detail (3 at most), else "". */
function failureText(results: readonly Partial<Pick<ProbeResult, 'ok' | 'name' | 'detail'>>[]): string {
  const seen = [
    ...new Set(
      results.filter((r) => !r.ok && r.detail).map((r) => (r.name ? `${r.name}: ${r.detail}` : String(r.detail))),
    ),
  ]
  if (seen.length === 0) return ''
  return `: ${seen.slice(0, 3).join('; ')}${seen.length > 3 ? `; ${seen.length - 3} more` : ''}`
}

/**
 * How long one probe of a switch or verification waits for its answer: 3 s, or the p95 limit
 * when that is longer. An answer slower than the limit fails the window through p95 anyway, so
 * waiting longer hides nothing; a shorter wait would count an allowed slow answer as a failure.
 */
export function probeTimeoutMs({ maxP95Ms }: { maxP95Ms: number }): number {
  return Math.max(3000, maxP95Ms)
}
