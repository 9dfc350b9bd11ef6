// The blue-green operations: create the idle slot, switch traffic (at once or gradually, with a
// verification window that switches back on its own), roll back, retire the previous slot.
// Written against a Platform (ports) and a Store, so unit tests run them with fakes.
import { whoami } from './who.ts'
import { addHistory, otherSlot, type DeployState, type Release, type Slot, type Store } from './model.ts'
import { analyze, sleepUnlessAborted, type Analysis, type ProbeResult } from './probe.ts'
import { OperationError, RefusedError, InterruptedError, errorMessage } from './errors.ts'
import type { Platform, SlotStatus } from './platform.ts'
import type { Printer } from './ui.ts'
import {
  cleanupError,
  commitSwitch,
  markUnverified,
  refuseIfPending,
  removeCandidate,
  retireBlocker,
} from './safety.ts'

export type Thresholds = { minSuccessRate: number; maxP95Ms: number }

const sleep = sleepUnlessAborted

/** What to do about a gradual shift nobody is running any more. */
export function stuckShiftHint(to: Slot): string {
  return `Finish it with switch-to-green --slot ${to}, or abort it: rollback-production sends every bucket back to ${otherSlot(to)} (no container is recreated).`
}

/** The world and the record must agree before anything is changed. */
export function checkDrift(state: DeployState, live: Slot): void {
  if (state.live !== null && state.live !== live)
    throw new RefusedError(
      `Can't act: drift: the state file says ${state.live} is live but nginx routes to ${live}. Nothing was changed.`,
      `Find out why (npx zx scripts/health-check.ts). If nginx is right, record it: npx zx scripts/record-live.ts. If the state is right, switch: npx zx scripts/switch-to-green.ts --slot ${state.live}`,
    )
}

function describeProbes(results: ProbeResult[]): string {
  return results
    .filter((r) => !r.ok)
    .map((r) => `${r.name}: ${r.detail}`)
    .join('; ')
}

// ---------------------------------------------------------------- create

export type CreatePlan = {
  slot: Slot
  live: Slot
  version: string
  replaces: string | null
  build: boolean
  steps: string[]
}

export async function planCreate(
  p: Platform,
  store: Store,
  o: { version: string; slot?: Slot; replace?: boolean; build?: boolean },
): Promise<CreatePlan> {
  const routing = p.readRouting()
  const state = store.read()
  refuseIfPending(p, state)
  checkDrift(state, routing.live)
  if (routing.gradual)
    throw new RefusedError(
      `Can't create a release now: a gradual shift to ${routing.gradual.to} is in progress (${routing.gradual.percent}%)`,
      stuckShiftHint(routing.gradual.to),
    )
  const slot = o.slot ?? otherSlot(routing.live)
  if (slot === routing.live)
    throw new RefusedError(
      `Can't create ${o.version} in ${slot}: ${slot} is the live slot. Nothing was changed.`,
      `Releases go to the idle slot (${otherSlot(slot)}).`,
    )
  const status = await p.slotStatus(slot)
  const replaces = status.services.length ? (status.version ?? state.slots[slot]?.version ?? 'unknown') : null
  if (replaces && !o.replace)
    throw new RefusedError(
      `Can't create ${o.version} in ${slot}: ${slot} already runs release ${replaces}${state.previous?.slot === slot ? ' (the previous release, kept warm for an instant rollback)' : ''}. Nothing was changed.`,
      'Re-run with --replace to replace it (the instant rollback to it is then gone).',
    )
  if (!o.build && !(await p.imageAvailable(o.version)))
    throw new RefusedError(
      `Can't create ${o.version}: its image is not on this host. Nothing was changed.`,
      'Build it with --build, or load/pull the image first.',
    )
  const steps = [
    ...(o.build ? [`build the image of ${o.version}`] : []),
    ...(replaces ? [`remove ${slot} (now ${replaces}; drained first)`] : []),
    `start ${o.version} in ${slot} and wait for every service's healthcheck`,
    `probe every role of ${slot} through the preview listener`,
    `record ${o.version} in ${slot}; ${routing.live} stays live`,
  ]
  return { slot, live: routing.live, version: o.version, replaces, build: !!o.build, steps }
}

export async function executeCreate(
  p: Platform,
  store: Store,
  ui: Printer,
  plan: CreatePlan,
  o: { timeoutMs: number; signal?: AbortSignal },
): Promise<Release> {
  const started = Date.now()
  const { slot, version } = plan
  const deadline = started + o.timeoutMs
  const abortIfSignalled = () => {
    if (o.signal?.aborted) throw new InterruptedError(`Can't finish creating ${version} in ${slot}: interrupted`)
  }
  store.update(
    (s) =>
      (s.pending = {
        operation: 'create',
        version,
        slot,
        step: 'starting',
        startedAt: new Date().toISOString(),
        pid: process.pid,
      }),
  )
  try {
    // a dry run prints the exact commands and what it would check, and claims no step as done
    const step = <T>(title: string, would: string, fn: () => Promise<T>): Promise<T> => {
      if (!p.dryRun) return ui.step(title, fn)
      rehearse(ui, `would ${would}`)
      return fn()
    }
    if (plan.build)
      await step(`Building the image of ${version}`, `build the image of ${version}`, () => p.buildImage(version))
    abortIfSignalled()
    if (plan.replaces) {
      await step(`Removing ${plan.replaces} from ${slot}`, `remove ${plan.replaces} from ${slot}`, () =>
        p.removeSlot(slot),
      )
      store.update((s) => {
        s.slots[slot] = null
        if (s.previous?.slot === slot) s.previous = null
      })
    }
    abortIfSignalled()
    await step(
      `Starting ${version} in ${slot}`,
      `start ${version} in ${slot} and wait for every service's healthcheck`,
      () => p.startSlot(slot, version, Math.max(1000, deadline - Date.now())),
    )
    abortIfSignalled()
    await step(
      `Probing ${slot} through the preview listener`,
      `probe every role of ${slot} through the preview listener until two rounds in a row pass`,
      async () => {
        if (p.dryRun) return
        let last: ProbeResult[] = []
        let streak = 0
        // at least one round, even when starting the containers used up the deadline
        do {
          last = await p.probeSlot(slot, version, o.signal)
          streak = last.every((r) => r.ok) ? streak + 1 : 0
          if (streak >= 2 || p.dryRun) return
          await sleep(250, o.signal)
        } while (Date.now() < deadline && !o.signal?.aborted)
        abortIfSignalled()
        throw new OperationError(
          `Can't start ${version} in ${slot}: not healthy through the preview listener within ${Math.round(o.timeoutMs / 1000)} s (${describeProbes(last) || 'no answer'})`,
        )
      },
    )
  } catch (err) {
    const interrupted = err instanceof InterruptedError || o.signal?.aborted
    let logs = ''
    if (!interrupted) {
      const status = await p.slotStatus(slot).catch(() => null)
      if (status?.problems.length) ui.error(`Failing services in ${slot}: ${status.problems.join(', ')}`)
      logs = await p.slotLogs(slot, version).catch(() => '')
      if (logs.trim()) ui.warn(`Last log lines of ${slot}:\n${logs.trim()}`)
    }
    const removal = await removeCandidate(p, store, ui, { slot, version, live: plan.live })
    const outcome = !removal.removed ? 'cleanup_failed' : interrupted ? 'interrupted' : 'failed'
    store.update((s) => {
      // a candidate that could not be removed stays recorded (and pending: the next run retries)
      if (removal.removed) s.pending = null
      addHistory(s, {
        action: 'create',
        outcome,
        version,
        to: slot,
        detail: String((err as Error).message).slice(0, 300),
      })
    })
    store.audit({
      action: 'create',
      outcome,
      version,
      slot,
      durationMs: Date.now() - started,
      detail: (err as Error).message,
    })
    if (!removal.removed)
      throw cleanupError(
        interrupted ? `Can't finish creating ${version} in ${slot}: interrupted` : errorMessage(err),
        slot,
        removal,
      )
    if (interrupted)
      throw new InterruptedError(
        `Can't finish creating ${version} in ${slot}: interrupted; the candidate was removed and ${plan.live} keeps serving`,
      )
    if (err instanceof OperationError) {
      err.message += `. The candidate was removed; ${plan.live} is still live.`
      throw err
    }
    throw new OperationError(
      `Can't create ${version} in ${slot}: ${(err as Error).message}. The candidate was removed; ${plan.live} is still live.`,
      '',
      err,
    )
  }
  const release: Release = { version, slot, deployedAt: new Date().toISOString(), deployedBy: whoami().user }
  store.update((s) => {
    s.slots[slot] = release
    s.pending = null
    addHistory(s, { action: 'create', outcome: 'succeeded', version, to: slot })
  })
  store.audit({ action: 'create', outcome: 'succeeded', version, slot, durationMs: Date.now() - started })
  return release
}

// ---------------------------------------------------------------- switch

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
  const status = await p.slotStatus(to)
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

/** Probes in a loop for durationMs; stops early when failures make the thresholds unreachable. */
export async function watchWindow(
  probe: () => Promise<ProbeResult[]>,
  durationMs: number,
  th: Thresholds,
  o: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<Analysis> {
  const results: ProbeResult[] = []
  const end = Date.now() + durationMs
  do {
    results.push(...(await probe()))
    const failures = results.filter((r) => !r.ok).length
    // enough failures that the window can't pass any more: stop early
    if (failures >= 3 && failures / Math.max(results.length, 20) > 1 - th.minSuccessRate) break
    if (Date.now() >= end || o.signal?.aborted) break
    await sleep(o.intervalMs ?? 200, o.signal)
  } while (Date.now() < end && !o.signal?.aborted)
  return analyze(results, th)
}

/** Waits until every public answer comes from `to` (5 s at most); ms it took, or the answers seen. */
export async function confirmPublic(
  p: Platform,
  to: Slot,
  signal?: AbortSignal,
): Promise<{ ok: boolean; ms: number; seen: string }> {
  const t0 = Date.now()
  let seen: ProbeResult[] = []
  for (;;) {
    seen = await p.probePublic(signal)
    if (seen.every((r) => r.ok && r.headers?.['x-slot'] === to)) return { ok: true, ms: Date.now() - t0, seen: '' }
    if (Date.now() - t0 > 5000 || signal?.aborted) break
    await sleep(50, signal)
  }
  return {
    ok: false,
    ms: Date.now() - t0,
    seen: seen.map((r) => `${r.name}: ${r.ok ? `X-Slot ${r.headers?.['x-slot']}` : r.detail}`).join('; '),
  }
}

/** A dry run says what it would do and check; it claims nothing it did not observe. */
export function rehearse(ui: Printer, text: string): void {
  ui.info(`${ui.c.cyan('[dry-run]')} ${text}`)
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

// ---------------------------------------------------------------- retire the previous slot

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

export type { SlotStatus }

// ---------------------------------------------------------------- drift

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
