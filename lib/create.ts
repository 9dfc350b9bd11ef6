// Create: start a release in the idle slot and wait until it is ready through the preview listener;
// any failure or signal removes the candidate again, and the live slot is never touched.
import type { Store } from './model.ts'
import { OperationError, RefusedError, InterruptedError, errorMessage } from './errors.ts'
import { describeChoice, type ImageChoice } from './images/registry.ts'
import type { Platform, SlotStatus } from './platform.ts'
import { waitUntilReady } from './readiness.ts'
import { cleanupError, refuseIfPending, removeCandidate } from './safety.ts'
import { checkDrift, describeProbes, rehearse, stuckShiftHint } from './slot-checks.ts'
import { addHistory, otherSlot, type Release, type Slot } from './model.ts'
import { whoami } from './who.ts'
import type { Printer } from './ui.ts'

export type CreatePlan = {
  slot: Slot
  live: Slot
  version: string
  replaces: string | null
  build: boolean
  steps: string[]
  /** the image it runs (pinned by digest when known); absent: the tag (a platform without registry support) */
  image?: ImageChoice
}

export async function planCreate(
  p: Platform,
  store: Store,
  o: { version: string; slot?: Slot; replace?: boolean; build?: boolean; pinned?: string },
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
  const image = await chooseImage(p, o)
  const steps = [
    ...(o.build ? [`build the image of ${o.version}`] : []),
    ...(image && !o.build ? [`image: ${describeChoice(image)}`] : []),
    ...(replaces ? [`remove ${slot} (now ${replaces}; drained first)`] : []),
    `start ${o.version} in ${slot} (every service at once; no wait on Docker's healthcheck)`,
    `probe every service of ${slot} at its readiness path through the preview listener until each answers twice in a row${p.readyStableMs ? ` over ${p.readyStableMs} ms` : ''}`,
    `record ${o.version} in ${slot}; ${routing.live} stays live`,
  ]
  return {
    slot,
    live: routing.live,
    version: o.version,
    replaces,
    build: !!o.build,
    steps,
    ...(image ? { image } : {}),
  }
}

/** The image of a release, pulled now when a registry has it; refused (nothing changed) when it is nowhere. */
async function chooseImage(
  p: Platform,
  o: { version: string; build?: boolean; pinned?: string },
): Promise<ImageChoice | undefined> {
  if (p.resolveImage) {
    const image = await p.resolveImage(o.version, { build: !!o.build, ...(o.pinned ? { pinned: o.pinned } : {}) })
    if (image) return image
  } else if (o.build || (await p.imageAvailable(o.version))) return undefined
  throw new RefusedError(
    `Can't create ${o.version}: its image is not on this host. Nothing was changed.`,
    'Build it with --build, load it, or set REGISTRY to pull it from a registry.',
  )
}

/** The images a release records per service (the app's compose services): its pinned reference, when it has one. */
export function releaseImages(
  image: ImageChoice | undefined,
  services: readonly string[],
): Record<string, string> | undefined {
  return image?.digest ? Object.fromEntries(services.map((r) => [r, image.ref])) : undefined
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
      `start ${version} in ${slot} (every service at once; no wait on Docker's healthcheck)`,
      () =>
        p.startSlot(
          slot,
          version,
          Math.max(1000, deadline - Date.now()),
          plan.image?.digest ? plan.image.ref : undefined,
        ),
    )
    abortIfSignalled()
    await step(
      `Probing ${slot} through the preview listener`,
      `probe every service of ${slot} at its readiness path through the preview listener until each answers twice in a row`,
      () => probeCandidate(p, ui, plan, { ...o, deadline }),
    )
  } catch (err) {
    return await failCreate(p, store, ui, plan, err, { signal: o.signal, started })
  }
  return recordCreated(store, plan, started, p.services)
}

/** Services whose container stopped: waiting longer for them is pointless. */
export function exitedServices(status: SlotStatus): string[] {
  return status.services
    .filter((s) => s.state === 'exited' || s.state === 'dead')
    .map((s) => `${s.service}: ${s.state}${s.exitCode ? ` (exit ${s.exitCode})` : ''}`)
}

/** Puts each container's start on the timeline (read while the probes run; a failure only loses the marks). */
async function markContainerStarts(p: Platform, slot: Slot, ui: Printer): Promise<void> {
  const starts = await p.containerStarts?.(slot).catch(() => [])
  for (const c of starts ?? [])
    ui.timeline.mark('container started', c.service, ui.timeline.fromWall(Date.parse(c.startedAt)))
}

/** Probes the started candidate through the preview listener until ready; a stopped container or the deadline fails it. */
async function probeCandidate(
  p: Platform,
  ui: Printer,
  plan: CreatePlan,
  o: { timeoutMs: number; signal?: AbortSignal; deadline: number },
): Promise<void> {
  const { slot, version } = plan
  const deadline = o.deadline
  if (p.dryRun) return
  const starts = markContainerStarts(p, slot, ui)
  // at least one round, even when starting the containers used up the deadline
  const r = await waitUntilReady((signal) => p.probeSlot(slot, version, signal), ui.timeline, {
    deadline,
    ...(p.readyStableMs ? { stableMs: p.readyStableMs } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    fatalProblems: async () => exitedServices(await p.slotStatus(slot)),
  })
  await starts
  if (r.ok) return
  if (o.signal?.aborted) throw new InterruptedError(`Can't finish creating ${version} in ${slot}: interrupted`)
  throw new OperationError(
    r.fatal.length
      ? `Can't start ${version} in ${slot}: not healthy through the preview listener: a container stopped (${r.fatal.join(', ')})`
      : `Can't start ${version} in ${slot}: not healthy through the preview listener within ${Math.round(o.timeoutMs / 1000)} s (${describeProbes(r.last) || 'no answer'})`,
  )
}

/** A failed or interrupted create: logs of the failing services, the candidate removed, history and audit; throws the error to report. */
async function failCreate(
  p: Platform,
  store: Store,
  ui: Printer,
  plan: CreatePlan,
  err: unknown,
  o: { signal?: AbortSignal; started: number },
): Promise<never> {
  const { slot, version } = plan
  const started = o.started
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

/** The candidate is ready: recorded in its slot, with history and audit. */
function recordCreated(store: Store, plan: CreatePlan, started: number, services: readonly string[]): Release {
  const { slot, version } = plan
  const images = releaseImages(plan.image, services)
  const release: Release = {
    version,
    slot,
    deployedAt: new Date().toISOString(),
    deployedBy: whoami().user,
    ...(images ? { images } : {}),
  }
  store.update((s) => {
    s.slots[slot] = release
    s.pending = null
    addHistory(s, { action: 'create', outcome: 'succeeded', version, to: slot })
  })
  store.audit({ action: 'create', outcome: 'succeeded', version, slot, durationMs: Date.now() - started })
  return release
}
