// Retire: stop the previous slot once its warm time is over and it can receive no request.
import type { Store } from './model.ts'
import type { Platform } from './platform.ts'
import { retireBlocker } from './safety.ts'
import { addHistory, type Slot } from './model.ts'
import type { Printer } from './ui.ts'

/** Stops the previous slot once its warm time is over (or at once with force) and it can receive no request. */
export async function retirePrevious(
  p: Platform,
  store: Store,
  ui: Printer,
  o: { force?: boolean; now?: number } = {},
): Promise<{ retired: Slot | null; reason: string }> {
  const state = store.read()
  const prev = state.previous
  if (!prev) return { retired: null, reason: 'no previous slot is kept warm' }
  const blocker = retireBlocker(state, p.readRouting(), prev.slot)
  if (blocker) return { retired: null, reason: blocker }
  const left = Date.parse(prev.warmUntil) - (o.now ?? Date.now())
  if (left > 0 && !o.force)
    return {
      retired: null,
      reason: `${prev.slot} (${prev.version}) stays warm for ${Math.ceil(left / 60000)} more minutes`,
    }
  await ui.step(`Draining and stopping ${prev.slot} (${prev.version})`, () => p.removeSlot(prev.slot))
  store.update((s) => {
    s.slots[prev.slot] = null
    s.previous = null
    addHistory(s, { action: 'retire', outcome: 'succeeded', version: prev.version, from: prev.slot })
  })
  store.audit({ action: 'retire', outcome: 'succeeded', version: prev.version, slot: prev.slot })
  return { retired: prev.slot, reason: left > 0 ? 'forced' : 'warm time over' }
}
