// The retire operation: whether the previous slot may be stopped now (pure decision), and the
// plan/execute pair that retire-previous runs through lib/operation.ts's frame.
import { retirePrevious, type Store } from '../bluegreen.ts'
import type { ScriptContext } from '../cli.ts'
import type { Env } from '../script-env.ts'
import { EXIT } from '../errors.ts'
import { runOperation } from '../operation.ts'
import type { LiveRouting } from '../nginx.ts'
import type { Platform } from '../platform.ts'
import { retireBlocker } from '../safety.ts'
import type { DeployState, Slot } from '../model.ts'
import type { Printer } from '../ui.ts'

export type RetirePlan = {
  /** the warm previous slot, or null when none is kept */
  previous: { slot: Slot; version: string; warmUntil: string } | null
  /** why nothing is stopped now (null: the slot is stopped) */
  skip: string | null
  /** the warm time is over (false: stopping it early, with --now) */
  due: boolean
  /** for --json when it stays warm */
  warmUntil: string | null
  steps: string[]
}

export type RetireResult = { retired: Slot | null; reason: string }

/** Pure: what retire-previous does with this state and routing at `nowMs`. */
export function decideRetire(state: DeployState, routing: LiveRouting, nowMs: number, force: boolean): RetirePlan {
  const prev = state.previous
  if (!prev) {
    const skip = 'no previous slot is kept warm'
    return { previous: null, skip, due: false, warmUntil: null, steps: [`nothing to retire: ${skip}`] }
  }
  const previous = { slot: prev.slot, version: prev.version, warmUntil: prev.warmUntil }
  const who = `${prev.slot} (${prev.version})`
  // never stop a slot that can still receive a request; --now does not override this
  const blocker = retireBlocker(state, routing, prev.slot)
  if (blocker) return { previous, skip: blocker, due: false, warmUntil: null, steps: [`keep ${who}: ${blocker}`] }
  const due = Date.parse(prev.warmUntil) <= nowMs
  if (!due && !force) {
    const skip = `stays warm until ${prev.warmUntil}`
    return { previous, skip, due, warmUntil: prev.warmUntil, steps: [`keep ${who}: it ${skip}`] }
  }
  const why = due ? 'its warm time is over' : 'now, before its warm time is over'
  return { previous, skip: null, due, warmUntil: null, steps: [`drain and stop ${who}, ${why}`] }
}

/** The operation for the frame: plan under the lock, ask only when stopping early, then stop. */
export function retireOperation(p: Platform, store: Store, ui: Printer, o: { force: boolean }) {
  return {
    action: 'retire',
    describe: 'retire the previous slot',
    plan: async () => decideRetire(store.read(), p.readRouting(), Date.now(), o.force),
    /** a due retire runs from cron without asking; an early one (--now) asks */
    ask: (plan: RetirePlan) => plan.skip === null && !plan.due,
    execute: async (plan: RetirePlan): Promise<RetireResult> =>
      plan.skip === null ? retirePrevious(p, store, ui, { force: o.force }) : { retired: null, reason: plan.skip },
    report: (plan: RetirePlan, r: RetireResult) => {
      const prev = plan.previous
      if (!prev) ui.info('Nothing to retire: no previous slot is kept warm.')
      else if (r.retired) ui.success(`Stopped ${r.retired}; rollback to ${prev.version} now recreates it.`)
      else if (plan.warmUntil) ui.info(`${prev.slot} (${prev.version}) stays warm until ${plan.warmUntil}.`)
      else ui.info(`Not retiring ${prev.slot} (${prev.version}): ${r.reason}. Nothing was changed.`)
    },
    json: (plan: RetirePlan, r: RetireResult | null) => ({
      retired: r?.retired ?? null,
      ...(plan.warmUntil ? { warmUntil: plan.warmUntil } : {}),
      ...(r && !r.retired ? { reason: r.reason } : plan.skip ? { reason: plan.skip } : {}),
    }),
  }
}

/**
 * retire-previous from cron: when there is nothing to stop, answer at once without the deploy lock
 * (a deploy running meanwhile is no failure and no audit entry); otherwise the operation frame.
 */
export async function runRetire(
  ctx: ScriptContext,
  env: Env,
  p: Platform,
  store: Store,
  force: boolean,
): Promise<number> {
  const op = retireOperation(p, store, env.ui, { force })
  const quick = decideRetire(store.read(), p.readRouting(), Date.now(), force)
  if (quick.skip === null) return runOperation(ctx, env, op)
  const result = { retired: null, reason: quick.skip }
  op.report(quick, result)
  env.ui.result({ ok: true, ...op.json(quick, result) })
  return EXIT.OK
}
