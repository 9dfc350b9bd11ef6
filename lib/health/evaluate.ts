// Pure evaluators: facts gathered from the world (probe results, host numbers, docker
// inspect, files) in, a CheckResult with a status out. No I/O here.
import type { Thresholds } from '../config-health.ts'
import type { ProbeResult } from '../probe.ts'
import type { CheckResult, CheckStatus } from './model.ts'
import { worstStatus } from './model.ts'
import { levelAbove, levelBelow } from './thresholds.ts'

type Slot = 'blue' | 'green'

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

// ---------------------------------------------------------------- containers

export type ContainerFact = {
  name: string
  project: string
  service: string
  /** docker State.Status: running, exited, restarting, created, paused, dead */
  state: string
  /** State.Health.Status, or "none" without a healthcheck */
  health: string
  restartCount: number
  /** dms.slot / dms.version labels of app containers */
  slot?: string
  version?: string
  image: string
}

/** What the previous runs saw of each container's restart count. */
export type RestartMemory = Record<string, { count: number; changedAt: string }>

export function evaluateContainers(
  containers: readonly ContainerFact[],
  memory: RestartMemory,
  now: Date,
  t: Thresholds,
  latencyMs = 0,
): { result: CheckResult; memory: RestartMemory } {
  const next: RestartMemory = {}
  const issues: Array<{ status: CheckStatus; text: string }> = []
  for (const c of containers) {
    const prev = memory[c.name]
    let changedAt = prev?.changedAt ?? now.toISOString()
    if (prev && c.restartCount > prev.count) {
      changedAt = now.toISOString()
      issues.push({
        status: 'WARNING',
        text: `${c.name} restarted ${c.restartCount - prev.count} time(s) since the last check`,
      })
    } else if (prev && c.restartCount === prev.count && prev.count > 0) {
      const age = (now.getTime() - Date.parse(prev.changedAt)) / 1000
      if (age < t.restartWindowS)
        issues.push({ status: 'WARNING', text: `${c.name} restarted ${Math.round(age)} s ago` })
    }
    next[c.name] = { count: c.restartCount, changedAt }
    if (c.state !== 'running') issues.push({ status: 'CRITICAL', text: `${c.name} is ${c.state}` })
    else if (c.health === 'unhealthy') issues.push({ status: 'CRITICAL', text: `${c.name} is unhealthy` })
    else if (c.health === 'starting') issues.push({ status: 'WARNING', text: `${c.name} is still starting` })
  }
  const name = 'containers'
  if (containers.length === 0) {
    return {
      result: { name, status: 'CRITICAL', latencyMs, detail: 'no containers of this target exist' },
      memory: next,
    }
  }
  const running = containers.filter((c) => c.state === 'running').length
  const status = worstStatus(issues.length ? issues.map((i) => i.status) : ['OK'])
  return {
    result: {
      name,
      status,
      latencyMs,
      detail: `${running} of ${containers.length} running${issues.length ? `; ${issues.map((i) => i.text).join('; ')}` : ', all healthy'}`,
      values: { running, total: containers.length },
    },
    memory: next,
  }
}

// ---------------------------------------------------------------- drift

export type DriftFacts = {
  /** the state file's live slot (null: nothing recorded) */
  stateLive: Slot | null
  /** live/blue or live/green in VAR_DIR (null: no marker, nginx falls back to blue) */
  markerLive: Slot | null
  /** to-green-bN / to-blue-bN files: a gradual shift in progress */
  splitMarkers: string[]
  /** the live slot as nginx itself sees it (status listener /live-slot); undefined: not asked */
  nginxLive?: Slot
  /** X-Slot of a request through the public listener (undefined: no answer) */
  headerSlot: string | undefined
  /** version recorded in the state per slot */
  recorded: Record<Slot, string | null>
  /** dms.version labels of running app containers per slot */
  running: Record<Slot, string[]>
  lockHeld: boolean
}

export function evaluateDrift(f: DriftFacts, latencyMs = 0): CheckResult {
  const issues: Array<{ status: CheckStatus; text: string }> = []
  const live = f.markerLive ?? 'blue'
  if (f.markerLive === null)
    issues.push({ status: 'WARNING', text: 'no live marker in live/: nginx falls back to blue' })
  if (f.stateLive !== null && f.stateLive !== live) {
    issues.push({ status: 'CRITICAL', text: `the state file says ${f.stateLive} is live, nginx's marker says ${live}` })
  }
  if (f.markerLive !== null && f.nginxLive !== undefined && f.nginxLive !== f.markerLive) {
    issues.push({
      status: 'CRITICAL',
      text: `nginx sees ${f.nginxLive} as live, but live/ holds the ${f.markerLive} marker (is the directory mounted?)`,
    })
  }
  if (f.headerSlot !== undefined && f.headerSlot !== '' && f.splitMarkers.length === 0 && f.headerSlot !== live) {
    issues.push({ status: 'CRITICAL', text: `public traffic answered X-Slot ${f.headerSlot}, the marker says ${live}` })
  }
  if (f.splitMarkers.length > 0) {
    issues.push({
      status: f.lockHeld ? 'OK' : 'WARNING',
      text: `traffic is split (${f.splitMarkers.length} bucket markers)${f.lockHeld ? ' during a deploy' : ' and no deploy holds the lock'}`,
    })
  }
  for (const slot of ['blue', 'green'] as const) {
    const rec = f.recorded[slot]
    const run = [...new Set(f.running[slot])]
    const sev: CheckStatus = slot === live ? 'CRITICAL' : 'WARNING'
    if (rec !== null && run.length === 0) {
      issues.push({ status: sev, text: `the state records ${rec} in ${slot}, but no ${slot} container runs` })
    } else if (rec === null && run.length > 0) {
      issues.push({ status: 'WARNING', text: `${slot} runs ${run.join(', ')}, but the state records no release there` })
    } else if (rec !== null && (run.length > 1 || run[0] !== rec)) {
      issues.push({ status: sev, text: `the state records ${rec} in ${slot}, the containers run ${run.join(', ')}` })
    }
  }
  const status = worstStatus(issues.length ? issues.map((i) => i.status) : ['OK'])
  const shown = issues.filter((i) => i.status !== 'OK' || issues.every((j) => j.status === 'OK'))
  const summary =
    `live ${live}` +
    (f.headerSlot ? ` (X-Slot ${f.headerSlot})` : '') +
    (['blue', 'green'] as const).map((s) => (f.recorded[s] ? `, ${s} ${f.recorded[s]}` : '')).join('')
  return {
    name: 'drift',
    status,
    latencyMs,
    detail: shown.length ? shown.map((i) => i.text).join('; ') : `no drift: ${summary}`,
    values: { drift: status === 'OK' ? 0 : 1 },
  }
}

// ---------------------------------------------------------------- lock

export type LockFact =
  | { held: false }
  | {
      held: true
      pid: number
      host: string
      user: string
      command: string
      startedAt: string
      alive: boolean | undefined
    }
  | { corrupt: string }

export function evaluateLock(l: LockFact, now: Date, t: Thresholds, latencyMs = 0): CheckResult {
  const name = 'deploy_lock'
  if ('corrupt' in l) return { name, status: 'WARNING', latencyMs, detail: `the lock file is unreadable: ${l.corrupt}` }
  if (!l.held) return { name, status: 'OK', latencyMs, detail: 'not held', values: { ageSeconds: 0 } }
  const age = Math.max(0, Math.round((now.getTime() - Date.parse(l.startedAt)) / 1000))
  const who = `pid ${l.pid} on ${l.host} (${l.user}) "${l.command}"`
  if (l.alive === false) {
    return {
      name,
      status: 'WARNING',
      latencyMs,
      detail: `stale: held by ${who}, a process that is gone (${age} s); the next deploy takes it over`,
      values: { ageSeconds: age },
    }
  }
  if (age > t.lockMaxAgeS) {
    return {
      name,
      status: 'WARNING',
      latencyMs,
      detail: `held for ${age} s (longer than ${t.lockMaxAgeS} s) by ${who}`,
      values: { ageSeconds: age },
    }
  }
  return { name, status: 'OK', latencyMs, detail: `held for ${age} s by ${who}`, values: { ageSeconds: age } }
}
