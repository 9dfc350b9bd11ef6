// The status view: what is live, what each slot holds, how long the previous slot stays
// warm, who holds the deploy lock, and the last audit entries. buildStatus is pure.
import { shortDigest } from '../images/ref.ts'
import type { DeployState, Slot } from '../model.ts'
import type { ContainerFact, LockFact } from './evaluate.ts'

export type SlotView = {
  slot: Slot
  live: boolean
  /** the release the state records */
  recorded: { version: string; deployedAt: string; deployedBy: string; digest?: string } | null
  /** versions of running app containers (the world) */
  running: string[]
  containers: { running: number; total: number; unhealthy: number }
}

export type StatusView = {
  target: string
  /** nginx's marker (the truth); null when no marker exists */
  live: Slot | null
  stateLive: Slot | null
  gradual: { to: Slot; percent: number } | null
  slots: SlotView[]
  previous: { slot: Slot; version: string; warmUntil: string; warmForSeconds: number } | null
  lock: LockFact
  pending: DeployState['pending']
  audit: Array<Record<string, unknown>>
}

export function buildStatus(input: {
  target: string
  state: DeployState
  markerLive: Slot | null
  gradual: { to: Slot; percent: number } | null
  containers: readonly ContainerFact[]
  /** the compose services of a slot (config.app); others (one-off release runs) are not the slot's */
  services?: readonly string[]
  lock: LockFact
  audit: Array<Record<string, unknown>>
  now: Date
}): StatusView {
  const { state, now } = input
  const slots = (['blue', 'green'] as const).map((slot): SlotView => {
    const ofSlot = (c: ContainerFact) =>
      input.services ? input.services.includes(c.service) : c.service !== 'migrate' && c.service !== 'release'
    const mine = input.containers.filter((c) => c.slot === slot && ofSlot(c))
    const rec = state.slots[slot]
    return {
      slot,
      live: (input.markerLive ?? 'blue') === slot,
      recorded: rec
        ? {
            version: rec.version,
            deployedAt: rec.deployedAt,
            deployedBy: rec.deployedBy,
            ...(rec.images ? { digest: shortDigest(Object.values(rec.images)[0] ?? '') } : {}),
          }
        : null,
      running: [...new Set(mine.filter((c) => c.state === 'running').map((c) => c.version ?? '?'))],
      containers: {
        running: mine.filter((c) => c.state === 'running').length,
        total: mine.length,
        unhealthy: mine.filter((c) => c.health === 'unhealthy').length,
      },
    }
  })
  const prev = state.previous
  return {
    target: input.target,
    live: input.markerLive,
    stateLive: state.live,
    gradual: input.gradual,
    slots,
    previous: prev
      ? { ...prev, warmForSeconds: Math.max(0, Math.round((Date.parse(prev.warmUntil) - now.getTime()) / 1000)) }
      : null,
    lock: input.lock,
    pending: state.pending,
    audit: input.audit,
  }
}

function duration(s: number): string {
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}

export function renderStatus(v: StatusView, now: Date): string {
  const lines: string[] = []
  const live = v.live ?? 'blue (no marker: nginx falls back to blue)'
  lines.push(
    `${v.target}: live slot ${live}${v.stateLive && v.stateLive !== v.live ? ` (the state file says ${v.stateLive}: drift)` : ''}`,
  )
  if (v.gradual) lines.push(`  traffic split: ${v.gradual.percent}% to ${v.gradual.to}`)
  for (const s of v.slots) {
    const rec = s.recorded
      ? `${s.recorded.version}${s.recorded.digest ? ` ${s.recorded.digest}` : ''} (deployed ${s.recorded.deployedAt} by ${s.recorded.deployedBy})`
      : 'no release recorded'
    const run = s.containers.total
      ? `${s.containers.running}/${s.containers.total} containers running ${s.running.join(', ') || ''}`.trim() +
        (s.containers.unhealthy ? `, ${s.containers.unhealthy} unhealthy` : '')
      : 'no containers'
    lines.push(`  ${s.slot.padEnd(5)} ${s.live ? 'LIVE' : 'idle'}  ${rec}; ${run}`)
  }
  if (v.previous) {
    lines.push(
      v.previous.warmForSeconds > 0
        ? `  previous: ${v.previous.slot} (${v.previous.version}) stays warm for ${duration(v.previous.warmForSeconds)} (until ${v.previous.warmUntil})`
        : `  previous: ${v.previous.slot} (${v.previous.version}), warm period ended ${v.previous.warmUntil}`,
    )
  }
  const l = v.lock
  if ('corrupt' in l) lines.push(`  lock: unreadable (${l.corrupt})`)
  else if (l.held) {
    const age = Math.round((now.getTime() - Date.parse(l.startedAt)) / 1000)
    lines.push(
      `  lock: held by pid ${l.pid} on ${l.host} (${l.user}) "${l.command}" for ${duration(age)}${l.alive === false ? ' (stale: that process is gone)' : ''}`,
    )
  } else lines.push('  lock: free')
  if (v.pending)
    lines.push(
      `  unfinished: ${v.pending.operation} at step "${v.pending.step}" since ${v.pending.startedAt} (pid ${v.pending.pid})`,
    )
  lines.push('', `last ${v.audit.length} audit entries:`)
  if (!v.audit.length) lines.push('  (none)')
  for (const a of v.audit) {
    const f = (k: string) => (a[k] === undefined || a[k] === null ? '' : String(a[k]))
    lines.push(
      `  ${f('time')}  ${f('user')}  ${f('action')} ${f('outcome')}${f('version') ? ` ${f('version')}` : ''}${f('detail') ? `: ${f('detail')}` : ''}`,
    )
  }
  return `${lines.join('\n')}\n`
}
