// Switch: move traffic to the idle slot (at once or in steps), confirm, verify, and switch back on
// its own when the verification fails or a signal arrives.
import type { Store, SwitchThresholds as Thresholds } from './model.ts'
import { OperationError, RefusedError, InterruptedError, errorMessage } from './errors.ts'
import { summarizeServices, type Platform, type SlotStatus } from './platform.ts'
import type { ProbeResult } from './probe.ts'
import { commitSwitch, markUnverified, refuseIfPending } from './safety.ts'
import { checkDrift, describeProbes, rehearse } from './slot-checks.ts'
import { addHistory, otherSlot, type Slot } from './model.ts'
import { whoami } from './who.ts'
import type { Analysis } from './traffic.ts'
import type { Printer } from './ui.ts'
import { confirmPublic, watchWindow } from './watch.ts'

export function parseGradual(text: unknown): number[] {
  if (text === undefined) return []
  const steps = String(text)
    .split(',')
    .map((s) => s.trim())
  const nums = steps.map(Number)
  if (
    !steps.length ||
    nums.some((n, i) => !/^\d{1,3}$/.test(steps[i]!) || n < 1 || n > 100) ||
    nums.some((n, i) => i > 0 && n <= nums[i - 1]!) ||
    nums[nums.length - 1] !== 100
  )
    throw new RefusedError(
      `Can't read --gradual ${JSON.stringify(String(text).slice(0, 60))}: give rising percentages ending at 100`,
      'For example: --gradual 10,25,50,100. Nothing was changed.',
    )
  return nums
}

export type SwitchPlan = {
  from: Slot
  to: Slot
  version: string
  fromVersion: string | null
  gradual: number[]
  steps: string[] /** a recovery already finished this switch */
  done?: boolean
}

/**
 * Docker's "health: starting" is no verdict yet (its healthcheck runs every few seconds): a started
 * container counts as ready to switch to when the toolkit's own probes through the preview listener pass,
 * which planSwitch checks next. "unhealthy", exited or missing containers still refuse the switch.
 */
export function switchable(status: SlotStatus): SlotStatus {
  if (!status.services.some((s) => s.health === 'starting')) return status
  const services = status.services.map((s) => (s.health === 'starting' ? { ...s, health: '' } : s))
  return { ...status, ...summarizeServices(services) }
}

/** o.continuing: called by an operation that recorded its own pending step (the deploy pipeline) */
export async function planSwitch(
  p: Platform,
  store: Store,
  o: { to?: Slot; gradual?: number[]; continuing?: boolean },
): Promise<SwitchPlan> {
  const routing = p.readRouting()
  const state = store.read()
  if (!o.continuing) refuseIfPending(p, state)
  checkDrift(state, routing.live)
  const to = o.to ?? otherSlot(routing.live)
  if (to === routing.live && !routing.gradual)
    throw new RefusedError(`Can't switch to ${to}: it is already live. Nothing was changed.`)
  const status = switchable(await p.slotStatus(to))
  if (!status.running || !status.healthy) {
    const n = status.problems.length
    throw new RefusedError(
      `Can't switch to ${to}: ${status.services.length ? `${n} of 4 services unhealthy (${status.problems.join(', ')})` : 'it runs no release'}. Nothing was changed.`,
      status.services.length
        ? 'See: npx zx scripts/health-check.ts'
        : 'Create it first: npx zx scripts/create-green-environment.ts --version <tag>',
    )
  }
  const probes = await p.probeSlot(to, status.version ?? undefined)
  if (!probes.every((r) => r.ok))
    throw new RefusedError(
      `Can't switch to ${to}: ${describeProbes(probes)}. Nothing was changed.`,
      'See: npx zx scripts/health-check.ts',
    )
  const version = status.version ?? state.slots[to]?.version ?? 'unknown'
  const gradual = (o.gradual ?? []).filter((x) => x < 100)
  const from = otherSlot(to)
  return {
    from,
    to,
    version,
    fromVersion: state.slots[from]?.version ?? null,
    gradual,
    steps: [
      ...gradual.map((pct) => `send ${pct}% of new requests to ${to}, then analyse`),
      `send every new request to ${to} (${version}); requests in flight on ${from} finish there`,
      `confirm through the public listener that responses carry X-Slot: ${to}`,
      `watch the verification window; switch back to ${from} on its own if it fails`,
      `keep ${from} warm for an instant rollback`,
    ],
  }
}

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

const SWITCHED_BACK = Symbol('switched back')

/**
 * Moves traffic to plan.to (in steps when plan.gradual), confirms, verifies, then records. Any signal
 * or failure before the verification has passed sends every request back to plan.from (the candidate
 * keeps running, for inspection) and throws: InterruptedError on a signal, OperationError otherwise.
 */
export async function executeSwitch(
  p: Platform,
  store: Store,
  ui: Printer,
  plan: SwitchPlan,
  o: SwitchOptions,
): Promise<SwitchResult> {
  const started = Date.now()
  const { from, to, version } = plan
  if (plan.done) return { from, to, version, switchMs: 0, verification: null, switchedBack: false }
  const aborted = () => !!o.signal?.aborted
  const back = async (why: string): Promise<never> => {
    const interrupted = aborted()
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
  const window = (title: string, probe: () => Promise<ProbeResult[]>, ms: number) =>
    ui.step(title, () => watchWindow(probe, ms, o.thresholds, { signal: o.signal, intervalMs: o.intervalMs }))
  store.update(
    (s) =>
      (s.pending = {
        operation: 'switch',
        version,
        slot: to,
        from,
        step: 'switching',
        startedAt: new Date(started).toISOString(),
        pid: process.pid,
      }),
  )
  try {
    for (const pct of plan.gradual) {
      if (aborted()) await back(`interrupted before the ${pct}% step of the gradual shift`)
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
        `Analysing ${to} at ${pct}% for ${Math.round(o.stepMs / 1000)}s`,
        async () => [...(await p.probeSlot(to)), ...(await p.probePublic())],
        o.stepMs,
      )
      if (!a.ok) await back(`analysis at ${pct}% failed: ${a.reasons.join('; ')}`)
      if (aborted()) await back(`interrupted during the gradual shift at ${pct}%`)
    }
    if (aborted()) await back('interrupted before the switch')
    let switchMs = 0
    if (p.dryRun) {
      p.setLive(to)
      rehearse(
        ui,
        `would confirm through the public listener that responses carry X-Slot: ${to} (5 s at most, else back to ${from})`,
      )
    } else {
      await ui.step(`Switching every new request to ${to} (${version})`, async () => p.setLive(to))
      const c = await confirmPublic(p, to, o.signal)
      if (aborted()) await back('interrupted while confirming the switch')
      if (!c.ok) await back(`the public listener does not answer from ${to} (${c.seen})`)
      switchMs = c.ms
      await store.recordLive?.(to, false)
      ui.success(`Every new request goes to ${to}: confirmed by X-Slot in ${switchMs} ms`)
    }
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
    let verification: Analysis | null = null
    if (o.verifyMs > 0 && p.dryRun)
      rehearse(
        ui,
        `would verify ${to} for ${Math.round(o.verifyMs / 1000)}s through the public listener, and switch back to ${from} if it fails or is interrupted`,
      )
    else if (o.verifyMs > 0) {
      verification = await window(
        `Verifying ${to} for ${Math.round(o.verifyMs / 1000)}s`,
        () => p.probePublic(),
        o.verifyMs,
      )
      if (!verification.ok) await back(`verification failed: ${verification.reasons.join('; ')}`)
    }
    if (aborted())
      await back(
        o.verifyMs > 0 ? 'interrupted during the verification window' : 'interrupted before the switch was recorded',
      )
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
    return { from, to, version, switchMs, verification, switchedBack: false }
  } catch (err) {
    if ((err as Record<symbol, unknown>)[SWITCHED_BACK] || p.dryRun) throw err
    // anything unexpected (a marker write, a probe crash) while traffic may be moving: go back too
    return back(`${errorMessage(err)}`)
  }
}
