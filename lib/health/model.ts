// The health-check model: one result per check, a status on the Nagios scale, and the
// aggregation of many results into one status and exit code.

export const STATUSES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const
export type CheckStatus = (typeof STATUSES)[number]

/** Nagios plugin exit codes, also the value of dms_health_check_status. */
export const STATUS_CODE: Record<CheckStatus, number> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 }

/** Severity order for "worst": OK < UNKNOWN < WARNING < CRITICAL. */
const SEVERITY: Record<CheckStatus, number> = { OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3 }

export type CheckResult = {
  /** stable identifier, also the Prometheus label: public_https, role_api, slot_green_api, postgres… */
  name: string
  status: CheckStatus
  latencyMs: number
  /** what was seen, in words a person understands */
  detail: string
  /** measured numbers behind the status (percentages, days, counts) */
  values?: Record<string, number | string>
}

export type HealthReport = {
  target: string
  status: CheckStatus
  exitCode: number
  startedAt: string
  durationMs: number
  checks: CheckResult[]
  counts: Record<CheckStatus, number>
}

/**
 * The worst status of a list. CRITICAL beats WARNING beats UNKNOWN beats OK: a known
 * problem is more urgent than a check that could not tell. An empty list is UNKNOWN.
 */
export function worstStatus(statuses: readonly CheckStatus[]): CheckStatus {
  if (statuses.length === 0) return 'UNKNOWN'
  return statuses.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), 'OK' as CheckStatus)
}

/** Exit code of a whole run: the Nagios code of the worst status. */
export function exitCodeFor(status: CheckStatus): number {
  return STATUS_CODE[status]
}

export function summarize(
  target: string,
  checks: readonly CheckResult[],
  startedAt: Date,
  durationMs: number,
): HealthReport {
  const status = worstStatus(checks.map((c) => c.status))
  const counts: Record<CheckStatus, number> = { OK: 0, WARNING: 0, CRITICAL: 0, UNKNOWN: 0 }
  for (const c of checks) counts[c.status]++
  return {
    target,
    status,
    exitCode: exitCodeFor(status),
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(durationMs),
    checks: [...checks],
    counts,
  }
}

/** The checks that are not OK, worst first (stable within a status). */
export function problems(checks: readonly CheckResult[]): CheckResult[] {
  return checks
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => c.status !== 'OK')
    .sort((a, b) => SEVERITY[b.c.status] - SEVERITY[a.c.status] || a.i - b.i)
    .map(({ c }) => c)
}

export function isStatus(v: unknown): v is CheckStatus {
  return typeof v === 'string' && (STATUSES as readonly string[]).includes(v)
}
