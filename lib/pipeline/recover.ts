// What a killed run left behind, and how the next run puts it right. Called under the deploy
// lock, so a pending operation recorded in the state belongs to a process that is gone.
//
//   the marker already routes to the pending slot  -> adopt it: the new release stays live
//   otherwise                                      -> remove the half-made candidate
import type { Store } from '../bluegreen.ts'
import type { LiveRouting } from '../nginx.ts'
import type { Platform } from '../platform.ts'
import { addHistory, otherSlot, whoami, type DeployState, type Slot } from '../state.ts'
import type { Printer } from '../ui.ts'

export type Recovery =
  | { action: 'none' }
  | { action: 'adopt'; slot: Slot; version: string; found: string }
  | { action: 'remove-candidate'; slot: Slot; version: string; live: Slot; found: string }

export function decideRecovery(state: DeployState, routing: LiveRouting): Recovery {
  const p = state.pending
  if (!p) return { action: 'none' }
  const version = p.version ?? 'unknown'
  const found = `a ${p.operation} of ${version} into ${p.slot ?? '?'} stopped at "${p.step}" (pid ${p.pid}, started ${p.startedAt})`
  if (!p.slot) return { action: 'remove-candidate', slot: otherSlot(routing.live), version, live: routing.live, found }
  if (routing.live === p.slot) return { action: 'adopt', slot: p.slot, version, found }
  return { action: 'remove-candidate', slot: p.slot, version, live: otherSlot(p.slot), found }
}

/** The state after adopting the slot nginx already routes to. */
export function adoptLive(s: DeployState, slot: Slot, version: string): void {
  const from = otherSlot(slot)
  if (s.live !== slot) {
    const prev = s.slots[from]
    s.previous = prev ? { slot: from, version: prev.version, warmUntil: new Date().toISOString() } : null
    s.live = slot
    s.slots[slot] ??= { version, slot, deployedAt: new Date().toISOString(), deployedBy: whoami().user }
    s.releases.push({ ...s.slots[slot]! })
  }
  s.pending = null
}

/**
 * Detects and repairs what a killed run left: says what it found, then adopts or removes.
 * With dryRun it only reports. Returns the lines it printed, for the plan.
 */
export async function recoverPending(
  p: Platform, store: Store, ui: Printer, o: { dryRun: boolean; removeOneOffs?: (slot: Slot) => Promise<number> },
): Promise<string[]> {
  const state = store.read()
  const routing = p.readRouting()
  const r = decideRecovery(state, routing)
  if (r.action === 'none') return []
  ui.warn(`Found what an earlier run left: ${r.found}.`)
  if (r.action === 'adopt') {
    const line = `nginx already routes to ${r.slot} (${r.version}): keep it live and record it (not verified; roll back with rollback-production if needed)`
    if (o.dryRun) return [`recover: ${line}`]
    if (routing.gradual) p.clearGradual()
    store.update((s) => {
      adoptLive(s, r.slot, r.version)
      addHistory(s, { action: 'recover', outcome: 'adopted', version: r.version, to: r.slot, detail: r.found })
    })
    store.audit({ action: 'recover', outcome: 'adopted', version: r.version, slot: r.slot, detail: r.found })
    ui.warn(`Recovered: ${line}.`)
    return [`recovered: ${line}`]
  }
  const line = `remove the half-made candidate ${r.version} from ${r.slot}; ${r.live} keeps serving`
  if (o.dryRun) return [`recover: ${line}`]
  if (routing.gradual) p.clearGradual()
  await ui.step(`Removing the half-made candidate from ${r.slot}`, async () => {
    await o.removeOneOffs?.(r.slot)
    await p.removeSlot(r.slot)
  })
  store.update((s) => {
    s.slots[r.slot] = null
    if (s.previous?.slot === r.slot) s.previous = null
    if (s.live === r.slot) s.live = r.live // it was switched back before the record caught up
    if (s.previous?.slot === s.live) s.previous = null
    s.pending = null
    addHistory(s, { action: 'recover', outcome: 'removed', version: r.version, to: r.slot, detail: r.found })
  })
  store.audit({ action: 'recover', outcome: 'removed', version: r.version, slot: r.slot, detail: r.found })
  ui.warn(`Recovered: removed the candidate from ${r.slot}; ${r.live} keeps serving.`)
  return [`recovered: ${line}`]
}
