// What keeps traffic and records safe when an operation is cut short: the unfinished operation a
// killed run left, whether a release was verified, whether a slot can still receive a request, and
// removing a candidate without pretending it went when it did not.
import { whoami } from './who.ts'
import { SLOTS, otherSlot, type DeployState, type Release, type Slot, type Store } from './model.ts'
import { OperationError, RefusedError, errorMessage } from './errors.ts'
import type { LiveRouting } from './nginx.ts'
import type { Platform } from './platform.ts'
import type { Printer } from './ui.ts'

type Pending = NonNullable<DeployState['pending']>

/** "unfinished switch of v2 into green stopped at "verifying" (pid 4242, started …)" */
export function describePending(p: Pending): string {
  return `unfinished ${p.operation} of ${p.version ?? 'unknown'} into ${p.slot ?? '?'} stopped at "${p.step}" (pid ${p.pid}, started ${p.startedAt})`
}

/** The library's guard: nothing is planned over what a killed run left (the scripts repair it first). */
export function refuseIfPending(p: Platform, state: DeployState): void {
  if (p.dryRun || !state.pending) return
  throw new RefusedError(
    `Can't act: an earlier run was killed and left an ${describePending(state.pending)}. Nothing was changed.`,
    'Run deploy-production, switch-to-green, rollback-production or create-green-environment again: each repairs it first.',
  )
}

/** Why a slot must not be stopped now (it can still receive a request), or null. */
export function retireBlocker(state: DeployState, routing: LiveRouting, slot: Slot): string | null {
  if (state.pending) return `an ${describePending(state.pending)} is recorded; the next changing script repairs it`
  if (routing.gradual)
    return `a gradual shift is in progress (${routing.gradual.percent}% of new requests go to ${routing.gradual.to})`
  if (routing.live === slot) return `${slot} is live`
  const bucket = routing.markers.find((m) => m.startsWith(`to-${slot}-b`))
  if (bucket) return `the nginx marker ${bucket} routes requests to ${slot}`
  return null
}

/**
 * Null when `version` passed a verification (its last decisive switch succeeded, or it is in the
 * release list as verified); otherwise why not: "failed its verification (…)" or "was never verified".
 * An interrupted or aborted switch decides nothing: it says nothing new about the release.
 */
export function unverifiedReason(state: DeployState, version: string): string | null {
  for (const e of [...state.history].reverse()) {
    if (e.version !== version || (e.action !== 'switch' && e.action !== 'recover')) continue
    if (e.outcome === 'succeeded' || e.outcome === 'verified') return null
    if (e.outcome === 'rolled_back') return `failed its verification (${e.detail ?? 'rolled back'}, ${e.time})`
  }
  if (state.releases.some((r) => r.version === version && r.verified !== false)) return null
  const record = SLOTS.map((s) => state.slots[s]).find((r) => r?.version === version)
  return record?.failure ? `failed its verification (${record.failure})` : 'was never verified'
}

/** The state once `to` passed its verification: live, verified, in the release list; `from` kept warm. */
export function commitSwitch(
  s: DeployState,
  o: { from: Slot; to: Slot; version: string; keepPreviousMs: number; verified: boolean },
): void {
  s.live = o.to
  const rec: Release = s.slots[o.to] ?? {
    version: o.version,
    slot: o.to,
    deployedAt: new Date().toISOString(),
    deployedBy: whoami().user,
  }
  s.slots[o.to] = { ...rec, verified: o.verified }
  delete s.slots[o.to]!.failure
  const prevVersion = s.slots[o.from]?.version
  s.previous = prevVersion
    ? { slot: o.from, version: prevVersion, warmUntil: new Date(Date.now() + o.keepPreviousMs).toISOString() }
    : null
  s.releases.push({ ...s.slots[o.to]! })
  s.pending = null
}

/** Marks the release in `slot` as not verified (why: the failure, when it failed). */
export function markUnverified(s: DeployState, slot: Slot, version: string, why?: string): void {
  const rec: Release = s.slots[slot] ?? {
    version,
    slot,
    deployedAt: new Date().toISOString(),
    deployedBy: whoami().user,
  }
  s.slots[slot] = { ...rec, verified: rec.verified === true && !why, ...(why ? { failure: why.slice(0, 300) } : {}) }
}

export class CleanupError extends OperationError {}

export type Removal = { removed: true } | { removed: false; why: string; left: string[] }

/**
 * Removes a candidate slot. On success the slot is recorded empty; when removing fails, the slot
 * stays recorded as occupied with the containers that are left (nothing claims it went).
 */
export async function removeCandidate(
  p: Platform,
  store: Store,
  ui: Printer,
  o: { slot: Slot; version: string; live: Slot; removeOneOffs?: (slot: Slot) => Promise<number> },
): Promise<Removal> {
  try {
    await ui.step(`Removing the candidate ${o.version} from ${o.slot} (${o.live} keeps serving)`, async () => {
      await o.removeOneOffs?.(o.slot)
      await p.removeSlot(o.slot)
    })
  } catch (e) {
    const status = await p.slotStatus(o.slot).catch(() => null)
    const left = status?.services.map((s) => s.name) ?? []
    store.update((s) => {
      const rec: Release = s.slots[o.slot] ?? {
        version: o.version,
        slot: o.slot,
        deployedAt: new Date().toISOString(),
        deployedBy: whoami().user,
      }
      s.slots[o.slot] = { ...rec, verified: false, left }
    })
    return { removed: false, why: errorMessage(e), left }
  }
  store.update((s) => {
    s.slots[o.slot] = null
    if (s.previous?.slot === o.slot) s.previous = null
  })
  return { removed: true }
}

/** The error for a candidate that could not be removed: what failed first, what is left, how to clean it. */
export function cleanupError(first: string, slot: Slot, r: Extract<Removal, { removed: false }>): CleanupError {
  const left = r.left.length ? r.left.join(', ') : 'unknown (docker did not list them)'
  return new CleanupError(
    `${first.replace(/\.$/, '')}; and could not remove the candidate from ${slot}: ${r.why}; left: ${left}. ${otherSlot(slot)} keeps serving`,
    r.left.length
      ? `Remove what is left with: docker rm -f ${r.left.join(' ')}   then run: npx zx scripts/status.ts`
      : `List what is left with: npx zx scripts/status.ts, then remove those containers with docker rm -f <names>`,
  )
}
