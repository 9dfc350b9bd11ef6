// Pure evaluators of the services (HTTP, PostgreSQL, Redis, TLS) and the host (disk, memory, load):
// facts gathered from the world in, a CheckResult with a status out. No I/O here.
import type { Thresholds } from '../config-health.ts'
import type { ProbeResult } from '../model.ts'
import type { CheckResult } from './model.ts'
import { worstStatus } from './model.ts'
import { levelAbove, levelBelow } from './thresholds.ts'

/** the evaluators of containers, drift and the lock live in evaluate-state.ts; importers keep importing them from here */
export * from './evaluate-state.ts'

const pct = (n: number) => Math.round(n * 10) / 10
const ms = (n: number) => `${Math.round(n)} ms`

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`
}

/** An HTTP check: a failed probe is CRITICAL; a slow answer WARNING or CRITICAL by latency. */
export function evaluateHttp(name: string, probe: ProbeResult, t: Thresholds): CheckResult {
  const base = { name, latencyMs: probe.latencyMs, values: probe.status ? { status: probe.status } : undefined }
  if (!probe.ok) return { ...base, status: 'CRITICAL', detail: probe.detail }
  const status = levelAbove(probe.latencyMs, t.latencyWarnMs, t.latencyCritMs)
  const slow = status === 'OK' ? '' : ` but slow: ${ms(probe.latencyMs)} (warning at ${t.latencyWarnMs} ms)`
  return { ...base, status, detail: `${probe.detail} in ${ms(probe.latencyMs)}${slow}` }
}

export function evaluatePostgres(probe: ProbeResult, t: Thresholds, name = 'postgres'): CheckResult {
  if (!probe.ok || !probe.connections) {
    return { name, status: 'CRITICAL', latencyMs: probe.latencyMs, detail: `PostgreSQL: ${probe.detail}` }
  }
  const { used, max } = probe.connections
  const p = max > 0 ? (used / max) * 100 : NaN
  const status = levelAbove(p, t.pgConnWarnPct, t.pgConnCritPct)
  return {
    name,
    status,
    latencyMs: probe.latencyMs,
    detail:
      `SELECT 1 ok; ${used} of ${max} connections (${pct(p)}%)` +
      (status === 'OK'
        ? ''
        : `, ${status === 'CRITICAL' ? 'critical' : 'warning'} at ${status === 'CRITICAL' ? t.pgConnCritPct : t.pgConnWarnPct}%`),
    values: { connectionsUsed: used, connectionsMax: max, connectionsPct: pct(p) },
  }
}

export function evaluateRedis(probe: ProbeResult, t: Thresholds, name = 'redis'): CheckResult {
  if (!probe.ok || !probe.memory) {
    return { name, status: 'CRITICAL', latencyMs: probe.latencyMs, detail: `Redis: ${probe.detail}` }
  }
  const { used, max } = probe.memory
  if (max <= 0) {
    return {
      name,
      status: 'WARNING',
      latencyMs: probe.latencyMs,
      detail: `PONG; ${bytes(used)} used and no maxmemory set (Redis can grow until the host runs out)`,
      values: { memoryUsed: used, memoryMax: 0 },
    }
  }
  const p = (used / max) * 100
  const status = levelAbove(p, t.redisMemWarnPct, t.redisMemCritPct)
  return {
    name,
    status,
    latencyMs: probe.latencyMs,
    detail: `PONG; memory ${bytes(used)} of ${bytes(max)} (${pct(p)}%)`,
    values: { memoryUsed: used, memoryMax: max, memoryPct: pct(p) },
  }
}

export function evaluateTls(
  fact:
    | {
        daysLeft: number
        validTo: string
        source: string
        issuer?: string
        names?: string[]
        nextRenewal?: string | null
      }
    | { error: string },
  t: Thresholds,
  latencyMs = 0,
): CheckResult {
  const name = 'tls_certificate'
  if ('error' in fact)
    return { name, status: 'UNKNOWN', latencyMs, detail: `can't read the certificate: ${fact.error}` }
  const status = levelBelow(fact.daysLeft, t.tlsDaysWarn, t.tlsDaysCrit)
  const when = fact.daysLeft < 0 ? `expired ${-fact.daysLeft} days ago` : `${fact.daysLeft} days left`
  return {
    name,
    status,
    latencyMs,
    detail:
      `${when} (until ${fact.validTo}, ${fact.source})` +
      (fact.names?.length ? `; ${fact.names.join(', ')}` : '') +
      (fact.issuer ? `; issuer ${fact.issuer}` : '') +
      (fact.nextRenewal ? `; renewal due ${fact.nextRenewal.slice(0, 10)}` : '') +
      (status === 'OK' ? '' : `; renew it (warning at ${t.tlsDaysWarn}, critical at ${t.tlsDaysCrit} days)`),
    values: {
      daysLeft: fact.daysLeft,
      ...(fact.issuer ? { issuer: fact.issuer } : {}),
      ...(fact.names?.length ? { names: fact.names.join(',') } : {}),
      ...(fact.nextRenewal ? { nextRenewal: fact.nextRenewal } : {}),
    },
  }
}

export type DiskFact = { path: string; totalBytes: number; freeBytes: number }

export function evaluateDisk(disks: readonly DiskFact[], t: Thresholds, latencyMs = 0): CheckResult {
  const name = 'host_disk'
  if (disks.length === 0) return { name, status: 'UNKNOWN', latencyMs, detail: 'no filesystem could be read' }
  const parts = disks.map((d) => {
    const used = d.totalBytes > 0 ? ((d.totalBytes - d.freeBytes) / d.totalBytes) * 100 : NaN
    return { d, used, status: levelAbove(used, t.diskWarnPct, t.diskCritPct) }
  })
  const worst = parts.reduce((a, b) => (b.used > a.used ? b : a))
  return {
    name,
    status: worstStatus(parts.map((p) => p.status)),
    latencyMs,
    detail: parts.map((p) => `${p.d.path} ${pct(p.used)}% used (${bytes(p.d.freeBytes)} free)`).join(', '),
    values: { usedPct: pct(worst.used) },
  }
}

export type MemoryFact = { totalBytes: number; availableBytes: number }

export function evaluateMemory(m: MemoryFact, t: Thresholds, latencyMs = 0): CheckResult {
  const used = m.totalBytes > 0 ? ((m.totalBytes - m.availableBytes) / m.totalBytes) * 100 : NaN
  return {
    name: 'host_memory',
    status: levelAbove(used, t.memWarnPct, t.memCritPct),
    latencyMs,
    detail: `${pct(used)}% used (${bytes(m.availableBytes)} available of ${bytes(m.totalBytes)})`,
    values: { usedPct: pct(used) },
  }
}

export type LoadFact = { load1: number; load5: number; cpus: number }

export function evaluateLoad(l: LoadFact, t: Thresholds, latencyMs = 0): CheckResult {
  const perCpu = l.cpus > 0 ? l.load5 / l.cpus : NaN
  return {
    name: 'host_load',
    status: levelAbove(perCpu, t.loadWarn, t.loadCrit),
    latencyMs,
    detail: `load ${l.load1.toFixed(2)} (1 min), ${l.load5.toFixed(2)} (5 min) on ${l.cpus} CPUs = ${perCpu.toFixed(2)} per CPU`,
    values: { load5PerCpu: Math.round(perCpu * 100) / 100 },
  }
}
