// Adopt the live slot after drift: trust the world (nginx's marker, the containers' releases) and record it.
import type { Store } from './model.ts'
import { RefusedError } from './errors.ts'
import type { Platform } from './platform.ts'
import { refuseIfPending } from './safety.ts'
import { stuckShiftHint } from './slot-checks.ts'
import { addHistory, type Slot } from './model.ts'
import { whoami } from './who.ts'

export type AdoptPlan = { recorded: Slot | null; routed: Slot; versions: Record<Slot, string | null>; steps: string[] }

/** After drift: trust the world. Records nginx's live slot and the releases the containers carry. */
export async function planAdoptLive(p: Platform, store: Store): Promise<AdoptPlan> {
  const state = store.read()
  const routing = p.readRouting()
  refuseIfPending(p, state)
  if (routing.gradual)
    throw new RefusedError(
      `Can't record the live slot: a gradual shift to ${routing.gradual.to} is in progress (${routing.gradual.percent}%)`,
      stuckShiftHint(routing.gradual.to),
    )
  const [blue, green] = await Promise.all([p.slotStatus('blue'), p.slotStatus('green')])
  const versions = { blue: blue.running ? blue.version : null, green: green.running ? green.version : null }
  const recordedVersions = { blue: state.slots.blue?.version ?? null, green: state.slots.green?.version ?? null }
  if (
    state.live === routing.live &&
    versions.blue === recordedVersions.blue &&
    versions.green === recordedVersions.green
  )
    throw new RefusedError(
      `Can't record the live slot: there is no drift (state and nginx both say ${routing.live}). Nothing was changed.`,
    )
  return {
    recorded: state.live,
    routed: routing.live,
    versions,
    steps: [
      `record ${routing.live} as live (the state file says ${state.live ?? 'nothing'})`,
      ...(['blue', 'green'] as const).map(
        (s) => `record ${s} as ${versions[s] ?? 'empty'} (the state file says ${recordedVersions[s] ?? 'empty'})`,
      ),
    ],
  }
}

export function executeAdoptLive(store: Store, plan: AdoptPlan): void {
  store.update((s) => {
    s.live = plan.routed
    for (const slot of ['blue', 'green'] as const) {
      const v = plan.versions[slot]
      if (!v) s.slots[slot] = null
      else if (s.slots[slot]?.version !== v)
        s.slots[slot] = {
          version: v,
          slot,
          deployedAt: new Date().toISOString(),
          deployedBy: `${whoami().user} (adopted)`,
        }
    }
    if (s.previous && (s.previous.slot === plan.routed || !plan.versions[s.previous.slot])) s.previous = null
    s.pending = null
    addHistory(s, {
      action: 'adopt-live',
      outcome: 'succeeded',
      to: plan.routed,
      detail: `state said ${plan.recorded ?? 'nothing'}`,
    })
  })
  store.audit({
    action: 'adopt-live',
    outcome: 'succeeded',
    slot: plan.routed,
    detail: `state said ${plan.recorded ?? 'nothing'}; recorded ${JSON.stringify(plan.versions)}`,
  })
}
