// Rollback: back to the newest verified release other than the live one (a switch when its slot is
// still warm, else recreated first), or, during a gradual shift nobody runs any more, abort the shift.
import { addHistory, otherSlot, type DeployState, type Slot, type Store } from './model.ts'
import { executeCreate } from './create.ts'
import { checkDrift, rehearse } from './slot-checks.ts'
import { executeSwitch, switchable, type SwitchOptions, type SwitchResult } from './switch.ts'
import { confirmPublic } from './watch.ts'
import { OperationError, RefusedError } from './errors.ts'
import { describeChoice, type ImageChoice } from './images/registry.ts'
import { recordedImage } from './images/recorded.ts'
import type { Platform, SlotStatus } from './platform.ts'
import { refuseIfPending, unverifiedReason } from './safety.ts'
import type { Printer } from './ui.ts'

export type RollbackPlan = {
  from: Slot
  to: Slot
  version: string
  /** the slot still runs the release and is healthy: rollback is a switch */
  warm: boolean
  replaces: string | null
  /** a gradual shift nobody runs any more: rollback sends every bucket back, nothing is recreated */
  abortShift?: boolean
  steps: string[]
  /** a cold rollback: the image it recreates, the recorded repo@sha256:… when there is one */
  image?: ImageChoice
}

/** The newest verified release other than the live one (the release list, then the warm previous slot). */
function rollbackTarget(state: DeployState, liveVersion: string | undefined): string | undefined {
  const usable = (v: string) => v !== liveVersion && unverifiedReason(state, v) === null
  return (
    [...state.releases].reverse().find((r) => r.verified !== false && usable(r.version))?.version ??
    (state.previous && usable(state.previous.version) ? state.previous.version : undefined)
  )
}

/** What a slot's containers hold, for a plan: the running release, else the stopped containers' (their label, else the record). */
export function slotOccupant(status: SlotStatus, recorded: string | undefined): string {
  if (status.version) return status.version
  const stopped = [...new Set(status.services.map((x) => x.labels?.['dms.version']).filter((v): v is string => !!v))]
  return `${stopped.join(',') || recorded || 'an unrecorded release'} (stopped)`
}

export async function planRollback(
  p: Platform,
  store: Store,
  o: { toVersion?: string; allowUnverified?: boolean },
): Promise<RollbackPlan> {
  const routing = p.readRouting()
  const state = store.read()
  refuseIfPending(p, state)
  checkDrift(state, routing.live)
  const from = routing.live
  if (routing.gradual) return abortShiftPlan(routing.gradual, from, state.slots[from]?.version ?? 'unknown')
  const idle = otherSlot(from)
  const liveVersion = state.slots[from]?.version
  let version: string | undefined = o.toVersion
  if (!version) {
    version = rollbackTarget(state, liveVersion)
    if (!version)
      throw new RefusedError(
        `Can't roll back: no previous release is recorded (none verified other than the live one). Nothing was changed.`,
        'Name one with --to <version>; see npx zx scripts/status.ts',
      )
  } else if (!state.releases.some((r) => r.version === version) && state.slots[idle]?.version !== version) {
    throw new RefusedError(
      `Can't roll back to ${version}: it is not a recorded release. Nothing was changed.`,
      `Recorded: ${[...new Set(state.releases.map((r) => r.version))].join(', ') || 'none'}`,
    )
  }
  if (version === liveVersion)
    throw new RefusedError(`Can't roll back to ${version}: it is already live in ${from}. Nothing was changed.`)
  const unverified = unverifiedReason(state, version)
  if (unverified && !o.allowUnverified)
    throw new RefusedError(
      `Can't roll back to ${version}: ${version} ${unverified}. Nothing was changed.`,
      `Roll back without --to for the newest verified release. To run ${version} anyway, add --allow-unverified (it goes live without a verification window).`,
    )
  const status = await p.slotStatus(idle)
  // Docker's "health: starting" (a slot created or booted a moment ago) is no verdict: the slot still runs warm
  const gate = switchable(status)
  const warm = gate.running && gate.healthy && status.version === version
  const image = warm ? undefined : await rollbackImage(p, state, version, idle)
  const replaces = !warm && status.services.length ? slotOccupant(status, state.slots[idle]?.version) : null
  const warning = unverified
    ? [
        `WARNING: ${version} ${unverified.replace(/^failed/, 'FAILED').replace(/^was never verified/, 'WAS NEVER VERIFIED')}; it goes live anyway (--allow-unverified)`,
      ]
    : []
  return {
    from,
    to: idle,
    version,
    warm,
    replaces,
    ...(image ? { image } : {}),
    steps: [...warning, ...rollbackSteps(from, idle, version, warm, replaces, image)],
  }
}

/** A gradual shift nobody runs any more: every bucket back to the slot that was live, nothing recreated. */
function abortShiftPlan(g: { to: Slot; percent: number }, from: Slot, version: string): RollbackPlan {
  return {
    from: g.to,
    to: from,
    version,
    warm: true,
    replaces: null,
    abortShift: true,
    steps: [
      `abort the gradual shift (${g.percent}% of new requests go to ${g.to}): every bucket back to ${from}; no container is recreated`,
      `confirm X-Deploy-Slot: ${from} through the public listener`,
      `${g.to} keeps running, for inspection`,
    ],
  }
}

/** The image a cold rollback recreates: the digest the release recorded (pulled by digest when gone), else its tag. */
async function rollbackImage(
  p: Platform,
  state: DeployState,
  version: string,
  idle: Slot,
): Promise<ImageChoice | undefined> {
  const pinned = recordedImage(state, version)
  const image = p.resolveImage ? await p.resolveImage(version, pinned ? { pinned } : {}) : undefined
  if (image || (!p.resolveImage && (await p.imageAvailable(version)))) return image ?? undefined
  throw new RefusedError(
    `Can't roll back to ${version}: ${idle} no longer runs it and its image is gone from this host. Nothing was changed.`,
    'Load or pull the image, then run this again.',
  )
}

function rollbackSteps(
  from: Slot,
  idle: Slot,
  version: string,
  warm: boolean,
  replaces: string | null,
  image?: ImageChoice,
): string[] {
  if (warm)
    return [
      `send every new request back to ${idle} (${version}, still warm)`,
      `confirm X-Deploy-Slot: ${idle} through the public listener`,
      `keep ${from} warm`,
    ]
  return [
    ...(replaces ? [`remove ${replaces} from ${idle}`] : []),
    ...(image ? [`image: ${describeChoice(image)}`] : []),
    `recreate ${version} in ${idle} and wait until healthy`,
    `send every new request to ${idle}`,
    `confirm X-Deploy-Slot: ${idle} through the public listener`,
  ]
}

/** The history entry and the audit line of a rollback that succeeded (the audit's detail defaults to the history's). */
function recordRollback(
  store: Store,
  plan: RollbackPlan,
  started: number,
  d: { history: string; audit?: string; clearPending?: boolean },
): void {
  store.update((s) => {
    if (d.clearPending) s.pending = null
    addHistory(s, {
      action: 'rollback',
      outcome: 'succeeded',
      version: plan.version,
      from: plan.from,
      to: plan.to,
      detail: d.history,
    })
  })
  store.audit({
    action: 'rollback',
    outcome: 'succeeded',
    version: plan.version,
    slot: plan.to,
    durationMs: Date.now() - started,
    detail: d.audit ?? d.history,
  })
}

/** Rollback of a stuck gradual shift: every bucket back to the slot that was live before it. */
async function abortShift(
  p: Platform,
  store: Store,
  ui: Printer,
  plan: RollbackPlan,
  o: { signal?: AbortSignal },
): Promise<SwitchResult> {
  const started = Date.now()
  if (p.dryRun) {
    p.setLive(plan.to)
    rehearse(ui, `would confirm through the public listener that responses carry X-Deploy-Slot: ${plan.to}`)
  } else await ui.step(`Sending every bucket back to ${plan.to}`, async () => p.setLive(plan.to))
  const c = p.dryRun ? { ok: true, ms: 0, seen: '' } : await confirmPublic(p, plan.to, o.signal)
  if (!c.ok)
    throw new OperationError(
      `Can't confirm the rollback: every bucket marker was removed, yet the public listener answers ${c.seen}`,
      'See: npx zx scripts/health-check.ts',
    )
  recordRollback(store, plan, started, { history: `aborted a gradual shift to ${plan.from}`, clearPending: true })
  await store.recordLive?.(plan.to, true)
  return {
    from: plan.from,
    to: plan.to,
    version: plan.version,
    switchMs: c.ms,
    verification: null,
    switchedBack: false,
  }
}

export async function executeRollback(
  p: Platform,
  store: Store,
  ui: Printer,
  plan: RollbackPlan,
  o: SwitchOptions & { timeoutMs: number },
): Promise<SwitchResult> {
  if (plan.abortShift) return abortShift(p, store, ui, plan, o)
  const started = Date.now()
  if (!plan.warm) {
    await executeCreate(
      p,
      store,
      ui,
      {
        slot: plan.to,
        live: plan.from,
        version: plan.version,
        replaces: plan.replaces,
        build: false,
        steps: [],
        ...(plan.image ? { image: plan.image } : {}),
      },
      { timeoutMs: o.timeoutMs, signal: o.signal },
    )
  }
  const result = await executeSwitch(
    p,
    store,
    ui,
    { from: plan.from, to: plan.to, version: plan.version, fromVersion: null, gradual: [], steps: [] },
    { ...o, verifyMs: 0 },
  )
  await store.recordLive?.(plan.to, true)
  recordRollback(store, plan, started, {
    history: plan.warm ? 'warm slot' : 'recreated',
    audit: plan.warm ? `instant: ${plan.to} was warm` : `recreated in ${plan.to}`,
  })
  return result
}
