// The rollback operation for lib/operation.ts's frame: repair what a killed run left, plan the
// rollback (a switch when the previous slot is warm), optionally restore the database backup
// taken before the current release (asked a second time), execute, report.
import { requireRecipe } from '../db.ts'
import type { Store } from '../bluegreen.ts'
import type { Config } from '../config.ts'
import type { BackupFile } from '../db.ts'
import type { Platform } from '../platform.ts'
import { executeRollback, planRollback, type RollbackPlan } from '../rollback.ts'
import type { SwitchResult } from '../bluegreen.ts'
import type { Printer } from '../ui.ts'
import { recoverFirst } from './recover.ts'
import { confirmRestore, planRestore, restoreFromBackup } from './restore.ts'

export type RollbackRequest = {
  toVersion?: string
  allowUnverified: boolean
  restoreDb: boolean
  timeoutMs: number
  yes: boolean
  dryRun: boolean
  signal: AbortSignal
}

export type RollbackOpPlan = RollbackPlan & { backup: BackupFile | null }

export function rollbackOperation(
  deps: { platform: Platform; store: Store; ui: Printer; config: Config; backupsDir: string },
  r: RollbackRequest,
) {
  const { platform: p, store, ui, config } = deps
  return {
    action: 'rollback',
    describe: 'roll back to the previous release',
    rehearse: true,
    plan: async (): Promise<RollbackOpPlan> => {
      if (r.restoreDb) requireRecipe(config) // before anything changes: an app without a backup recipe has none
      const recovered = await recoverFirst(p, store, ui, config, { dryRun: r.dryRun, signal: r.signal })
      const rolled = await planRollback(p, store, { toVersion: r.toVersion, allowUnverified: r.allowUnverified })
      const restore = r.restoreDb
        ? planRestore(deps.backupsDir, store.read().slots[rolled.from]?.version ?? null, config)
        : null
      const steps = [...recovered, ...rolled.steps, ...(restore?.steps ?? [])]
      return { ...rolled, steps, backup: restore?.backup ?? null }
    },
    execute: async (plan: RollbackOpPlan): Promise<SwitchResult> => {
      if (plan.backup && !r.dryRun) await confirmRestore(plan.backup, { yes: r.yes, ui })
      const result = await executeRollback(p, store, ui, plan, {
        timeoutMs: r.timeoutMs,
        stepMs: 0,
        verifyMs: 0,
        keepPreviousMs: config.keepPreviousMs,
        thresholds: config.thresholds,
        signal: r.signal,
      })
      if (plan.backup)
        await restoreFromBackup(config, store, ui, plan.backup, { version: plan.version, dryRun: r.dryRun })
      return result
    },
    report: (plan: RollbackOpPlan, res: SwitchResult) => {
      if (plan.abortShift) {
        ui.success(
          `Rolled back: the gradual shift to ${plan.from} is aborted; every request goes to ${plan.to} (${plan.version}) again (confirmed in ${res.switchMs} ms); ${plan.from} keeps running, for inspection.`,
        )
        return
      }
      ui.success(
        `Rolled back: ${plan.to} (${plan.version}) is live again (switch confirmed in ${res.switchMs} ms); ${plan.from} stays warm.`,
      )
      if (plan.backup) ui.success(`The database was restored to ${plan.backup.time.toISOString()}.`)
      else
        ui.info(
          'The database was not touched (the schema only grows, so older releases run on it). To restore a backup: --restore-db.',
        )
    },
    json: (plan: RollbackOpPlan, res: SwitchResult | null) => ({
      action: 'rollback',
      from: plan.from,
      to: plan.to,
      version: plan.version,
      warm: plan.warm,
      restoredBackup: plan.backup?.file ?? null,
      result: res,
    }),
  }
}
