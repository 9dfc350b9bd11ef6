// The frame every changing script runs its operation in: plan, print the plan, stop there on
// --dry-run, confirm, take the lock, execute, report; refusals and failures are audited.
import type { ScriptContext } from './cli.ts'
import { holdLock, type Env } from './script-env.ts'
import { ToolkitError, OperationError, EXIT } from './errors.ts'
import { confirm } from './prompt.ts'
import { fileStore } from './stores/file-store.ts'
import { formatTimeline } from './timeline.ts'

export type OperationSpec<P extends { steps: string[] }, R> = {
  /** audit action name: create, switch, rollback, deploy, … */
  action: string
  /** for "Can't <describe>" and the confirmation question */
  describe: string
  plan: () => Promise<P>
  execute: (plan: P) => Promise<R>
  /** human summary after success */
  report: (plan: P, result: R) => void
  /** the --json document */
  json: (plan: P, result: R | null) => Record<string, unknown>
  /**
   * --dry-run also runs execute against the dry-run platform and store, so the exact commands
   * and files are printed; nothing is changed (only read-only commands and probes really run)
   */
  rehearse?: boolean
  /** whether to ask before executing this plan (default: always); retire asks only when stopping early */
  ask?: (plan: P) => boolean
}

export async function runOperation<P extends { steps: string[] }, R>(
  ctx: ScriptContext,
  env: Env,
  spec: OperationSpec<P, R>,
): Promise<number> {
  const { ui } = env
  const store = fileStore(env)
  const dry = ctx.common.dryRun
  const auditRefusal = (e: unknown) => {
    if (!dry && e instanceof ToolkitError && (e.exitCode === EXIT.REFUSED || e.exitCode === EXIT.LOCKED))
      store.audit({ action: spec.action, outcome: 'refused', detail: e.message })
  }
  // the lock covers planning too, so the plan can't go stale under another deploy
  let lock: Awaited<ReturnType<typeof holdLock>> | null = null
  try {
    lock = dry ? null : await ui.timeline.span('take the lock', () => holdLock(ctx, env, spec.describe))
  } catch (e) {
    // another deploy holds the lock, or its file is corrupt: a refused attempt, audited too
    auditRefusal(e)
    throw e
  }
  try {
    let plan: P
    try {
      plan = await ui.timeline.span('plan', spec.plan)
      ui.info(ui.c.bold(`Plan (${env.config.target}):`))
      for (const [i, s] of plan.steps.entries()) ui.info(`  ${i + 1}. ${s}`)
      if (dry) {
        if (spec.rehearse) {
          ui.info(ui.c.bold('Commands and files, in order:'))
          await spec.execute(plan)
        }
        ui.info(ui.c.cyan('Dry run: nothing was changed.'))
        ui.result({ ok: true, dryRun: true, ...spec.json(plan, null) })
        return EXIT.OK
      }
      if ((spec.ask?.(plan) ?? true) && !(await confirm(spec.describe, { yes: ctx.common.yes, ui }))) {
        store.audit({ action: spec.action, outcome: 'declined' })
        throw new OperationError(`Can't ${spec.describe}: not confirmed. Nothing was changed.`)
      }
    } catch (e) {
      auditRefusal(e)
      throw e
    }
    const result = await spec.execute(plan)
    spec.report(plan, result)
    const timeline = ui.timeline.doc()
    if (ui.verbose) ui.info([ui.c.bold('Timeline (s since start):'), ...formatTimeline(timeline.entries)].join('\n'))
    ui.result({ ok: true, ...spec.json(plan, result), timeline })
    return ctx.signal.aborted ? EXIT.INTERRUPTED : EXIT.OK
  } finally {
    lock?.release()
  }
}
