// The steps of one switch: the gradual shift, the switch of every request with its confirmation, the
// verification window, the record, and the switch back to the old slot on a failure or a signal.
import { InterruptedError, OperationError } from './errors.ts'
import type { Store, SwitchThresholds as Thresholds } from './model.ts'
import { addHistory, type Slot } from './model.ts'
import type { Platform } from './platform.ts'
import type { ProbeResult } from './probe.ts'
import { commitSwitch, markUnverified } from './safety.ts'
import { rehearse } from './slot-checks.ts'
import type { Analysis } from './traffic.ts'
import type { Printer } from './ui.ts'
import { confirmPublic, watchWindow } from './watch.ts'
import { whoami } from './who.ts'

export type SwitchOptions = {
  stepMs: number
  verifyMs: number
  thresholds: Thresholds
  keepPreviousMs: number
  signal?: AbortSignal
  /** probes per second during analysis windows */
  intervalMs?: number
}

export type SwitchResult = {
  from: Slot
  to: Slot
  version: string
  switchMs: number
  verification: Analysis | null
  switchedBack: boolean
}

/** Marks the error of a switch that already went back (the catch-all does not go back twice). */
export const SWITCHED_BACK = Symbol('switched back')

/** One run of executeSwitch: what its steps share. */
export type SwitchRun = {
  p: Platform
  store: Store
  ui: Printer
  plan: { from: Slot; to: Slot; version: string; gradual: number[] }
  o: SwitchOptions
  started: number
}

const aborted = (run: SwitchRun) => !!run.o.signal?.aborted

/** Every request back to plan.from (the candidate keeps running), recorded; throws the error to report. */
export async function switchBack(run: SwitchRun, why: string): Promise<never> {
  const { p, store, ui, started } = run
  const { from, to, version } = run.plan
  const interrupted = aborted(run)
  const outcome = interrupted ? 'interrupted' : 'rolled_back'
  p.setLive(from) // also removes every gradual bucket marker
  store.update((s) => {
    s.live = from
    s.pending = null
    markUnverified(s, to, version, interrupted ? undefined : why)
    addHistory(s, { action: 'switch', outcome, version, from, to, detail: why })
  })
  store.audit({ action: 'switch', outcome, version, slot: to, durationMs: Date.now() - started, detail: why })
  await store.recordLive?.(from, true)
  ui.error(`Switched back to ${from}: ${why}`)
  const message = `Can't keep ${to} (${version}) live: ${why}. Traffic is back on ${from}.`
  const hint = `Look at ${to}: npx zx scripts/health-check.ts; it is still running for inspection.`
  throw Object.assign(interrupted ? new InterruptedError(message, hint) : new OperationError(message, hint), {
    [SWITCHED_BACK]: true,
  })
}

const window = (run: SwitchRun, title: string, probe: () => Promise<ProbeResult[]>, ms: number) =>
  run.ui.step(title, () =>
    watchWindow(probe, ms, run.o.thresholds, { signal: run.o.signal, intervalMs: run.o.intervalMs }),
  )

/** The gradual steps: each a share of new requests to plan.to and an analysis window; a failed one goes back. */
export async function shiftGradually(run: SwitchRun): Promise<void> {
  const { p, ui, o, plan } = run
  const { from, to } = plan
  for (const pct of plan.gradual) {
    if (aborted(run)) await switchBack(run, `interrupted before the ${pct}% step of the gradual shift`)
    if (p.dryRun) {
      p.setGradual(to, pct)
      rehearse(
        ui,
        `would analyse ${to} at ${pct}% for ${Math.round(o.stepMs / 1000)}s (preview and public probes; success rate ≥ ${o.thresholds.minSuccessRate * 100}%, p95 ≤ ${o.thresholds.maxP95Ms} ms), and go back to ${from} if it fails`,
      )
      continue
    }
    await ui.step(`Sending ${pct}% of new requests to ${to}`, async () => p.setGradual(to, pct))
    const a = await window(
      run,
      `Analysing ${to} at ${pct}% for ${Math.round(o.stepMs / 1000)}s`,
      async () => [...(await p.probeSlot(to)), ...(await p.probePublic())],
      o.stepMs,
    )
    if (!a.ok) await switchBack(run, `analysis at ${pct}% failed: ${a.reasons.join('; ')}`)
    if (aborted(run)) await switchBack(run, `interrupted during the gradual shift at ${pct}%`)
  }
}

/** Every new request to plan.to, confirmed through the public listener; the confirmation's time in ms. */
export async function switchAll(run: SwitchRun): Promise<number> {
  const { p, store, ui, o } = run
  const { from, to, version } = run.plan
  let switchMs = 0
  if (p.dryRun) {
    p.setLive(to)
    rehearse(
      ui,
      `would confirm through the public listener that responses carry X-Deploy-Slot: ${to} (5 s at most, else back to ${from})`,
    )
  } else {
    await ui.step(`Switching every new request to ${to} (${version})`, async () => p.setLive(to))
    const c = await confirmPublic(p, to, o.signal)
    if (aborted(run)) await switchBack(run, 'interrupted while confirming the switch')
    if (!c.ok) await switchBack(run, `the public listener does not answer from ${to} (${c.seen})`)
    switchMs = c.ms
    await store.recordLive?.(to, false)
    ui.success(`Every new request goes to ${to}: confirmed by X-Deploy-Slot in ${switchMs} ms`)
  }
  return switchMs
}

/** Routed there, not yet verified: a killed run is verified again by the next one. */
export function markVerifying(run: SwitchRun): void {
  const { store, started } = run
  const { from, to, version } = run.plan
  store.update((s) => {
    // routed there, not yet verified: a killed run is verified again by the next one
    s.live = to
    s.slots[to] ??= { version, slot: to, deployedAt: new Date().toISOString(), deployedBy: whoami().user }
    s.pending = {
      operation: 'switch',
      version,
      slot: to,
      from,
      step: 'verifying',
      startedAt: new Date(started).toISOString(),
      pid: process.pid,
    }
  })
}

/** The verification window through the public listener; a failure goes back. */
export async function verifySwitch(run: SwitchRun): Promise<Analysis | null> {
  const { p, ui, o } = run
  const { from, to } = run.plan
  let verification: Analysis | null = null
  if (o.verifyMs > 0 && p.dryRun)
    rehearse(
      ui,
      `would verify ${to} for ${Math.round(o.verifyMs / 1000)}s through the public listener, and switch back to ${from} if it fails or is interrupted`,
    )
  else if (o.verifyMs > 0) {
    verification = await window(
      run,
      `Verifying ${to} for ${Math.round(o.verifyMs / 1000)}s`,
      () => p.probePublic(),
      o.verifyMs,
    )
    if (!verification.ok) await switchBack(run, `verification failed: ${verification.reasons.join('; ')}`)
  }
  return verification
}

/** The switch is verified: the previous slot kept warm, history and audit. */
export function recordSwitch(run: SwitchRun): void {
  const { store, o, started } = run
  const { from, to, version } = run.plan
  store.update((s) => {
    commitSwitch(s, {
      from,
      to,
      version,
      keepPreviousMs: o.keepPreviousMs,
      verified: o.verifyMs > 0 || s.slots[to]?.verified !== false,
    })
    addHistory(s, { action: 'switch', outcome: 'succeeded', version, from, to })
  })
  store.audit({
    action: 'switch',
    outcome: 'succeeded',
    version,
    slot: to,
    durationMs: Date.now() - started,
    detail: `from ${from}`,
  })
}
