// Pure evaluators of the deployment's own state: the containers (state, health, restarts), drift
// between the state file, the live marker, nginx and the running versions, and the deploy lock.
import type { Thresholds } from '../config-health.ts'
import type { CheckResult, CheckStatus } from './model.ts'
import { worstStatus } from './model.ts'

type Slot = 'blue' | 'green'

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
  /** X-Deploy-Slot (added by nginx) of a request through the public listener (undefined: no answer) */
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
    issues.push({
      status: 'CRITICAL',
      text: `public traffic answered X-Deploy-Slot ${f.headerSlot}, the marker says ${live}`,
    })
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
    (f.headerSlot ? ` (X-Deploy-Slot ${f.headerSlot})` : '') +
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
