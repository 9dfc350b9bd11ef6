// Bringing back what the state records, after the containers stopped (a daemon restart that did
// not bring them back, a reboot, `docker stop`): the core services, the live slot and the warm
// previous slot, each exactly at its recorded release, waited until healthy; then the routing is
// confirmed through nginx's public listener (X-Deploy-Slot, added by nginx). Nothing is switched: the marker stays.
import { addHistory, otherSlot, type Slot, type Store } from '../model.ts'
import { checkDrift } from '../bluegreen.ts'
import { coreServices } from '../core-stack.ts'
import { switchable } from '../switch.ts'
import { OperationError, RefusedError, InterruptedError } from '../errors.ts'
import type { Platform, SlotStatus } from '../platform.ts'
import type { ProbeResult } from '../probe.ts'
import { sleepUnlessAborted } from '../wait.ts'
import type { DeployPorts } from './adapters.ts'
import { recoverPending, type VerifyOptions } from './recover.ts'

export type BootPorts = Pick<
  DeployPorts,
  'platform' | 'store' | 'ui' | 'config' | 'dryRun' | 'preflight' | 'ensureCore' | 'removeOneOffs'
>

export type BootSlot = { slot: Slot; version: string; role: 'live' | 'previous' | 'idle'; action: 'start' | 'running' }

export type BootPlan = {
  live: Slot
  core: 'start' | 'running'
  slots: BootSlot[]
  recovered: string[]
  preflight: string[]
  steps: string[]
}

export type BootResult = { started: Slot[]; confirmMs: number; durationMs: number }

const _describeStatus = (s: SlotStatus) => s.problems.join(', ') || 'no containers'

async function planSlot(p: Platform, store: Store, slot: Slot, live: Slot): Promise<BootSlot | null> {
  const state = store.read()
  const rec = state.slots[slot]
  if (!rec) return null
  const role = slot === live ? 'live' : state.previous?.slot === slot ? 'previous' : 'idle'
  const status = await p.slotStatus(slot)
  if (status.running && status.version !== rec.version)
    throw new RefusedError(
      `Can't boot: ${slot} runs ${status.version} but the state records ${rec.version} there. Nothing was changed.`,
      'Find out why (npx zx scripts/health-check.ts); if the containers are right, record them: npx zx scripts/record-live.ts',
    )
  // Docker's "health: starting" (started a moment ago) is no verdict: boot's own probes confirm it below
  const gate = switchable(status)
  if (gate.running && gate.healthy) return { slot, version: rec.version, role, action: 'running' }
  if (!(await p.imageAvailable(rec.version)))
    throw new RefusedError(
      `Can't boot: the image of ${rec.version} (recorded in ${slot}) is not on this host. Nothing was changed.`,
      'Load or pull that image, then run this again.',
    )
  return { slot, version: rec.version, role, action: 'start' }
}

/** verify: how to verify again a release a killed switch had left unverified (as the other scripts do). */
export async function planBoot(ports: BootPorts, verify: VerifyOptions): Promise<BootPlan> {
  const { platform: p, store, ui } = ports
  const pre = await ports.preflight()
  const recovered = await recoverPending(p, store, ui, {
    dryRun: ports.dryRun,
    removeOneOffs: (slot) => ports.removeOneOffs(slot),
    verify,
  })
  const state = store.read()
  const live = state.live
  if (!live || !state.slots[live])
    throw new RefusedError(
      "Can't boot: the state records no live release, so there is nothing to bring back. Nothing was changed.",
      'Deploy one: npx zx scripts/deploy-production.ts --version <tag>',
    )
  const routing = p.readRouting()
  checkDrift(state, routing.live)
  if (routing.gradual)
    throw new RefusedError(
      `Can't boot: a gradual shift to ${routing.gradual.to} is recorded in the markers (${routing.gradual.percent}%). Nothing was changed.`,
      'Abort it first: npx zx scripts/rollback-production.ts',
    )
  const slots = (await Promise.all([planSlot(p, store, live, live), planSlot(p, store, otherSlot(live), live)])).filter(
    (s): s is BootSlot => s !== null,
  )
  const core = pre.coreRunning ? 'running' : 'start'
  const steps = [
    ...recovered,
    `preflight: ${pre.lines.join('; ')}`,
    core === 'start'
      ? `start the core services (${coreServices(ports.config).join(', ')}) and wait until healthy`
      : 'the core services run: keep them',
    ...slots.map((s) =>
      s.action === 'start'
        ? `start ${s.version} in ${s.slot} (${s.role}, as recorded) and wait until every role is ready through the preview listener`
        : `${s.slot} (${s.role}) already runs ${s.version}: keep it`,
    ),
    `confirm through the public listener that responses carry X-Deploy-Slot: ${live} (the live marker is not changed)`,
  ]
  return { live, core, slots, recovered, preflight: pre.lines, steps }
}

/** Probes a slot through the preview listener until two rounds in a row pass, or the deadline. */
async function waitSlotReady(p: Platform, s: BootSlot, deadline: number, signal?: AbortSignal): Promise<void> {
  let last: ProbeResult[] = []
  let streak = 0
  do {
    last = await p.probeSlot(s.slot, s.version, signal)
    streak = last.every((r) => r.ok) ? streak + 1 : 0
    if (streak >= 2 || p.dryRun) return
    await sleepUnlessAborted(250, signal)
  } while (Date.now() < deadline && !signal?.aborted)
  if (signal?.aborted) throw new InterruptedError(`Can't finish booting: interrupted while waiting for ${s.slot}`)
  throw new OperationError(
    `Can't boot ${s.slot} (${s.version}): not ready through the preview listener (${
      last
        .filter((r) => !r.ok)
        .map((r) => `${r.name}: ${r.detail}`)
        .join('; ') || 'no answer'
    })`,
  )
}

/** Polls the public listener until every role answers from the live slot. Returns how long that took. */
async function confirmRouting(p: Platform, live: Slot, deadline: number, signal?: AbortSignal): Promise<number> {
  const t0 = Date.now()
  let seen: ProbeResult[] = []
  while (!p.dryRun) {
    seen = await p.probePublic(signal)
    if (seen.every((r) => r.ok && r.headers?.['x-deploy-slot'] === live)) break
    if (Date.now() > deadline || signal?.aborted)
      throw new OperationError(
        `Can't confirm the routing: the public listener does not answer from ${live} (${seen.map((r) => `${r.name}: ${r.ok ? `X-Deploy-Slot ${r.headers?.['x-deploy-slot']}` : r.detail}`).join('; ')})`,
      )
    await sleepUnlessAborted(100, signal)
  }
  return Date.now() - t0
}

export async function executeBoot(
  ports: BootPorts,
  plan: BootPlan,
  o: { timeoutMs: number; signal?: AbortSignal },
): Promise<BootResult> {
  const { platform: p, store, ui } = ports
  const started = Date.now()
  const deadline = started + o.timeoutMs
  const toStart = plan.slots.filter((s) => s.action === 'start')
  const liveVersion = plan.slots.find((s) => s.role === 'live')?.version
  try {
    if (plan.core === 'start')
      await ui.step(`Starting the core services (${coreServices(ports.config).join(', ')})`, () => ports.ensureCore())
    for (const s of toStart) {
      if (o.signal?.aborted) throw new InterruptedError(`Can't finish booting: interrupted before starting ${s.slot}`)
      await ui.step(`Starting ${s.version} in ${s.slot} (${s.role})`, () =>
        p.startSlot(s.slot, s.version, Math.max(1000, deadline - Date.now())),
      )
    }
    for (const s of plan.slots)
      await ui.step(`Waiting until ${s.slot} (${s.version}) is ready`, () => waitSlotReady(p, s, deadline, o.signal))
    const confirmMs = await ui.step(`Confirming X-Deploy-Slot: ${plan.live} through the public listener`, () =>
      confirmRouting(p, plan.live, Math.max(deadline, Date.now() + 10_000), o.signal),
    )
    const durationMs = Date.now() - started
    const detail = `core ${plan.core === 'start' ? 'started' : 'running'}; ${plan.slots.map((s) => `${s.slot} ${s.version} ${s.action === 'start' ? 'started' : 'running'}`).join('; ')}`
    store.update((st) =>
      addHistory(st, { action: 'boot', outcome: 'succeeded', version: liveVersion, to: plan.live, detail }),
    )
    store.audit({ action: 'boot', outcome: 'succeeded', version: liveVersion, slot: plan.live, durationMs, detail })
    await store.recordLive?.(plan.live, false)
    return { started: toStart.map((s) => s.slot), confirmMs, durationMs }
  } catch (err) {
    const what = err instanceof InterruptedError ? 'interrupted' : 'failed'
    store.audit({
      action: 'boot',
      outcome: what,
      version: liveVersion,
      slot: plan.live,
      durationMs: Date.now() - started,
      detail: (err as Error).message,
    })
    if (err instanceof OperationError)
      err.hint ||= 'What started keeps running; see npx zx scripts/health-check.ts, fix the cause and run boot again.'
    throw err
  }
}
