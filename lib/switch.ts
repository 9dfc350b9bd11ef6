// Switch: move traffic to the idle slot (at once or in steps), confirm, verify, and switch back on
// its own when the verification fails or a signal arrives.
import type { Store } from './model.ts'
import { RefusedError, errorMessage } from './errors.ts'
import { summarizeServices, type Platform, type SlotStatus } from './platform.ts'
import { refuseIfPending } from './safety.ts'
import { checkDrift, describeProbes } from './slot-checks.ts'
import { otherSlot, type Slot } from './model.ts'
import type { Printer } from './ui.ts'
import type { StickyMode } from './day2/settings.ts'
import { describeSticky } from './nginx-render.ts'
import {
  markVerifying,
  recordSwitch,
  shiftGradually,
  SWITCHED_BACK,
  switchAll,
  switchBack,
  verifySwitch,
  type SwitchOptions,
  type SwitchResult,
  type SwitchRun,
} from './switch-steps.ts'

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
  return { ...status, ...summarizeServices(services, status.expected ?? services.map((s) => s.service)) }
}

/** o.continuing: called by an operation that recorded its own pending step (the deploy pipeline) */
export async function planSwitch(
  p: Platform,
  store: Store,
  o: { to?: Slot; gradual?: number[]; continuing?: boolean; sticky?: StickyMode },
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
      `Can't switch to ${to}: ${status.services.length ? `${n} of ${status.expected?.length ?? status.services.length} services unhealthy (${status.problems.join(', ')})` : 'it runs no release'}. Nothing was changed.`,
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
      ...(gradual.length && o.sticky ? [`split clients ${describeSticky(o.sticky)} (GRADUAL_STICKY=${o.sticky})`] : []),
      ...gradual.map((pct) => `send ${pct}% of new requests to ${to}, then analyse`),
      `send every new request to ${to} (${version}); requests in flight on ${from} finish there`,
      `confirm through the public listener that responses carry X-Deploy-Slot: ${to}`,
      `watch the verification window; switch back to ${from} on its own if it fails`,
      `keep ${from} warm for an instant rollback`,
    ],
  }
}

/** the options, the result and the steps of a switch live in switch-steps.ts; importers keep importing them from here */
export type { SwitchOptions, SwitchResult } from './switch-steps.ts'

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
  const run: SwitchRun = { p, store, ui, plan, o, started }
  const aborted = () => !!o.signal?.aborted
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
    await shiftGradually(run)
    if (aborted()) await switchBack(run, 'interrupted before the switch')
    const switchMs = await switchAll(run)
    markVerifying(run)
    const verification = await verifySwitch(run)
    if (aborted())
      await switchBack(
        run,
        o.verifyMs > 0 ? 'interrupted during the verification window' : 'interrupted before the switch was recorded',
      )
    recordSwitch(run)
    return { from, to, version, switchMs, verification, switchedBack: false }
  } catch (err) {
    if ((err as Record<symbol, unknown>)[SWITCHED_BACK] || p.dryRun) throw err
    // anything unexpected (a marker write, a probe crash) while traffic may be moving: go back too
    return switchBack(run, `${errorMessage(err)}`)
  }
}
