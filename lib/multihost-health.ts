// Pure: what each app host's containers and probes say (#16), as one health row per host on the Nagios scale,
// and the aggregation: a host whose live containers are not all ready is CRITICAL, named; a drained host is
// out of rotation, so it only warns; a host with no candidate yet is fine.
import type { CheckResult, CheckStatus } from './health/model.ts'
import { worstStatus } from './health/model.ts'

export type SlotCount = { running: number; expected: number; ready: number }

/** What was seen on one app host: its containers per slot, and how many of them answered their readiness path. */
export type HostRow = {
  host: string
  address: string
  /** the Docker daemon over SSH answered */
  reachable: boolean
  error?: string
  drained: boolean
  slots: Record<'blue' | 'green', SlotCount>
  ms: number
}

/** One check per host: OK when every live container there runs and is ready, else CRITICAL naming the host. */
export function hostCheck(row: HostRow, live: 'blue' | 'green'): CheckResult {
  const l = row.slots[live]
  const name = `host_${row.host.replace(/-/g, '_')}`
  const values = {
    reachable: row.reachable ? 1 : 0,
    drained: row.drained ? 1 : 0,
    running: l.running,
    ready: l.ready,
    expected: l.expected,
  }
  const bad = (detail: string): CheckResult => ({
    name,
    status: row.drained ? 'WARNING' : 'CRITICAL',
    latencyMs: Math.round(row.ms),
    detail: `${row.host} (${row.address}): ${detail}${row.drained ? ' (drained: out of rotation)' : ''}`,
    values,
  })
  if (!row.reachable) return bad(`unreachable: ${row.error ?? 'no answer'}`)
  if (l.ready < l.expected) return bad(`${l.ready} of ${l.expected} ${live} containers ready (${l.running} running)`)
  const status: CheckStatus = row.drained ? 'WARNING' : 'OK'
  const detail = `${row.host} (${row.address}): ${l.ready} of ${l.expected} ${live} containers ready${row.drained ? '; drained: out of rotation' : ''}`
  return { name, status, latencyMs: Math.round(row.ms), detail, values }
}

/** Every host's check and the worst status; the summary names the hosts that are not OK. */
export function hostsHealth(
  rows: HostRow[],
  live: 'blue' | 'green',
): { status: CheckStatus; checks: CheckResult[]; summary: string } {
  const checks = rows.map((r) => hostCheck(r, live))
  const status = worstStatus(checks.map((c) => c.status))
  const bad = checks.filter((c) => c.status !== 'OK')
  const summary =
    bad.length === 0
      ? `${status}: ${rows.length} hosts serve ${live}`
      : `${status}: ${bad.map((c) => c.detail).join('; ')}`
  return { status, checks, summary }
}

/** A host row as one line for people: "host-1  172.29.50.11  reachable  blue 3/3 (3 ready)  green 0/3  drained". */
export function hostLine(r: HostRow, live: 'blue' | 'green'): string {
  if (!r.reachable) return `${r.host.padEnd(12)} ${r.address.padEnd(16)} UNREACHABLE (${r.error ?? 'no answer'})`
  const slot = (s: 'blue' | 'green') =>
    `${s}${s === live ? ' (live)' : ''} ${r.slots[s].running}/${r.slots[s].expected} running${r.slots[s].running ? `, ${r.slots[s].ready} ready` : ''}`
  return `${r.host.padEnd(12)} ${r.address.padEnd(16)} reachable  ${slot('blue')}  ${slot('green')}${r.drained ? '  drained' : ''}`
}
