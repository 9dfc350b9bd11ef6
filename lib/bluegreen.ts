// The blue-green operations: create the idle slot, switch traffic (at once or gradually, with a
// verification window that switches back on its own), roll back, retire the previous slot.
// Written against a Platform (ports) and a Store, so unit tests run them with fakes.
import { analyze, sleepUnlessAborted, type Analysis, type ProbeResult } from './probe.ts'
import { OperationError, RefusedError, InterruptedError, shownValue } from './errors.ts'
import { VERSION_RE } from './compose.ts'
import type { Platform, SlotStatus } from './platform.ts'
import { addHistory, otherSlot, whoami, type AuditEntry, type DeployState, type Release, type Slot } from './state.ts'
import type { Printer } from './ui.ts'

export interface Store {
  read(): DeployState
  update(fn: (s: DeployState) => void): DeployState
  audit(entry: AuditEntry): void
  /** tells monitoring which slot is live now (and counts rollbacks and switch-backs); never throws */
  recordLive?(slot: Slot, rollback: boolean): Promise<void>
}

export type Thresholds = { minSuccessRate: number; maxP95Ms: number }

const sleep = sleepUnlessAborted

export function validateVersion(version: unknown, flag = '--version'): string {
  if (typeof version !== 'string' || version === '')
    throw new RefusedError(`Can't continue: ${flag} is required`, `Give the release's image tag, e.g. ${flag} v1.4.2`)
  if (!VERSION_RE.test(version)) {
    throw new RefusedError(`Can't use ${flag} ${shownValue(version)}: a version is an image tag: 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-'`, `Use the image tag, e.g. ${flag} v1.4.2. Nothing was changed.`)
  }
  return version
}

export function validateSlot(slot: unknown): Slot | undefined {
  if (slot === undefined) return undefined
  if (slot !== 'blue' && slot !== 'green')
    throw new RefusedError(`Can't use --slot ${shownValue(String(slot))}: a slot is blue or green`, 'Nothing was changed.')
  return slot
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
  return results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`).join('; ')
}

// ---------------------------------------------------------------- create

export type CreatePlan = { slot: Slot; live: Slot; version: string; replaces: string | null; build: boolean; steps: string[] }

export async function planCreate(p: Platform, store: Store, o: { version: string; slot?: Slot; replace?: boolean; build?: boolean }): Promise<CreatePlan> {
  const routing = p.readRouting()
  const state = store.read()
  checkDrift(state, routing.live)
  if (routing.gradual) throw new RefusedError(`Can't create a release now: a gradual shift to ${routing.gradual.to} is in progress (${routing.gradual.percent}%)`, 'Finish or abort it first (switch-to-green or rollback-production).')
  const slot = o.slot ?? otherSlot(routing.live)
  if (slot === routing.live) throw new RefusedError(`Can't create ${o.version} in ${slot}: ${slot} is the live slot. Nothing was changed.`, `Releases go to the idle slot (${otherSlot(slot)}).`)
  const status = await p.slotStatus(slot)
  const replaces = status.services.length ? (status.version ?? state.slots[slot]?.version ?? 'unknown') : null
  if (replaces && !o.replace)
    throw new RefusedError(
      `Can't create ${o.version} in ${slot}: ${slot} already runs release ${replaces}${state.previous?.slot === slot ? ' (the previous release, kept warm for an instant rollback)' : ''}. Nothing was changed.`,
      'Re-run with --replace to replace it (the instant rollback to it is then gone).',
    )
  if (!o.build && !(await p.imageAvailable(o.version)))
    throw new RefusedError(`Can't create ${o.version}: its image is not on this host. Nothing was changed.`, 'Build it with --build, or load/pull the image first.')
  const steps = [
    ...(o.build ? [`build the image of ${o.version}`] : []),
    ...(replaces ? [`remove ${slot} (now ${replaces}; drained first)`] : []),
    `start ${o.version} in ${slot} and wait for every service's healthcheck`,
    `probe every role of ${slot} through the preview listener`,
    `record ${o.version} in ${slot}; ${routing.live} stays live`,
  ]
  return { slot, live: routing.live, version: o.version, replaces, build: !!o.build, steps }
}

export async function executeCreate(p: Platform, store: Store, ui: Printer, plan: CreatePlan, o: { timeoutMs: number; signal?: AbortSignal }): Promise<Release> {
  const started = Date.now()
  const { slot, version } = plan
  const deadline = started + o.timeoutMs
  const abortIfSignalled = () => {
    if (o.signal?.aborted) throw new InterruptedError(`Can't finish creating ${version} in ${slot}: interrupted`)
  }
  store.update((s) => (s.pending = { operation: 'create', version, slot, step: 'starting', startedAt: new Date().toISOString(), pid: process.pid }))
  try {
    if (plan.build) await ui.step(`Building the image of ${version}`, () => p.buildImage(version))
    abortIfSignalled()
    if (plan.replaces) {
      await ui.step(`Removing ${plan.replaces} from ${slot}`, () => p.removeSlot(slot))
      store.update((s) => {
        s.slots[slot] = null
        if (s.previous?.slot === slot) s.previous = null
      })
    }
    abortIfSignalled()
    await ui.step(`Starting ${version} in ${slot}`, () => p.startSlot(slot, version, Math.max(1000, deadline - Date.now())))
    abortIfSignalled()
    await ui.step(`Probing ${slot} through the preview listener`, async () => {
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
      throw new OperationError(`Can't start ${version} in ${slot}: not healthy through the preview listener within ${Math.round(o.timeoutMs / 1000)} s (${describeProbes(last) || 'no answer'})`)
    })
  } catch (err) {
    const interrupted = err instanceof InterruptedError || o.signal?.aborted
    let logs = ''
    if (!interrupted) {
      const status = await p.slotStatus(slot).catch(() => null)
      if (status?.problems.length) ui.error(`Failing services in ${slot}: ${status.problems.join(', ')}`)
      logs = await p.slotLogs(slot, version).catch(() => '')
      if (logs.trim()) ui.warn(`Last log lines of ${slot}:\n${logs.trim()}`)
    }
    await ui.step(`Removing the failed candidate from ${slot} (${plan.live} keeps serving)`, () => p.removeSlot(slot)).catch((e) => ui.error(String(e)))
    store.update((s) => {
      s.slots[slot] = null
      s.pending = null
      addHistory(s, { action: 'create', outcome: interrupted ? 'interrupted' : 'failed', version, to: slot, detail: String((err as Error).message).slice(0, 300) })
    })
    store.audit({ action: 'create', outcome: interrupted ? 'interrupted' : 'failed', version, slot, durationMs: Date.now() - started, detail: (err as Error).message })
    if (interrupted) throw new InterruptedError(`Can't finish creating ${version} in ${slot}: interrupted; the candidate was removed and ${plan.live} keeps serving`)
    if (err instanceof OperationError) {
      err.message += `. The candidate was removed; ${plan.live} is still live.`
      throw err
    }
    throw new OperationError(`Can't create ${version} in ${slot}: ${(err as Error).message}. The candidate was removed; ${plan.live} is still live.`, '', err)
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
  const steps = String(text).split(',').map((s) => s.trim())
  const nums = steps.map(Number)
  if (!steps.length || nums.some((n, i) => !/^\d{1,3}$/.test(steps[i]!) || n < 1 || n > 100) || nums.some((n, i) => i > 0 && n <= nums[i - 1]!) || nums[nums.length - 1] !== 100)
    throw new RefusedError(`Can't read --gradual ${JSON.stringify(String(text).slice(0, 60))}: give rising percentages ending at 100`, 'For example: --gradual 10,25,50,100. Nothing was changed.')
  return nums
}


export type SwitchPlan = { from: Slot; to: Slot; version: string; fromVersion: string | null; gradual: number[]; steps: string[] }

export async function planSwitch(p: Platform, store: Store, o: { to?: Slot; gradual?: number[] }): Promise<SwitchPlan> {
  const routing = p.readRouting()
  const state = store.read()
  checkDrift(state, routing.live)
  const to = o.to ?? otherSlot(routing.live)
  if (to === routing.live && !routing.gradual) throw new RefusedError(`Can't switch to ${to}: it is already live. Nothing was changed.`)
  const status = await p.slotStatus(to)
  if (!status.running || !status.healthy) {
    const n = status.problems.length
    throw new RefusedError(
      `Can't switch to ${to}: ${status.services.length ? `${n} of 4 services unhealthy (${status.problems.join(', ')})` : 'it runs no release'}. Nothing was changed.`,
      status.services.length ? 'See: npx zx scripts/health-check.ts' : 'Create it first: npx zx scripts/create-green-environment.ts --version <tag>',
    )
  }
  const probes = await p.probeSlot(to, status.version ?? undefined)
  if (!probes.every((r) => r.ok))
    throw new RefusedError(`Can't switch to ${to}: ${describeProbes(probes)}. Nothing was changed.`, 'See: npx zx scripts/health-check.ts')
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

export type SwitchResult = { from: Slot; to: Slot; version: string; switchMs: number; verification: Analysis | null; switchedBack: boolean }

/** Probes in a loop for durationMs; stops early when failures make the thresholds unreachable. */
export async function watchWindow(probe: () => Promise<ProbeResult[]>, durationMs: number, th: Thresholds, o: { intervalMs?: number; signal?: AbortSignal } = {}): Promise<Analysis> {
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

export async function executeSwitch(p: Platform, store: Store, ui: Printer, plan: SwitchPlan, o: SwitchOptions): Promise<SwitchResult> {
  const started = Date.now()
  const { from, to, version } = plan
  const switchBack = async (why: string, analysis: Analysis | null): Promise<never> => {
    p.setLive(from)
    store.update((s) => {
      s.live = from
      s.pending = null
      addHistory(s, { action: 'switch', outcome: 'rolled_back', version, from, to, detail: why })
    })
    store.audit({ action: 'switch', outcome: 'rolled_back', version, slot: to, durationMs: Date.now() - started, detail: why })
    await store.recordLive?.(from, true)
    ui.error(`Switched back to ${from}: ${why}`)
    void analysis
    throw new OperationError(`Can't keep ${to} (${version}) live: ${why}. Traffic is back on ${from}.`, `Look at ${to}: npx zx scripts/health-check.ts; it is still running for inspection.`)
  }
  store.update((s) => (s.pending = { operation: 'switch', version, slot: to, step: 'switching', startedAt: new Date().toISOString(), pid: process.pid }))
  for (const pct of plan.gradual) {
    if (o.signal?.aborted) await switchBack('interrupted during the gradual shift', null)
    await ui.step(`Sending ${pct}% of new requests to ${to}`, async () => p.setGradual(to, pct))
    if (p.dryRun) continue
    const a = await ui.step(`Analysing ${to} at ${pct}% for ${Math.round(o.stepMs / 1000)}s`, () =>
      watchWindow(async () => [...(await p.probeSlot(to)), ...(await p.probePublic())], o.stepMs, o.thresholds, { signal: o.signal, intervalMs: o.intervalMs }))
    if (!a.ok) await switchBack(`analysis at ${pct}% failed: ${a.reasons.join('; ')}`, a)
  }
  const t0 = Date.now()
  await ui.step(`Switching every new request to ${to} (${version})`, async () => p.setLive(to))
  // confirm through the public listener
  let seen: ProbeResult[] = []
  const confirmBy = Date.now() + 5000
  while (!p.dryRun) {
    seen = await p.probePublic()
    if (seen.every((r) => r.ok && r.headers?.['x-slot'] === to)) break
    if (Date.now() > confirmBy) await switchBack(`the public listener does not answer from ${to} (${seen.map((r) => `${r.name}: ${r.ok ? `X-Slot ${r.headers?.['x-slot']}` : r.detail}`).join('; ')})`, null)
    await sleep(50)
  }
  const switchMs = Date.now() - t0
  await store.recordLive?.(to, false)
  ui.success(`Every new request goes to ${to}: confirmed by X-Slot in ${switchMs} ms`)
  store.update((s) => {
    s.live = to
    s.slots[to] ??= { version, slot: to, deployedAt: new Date().toISOString(), deployedBy: whoami().user }
    const prevVersion = s.slots[from]?.version
    s.previous = prevVersion ? { slot: from, version: prevVersion, warmUntil: new Date(Date.now() + o.keepPreviousMs).toISOString() } : null
    s.releases.push({ ...s.slots[to]! })
    s.pending = { operation: 'switch', version, slot: to, step: 'verifying', startedAt: new Date(started).toISOString(), pid: process.pid }
  })
  let verification: Analysis | null = null
  if (o.verifyMs > 0 && !p.dryRun) {
    verification = await ui.step(`Verifying ${to} for ${Math.round(o.verifyMs / 1000)}s`, () =>
      watchWindow(() => p.probePublic(), o.verifyMs, o.thresholds, { signal: o.signal, intervalMs: o.intervalMs }))
    if (!verification.ok && !o.signal?.aborted) await switchBack(`verification failed: ${verification.reasons.join('; ')}`, verification)
  }
  store.update((s) => {
    s.pending = null
    addHistory(s, { action: 'switch', outcome: o.signal?.aborted ? 'interrupted' : 'succeeded', version, from, to })
  })
  store.audit({ action: 'switch', outcome: o.signal?.aborted ? 'interrupted' : 'succeeded', version, slot: to, durationMs: Date.now() - started, detail: `from ${from}` })
  return { from, to, version, switchMs, verification, switchedBack: false }
}

// ---------------------------------------------------------------- rollback

export type RollbackPlan = {
  from: Slot
  to: Slot
  version: string
  /** the slot still runs the release and is healthy: rollback is a switch */
  warm: boolean
  replaces: string | null
  steps: string[]
}

/** What a slot's containers hold, for a plan: the running release, else the stopped containers' (their label, else the record). */
export function slotOccupant(status: SlotStatus, recorded: string | undefined): string {
  if (status.version) return status.version
  const stopped = [...new Set(status.services.map((x) => x.labels?.['dms.version']).filter((v): v is string => !!v))]
  return `${stopped.join(',') || recorded || 'an unrecorded release'} (stopped)`
}

export async function planRollback(p: Platform, store: Store, o: { toVersion?: string }): Promise<RollbackPlan> {
  const routing = p.readRouting()
  const state = store.read()
  checkDrift(state, routing.live)
  const from = routing.live
  const idle = otherSlot(from)
  const liveVersion = state.slots[from]?.version
  let version: string | undefined = o.toVersion
  if (!version) {
    version = state.previous?.version ?? [...state.releases].reverse().find((r) => r.version !== liveVersion)?.version
    if (!version) throw new RefusedError(`Can't roll back: no previous release is recorded. Nothing was changed.`, 'Name one with --to <version>; see npx zx scripts/status.ts')
  } else if (!state.releases.some((r) => r.version === version) && state.slots[idle]?.version !== version) {
    throw new RefusedError(`Can't roll back to ${version}: it is not a recorded release. Nothing was changed.`, `Recorded: ${[...new Set(state.releases.map((r) => r.version))].join(', ') || 'none'}`)
  }
  if (version === liveVersion) throw new RefusedError(`Can't roll back to ${version}: it is already live in ${from}. Nothing was changed.`)
  const status = await p.slotStatus(idle)
  const warm = status.running && status.healthy && status.version === version
  if (!warm && !(await p.imageAvailable(version)))
    throw new RefusedError(`Can't roll back to ${version}: ${idle} no longer runs it and its image is gone from this host. Nothing was changed.`, 'Load or pull the image, then run this again.')
  const replaces = !warm && status.services.length ? slotOccupant(status, state.slots[idle]?.version) : null
  return {
    from,
    to: idle,
    version,
    warm,
    replaces,
    steps: warm
      ? [`send every new request back to ${idle} (${version}, still warm)`, `confirm X-Slot: ${idle} through the public listener`, `keep ${from} warm`]
      : [
          ...(replaces ? [`remove ${replaces} from ${idle}`] : []),
          `recreate ${version} in ${idle} and wait until healthy`,
          `send every new request to ${idle}`,
          `confirm X-Slot: ${idle} through the public listener`,
        ],
  }
}

export async function executeRollback(
  p: Platform, store: Store, ui: Printer, plan: RollbackPlan, o: SwitchOptions & { timeoutMs: number },
): Promise<SwitchResult> {
  const started = Date.now()
  if (!plan.warm) {
    await executeCreate(p, store, ui, { slot: plan.to, live: plan.from, version: plan.version, replaces: plan.replaces, build: false, steps: [] }, { timeoutMs: o.timeoutMs, signal: o.signal })
  }
  const result = await executeSwitch(p, store, ui, { from: plan.from, to: plan.to, version: plan.version, fromVersion: null, gradual: [], steps: [] }, { ...o, verifyMs: 0 })
  await store.recordLive?.(plan.to, true)
  store.update((s) => addHistory(s, { action: 'rollback', outcome: 'succeeded', version: plan.version, from: plan.from, to: plan.to, detail: plan.warm ? 'warm slot' : 'recreated' }))
  store.audit({ action: 'rollback', outcome: 'succeeded', version: plan.version, slot: plan.to, durationMs: Date.now() - started, detail: plan.warm ? `instant: ${plan.to} was warm` : `recreated in ${plan.to}` })
  return result
}

// ---------------------------------------------------------------- retire the previous slot

/** Stops the previous slot once its warm time is over (or at once with force). */
export async function retirePrevious(p: Platform, store: Store, ui: Printer, o: { force?: boolean; now?: number } = {}): Promise<{ retired: Slot | null; reason: string }> {
  const state = store.read()
  const prev = state.previous
  if (!prev) return { retired: null, reason: 'no previous slot is kept warm' }
  const routing = p.readRouting()
  if (prev.slot === routing.live) return { retired: null, reason: `${prev.slot} is live` }
  const left = Date.parse(prev.warmUntil) - (o.now ?? Date.now())
  if (left > 0 && !o.force) return { retired: null, reason: `${prev.slot} (${prev.version}) stays warm for ${Math.ceil(left / 60000)} more minutes` }
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
  if (routing.gradual) throw new RefusedError(`Can't record the live slot: a gradual shift to ${routing.gradual.to} is in progress (${routing.gradual.percent}%)`, 'Finish it (switch-to-green) or abort it (rollback-production) first.')
  const [blue, green] = await Promise.all([p.slotStatus('blue'), p.slotStatus('green')])
  const versions = { blue: blue.running ? blue.version : null, green: green.running ? green.version : null }
  const recordedVersions = { blue: state.slots.blue?.version ?? null, green: state.slots.green?.version ?? null }
  if (state.live === routing.live && versions.blue === recordedVersions.blue && versions.green === recordedVersions.green)
    throw new RefusedError(`Can't record the live slot: there is no drift (state and nginx both say ${routing.live}). Nothing was changed.`)
  return {
    recorded: state.live,
    routed: routing.live,
    versions,
    steps: [
      `record ${routing.live} as live (the state file says ${state.live ?? 'nothing'})`,
      ...(['blue', 'green'] as const).map((s) => `record ${s} as ${versions[s] ?? 'empty'} (the state file says ${recordedVersions[s] ?? 'empty'})`),
    ],
  }
}

export function executeAdoptLive(store: Store, plan: AdoptPlan): void {
  store.update((s) => {
    s.live = plan.routed
    for (const slot of ['blue', 'green'] as const) {
      const v = plan.versions[slot]
      if (!v) s.slots[slot] = null
      else if (s.slots[slot]?.version !== v) s.slots[slot] = { version: v, slot, deployedAt: new Date().toISOString(), deployedBy: `${whoami().user} (adopted)` }
    }
    if (s.previous && (s.previous.slot === plan.routed || !plan.versions[s.previous.slot])) s.previous = null
    s.pending = null
    addHistory(s, { action: 'adopt-live', outcome: 'succeeded', to: plan.routed, detail: `state said ${plan.recorded ?? 'nothing'}` })
  })
  store.audit({ action: 'adopt-live', outcome: 'succeeded', slot: plan.routed, detail: `state said ${plan.recorded ?? 'nothing'}; recorded ${JSON.stringify(plan.versions)}` })
}
