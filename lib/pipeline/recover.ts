// What a killed run left behind, and how the next run puts it right. Called under the deploy
// lock, so a pending operation recorded in the state belongs to a process that is gone.
//
//   nginx routes to the pending slot (killed after the switch,   -> verify it again: keep it only if
//   e.g. inside the verification window)                            that passes, else switch back
//   a switch killed before the full switch (gradual buckets)     -> every bucket back; candidate kept
//   a create or deploy killed before the switch                  -> remove the half-made candidate
// A release is never adopted unverified.
import { addHistory, otherSlot, type DeployState, type Slot, type Store } from '../model.ts'
import { watchWindow, type Thresholds } from '../bluegreen.ts'
import { InterruptedError } from '../errors.ts'
import type { LiveRouting } from '../nginx.ts'
import type { Platform } from '../platform.ts'
import { cleanupError, commitSwitch, describePending, markUnverified, removeCandidate } from '../safety.ts'
import type { Printer } from '../ui.ts'
import type { Config } from '../config.ts'

export type Recovery =
  | { action: 'none' }
  | { action: 'reverify'; slot: Slot; from: Slot; version: string; found: string }
  | { action: 'abort-shift'; slot: Slot; live: Slot; version: string; found: string }
  | { action: 'remove-candidate'; slot: Slot; version: string; live: Slot; found: string }

export function decideRecovery(state: DeployState, routing: LiveRouting): Recovery {
  const p = state.pending
  if (!p) return { action: 'none' }
  const version = p.version ?? 'unknown'
  const found = `an ${describePending(p)}`
  if (!p.slot) return { action: 'remove-candidate', slot: otherSlot(routing.live), version, live: routing.live, found }
  if (routing.live === p.slot)
    return { action: 'reverify', slot: p.slot, from: p.from ?? otherSlot(p.slot), version, found }
  if (p.operation === 'switch') return { action: 'abort-shift', slot: p.slot, live: routing.live, version, found }
  return { action: 'remove-candidate', slot: p.slot, version, live: otherSlot(p.slot), found }
}

export type VerifyOptions = {
  verifyMs: number
  thresholds: Thresholds
  keepPreviousMs: number
  intervalMs?: number
  signal?: AbortSignal
}

export type RecoverOptions = { dryRun: boolean; removeOneOffs?: (slot: Slot) => Promise<number>; verify: VerifyOptions }

/** Verifies a slot a killed run had switched to; keeps it only if that passes, else switches back. */
async function reverify(
  p: Platform,
  store: Store,
  ui: Printer,
  r: Extract<Recovery, { action: 'reverify' }>,
  v: VerifyOptions,
): Promise<string> {
  const secs = Math.round(v.verifyMs / 1000)
  const a = await ui.step(`Verifying ${r.slot} (${r.version}) again for ${secs}s`, () =>
    watchWindow(() => p.probePublic(), v.verifyMs, v.thresholds, { signal: v.signal, intervalMs: v.intervalMs }),
  )
  if (a.ok && !v.signal?.aborted) {
    store.update((s) => {
      commitSwitch(s, {
        from: r.from,
        to: r.slot,
        version: r.version,
        keepPreviousMs: v.keepPreviousMs,
        verified: true,
      })
      addHistory(s, {
        action: 'recover',
        outcome: 'verified',
        version: r.version,
        from: r.from,
        to: r.slot,
        detail: r.found,
      })
    })
    store.audit({
      action: 'recover',
      outcome: 'verified',
      version: r.version,
      slot: r.slot,
      detail: `${r.found}; ${a.total} probes, ${(a.successRate * 100).toFixed(1)}% ok`,
    })
    return `verified again: ${r.slot} (${r.version}) passed ${a.total} probes and stays live; ${r.from} stays warm`
  }
  const why = v.signal?.aborted
    ? 'interrupted while verifying it again'
    : `its verification failed again: ${a.reasons.join('; ')}`
  const outcome = v.signal?.aborted ? 'interrupted' : 'rolled_back'
  p.setLive(r.from)
  store.update((s) => {
    s.live = r.from
    s.pending = null
    markUnverified(s, r.slot, r.version, v.signal?.aborted ? undefined : why)
    addHistory(s, {
      action: 'recover',
      outcome,
      version: r.version,
      from: r.slot,
      to: r.from,
      detail: `${r.found}; ${why}`,
    })
  })
  store.audit({ action: 'recover', outcome, version: r.version, slot: r.from, detail: `${r.found}; ${why}` })
  await store.recordLive?.(r.from, true)
  const line = `switched back to ${r.from}: ${r.slot} (${r.version}) ${why}; it is still running for inspection`
  if (v.signal?.aborted) throw new InterruptedError(`Can't finish the recovery: ${line}`)
  return line
}

/**
 * Detects and repairs what a killed run left: says what it found, then verifies again, aborts the
 * shift or removes the candidate. With dryRun it only reports. Returns the lines, for the plan.
 */
export async function recoverPending(p: Platform, store: Store, ui: Printer, o: RecoverOptions): Promise<string[]> {
  const state = store.read()
  const routing = p.readRouting()
  const r = decideRecovery(state, routing)
  if (r.action === 'none') return []
  ui.warn(`Found what an earlier run left: ${r.found}.`)
  if (r.action === 'reverify') {
    if (o.dryRun)
      return [
        `recover: nginx routes to ${r.slot} (${r.version}), which was never verified: verify it again for ${Math.round(o.verify.verifyMs / 1000)}s; keep it only if that passes, else switch back to ${r.from}`,
      ]
    if (routing.gradual) p.clearGradual()
    const line = await reverify(p, store, ui, r, o.verify)
    ui.warn(`Recovered: ${line}.`)
    return [`recovered: ${line}`]
  }
  if (r.action === 'abort-shift') {
    const line = `every request back on ${r.live} (the interrupted shift to ${r.slot} is aborted); ${r.slot} (${r.version}) keeps running, not verified`
    if (o.dryRun) return [`recover: ${line}`]
    p.setLive(r.live)
    store.update((s) => {
      s.live = r.live
      s.pending = null
      markUnverified(s, r.slot, r.version)
      addHistory(s, { action: 'recover', outcome: 'aborted', version: r.version, to: r.live, detail: r.found })
    })
    store.audit({ action: 'recover', outcome: 'aborted', version: r.version, slot: r.live, detail: r.found })
    ui.warn(`Recovered: ${line}.`)
    return [`recovered: ${line}`]
  }
  const line = `remove the half-made candidate ${r.version} from ${r.slot}; ${r.live} keeps serving`
  if (o.dryRun) return [`recover: ${line}`]
  if (routing.gradual) p.clearGradual()
  const removal = await removeCandidate(p, store, ui, {
    slot: r.slot,
    version: r.version,
    live: r.live,
    removeOneOffs: o.removeOneOffs,
  })
  if (!removal.removed) {
    // the record stays pending: the next run tries again
    store.audit({
      action: 'recover',
      outcome: 'cleanup_failed',
      version: r.version,
      slot: r.slot,
      detail: `${r.found}; ${removal.why}`,
    })
    throw cleanupError(`Can't repair what an earlier run left (${r.found})`, r.slot, removal)
  }
  store.update((s) => {
    if (s.live === r.slot) s.live = r.live // it was switched back before the record caught up
    if (s.previous?.slot === s.live) s.previous = null
    s.pending = null
    addHistory(s, { action: 'recover', outcome: 'removed', version: r.version, to: r.slot, detail: r.found })
  })
  store.audit({ action: 'recover', outcome: 'removed', version: r.version, slot: r.slot, detail: r.found })
  ui.warn(`Recovered: removed the candidate from ${r.slot}; ${r.live} keeps serving.`)
  return [`recovered: ${line}`]
}

/** True when the recovery verified (and so finished) a switch of `version` that a killed run had made. */
export function finishedByRecovery(before: DeployState['pending'], after: DeployState, version?: string): boolean {
  if (!before?.slot || (version && before.version !== version)) return false
  const rec = after.slots[before.slot]
  return (
    after.pending === null && after.live === before.slot && rec?.version === before.version && rec?.verified === true
  )
}

/** What every changing script runs first (under the lock): repair what a killed run left, naming it. */
export function recoverFirst(
  p: Platform,
  store: Store,
  ui: Printer,
  config: Config,
  o: { dryRun: boolean; signal?: AbortSignal; verifyMs?: number },
): Promise<string[]> {
  return recoverPending(p, store, ui, {
    dryRun: o.dryRun,
    verify: {
      verifyMs: o.verifyMs ?? config.verifyMs,
      thresholds: config.thresholds,
      keepPreviousMs: config.keepPreviousMs,
      signal: o.signal,
    },
  })
}
