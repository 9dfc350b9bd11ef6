#!/usr/bin/env -S npx zx
// Moves traffic back to the previous release: a plain switch when its slot is still warm.
// The database is never restored on its own: --restore-db asks first, showing the backup's time.
import { executeRollback, planRollback } from '../lib/rollback.ts'
import { fileStore } from '../lib/stores/file-store.ts'
import { validateVersion } from '../lib/model.ts'
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { createShell } from '../lib/compose.ts'
import { chooseBackup, restoreDatabase } from '../lib/db.ts'
import { OperationError, RefusedError } from '../lib/errors.ts'
import { runOperation } from '../lib/operation.ts'
import { createPlatform } from '../lib/platform.ts'
import { confirm } from '../lib/prompt.ts'
import { recoverFirst } from '../lib/pipeline/recover.ts'

await runScript(
  {
    name: 'rollback-production',
    summary:
      'Send traffic back to the previous release: instantly when its slot is warm, else recreate it first. The database is untouched unless --restore-db.',
    flags: {
      to: {
        type: 'string',
        value: '<version>',
        description: 'roll back to this recorded release instead of the previous one',
      },
      timeout: {
        type: 'duration',
        default: '120s',
        description: 'how long to wait when the release has to be recreated',
      },
      'allow-unverified': {
        type: 'boolean',
        description:
          'with --to: allow a release that failed (or never passed) its verification; refused without it, even with --yes',
      },
      'restore-db': {
        type: 'boolean',
        description:
          'also restore the database backup taken before the current release (asks; writes since then are lost)',
      },
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/rollback-production.ts --yes',
      'npx zx scripts/rollback-production.ts --to v1 --dry-run',
      'npx zx scripts/rollback-production.ts --to v3 --allow-unverified   # a release that failed its verification',
      'npx zx scripts/rollback-production.ts --restore-db',
    ],
  },
  async (ctx) => {
    const toVersion = ctx.flags.to === undefined ? undefined : validateVersion(ctx.flags.to, '--to')
    const env = loadEnv(ctx)
    const { config, paths, ui } = env
    const p = createPlatform(config, paths, ui, { dryRun: ctx.common.dryRun })
    const store = fileStore(env)
    const restore = ctx.flags['restore-db'] === true
    return runOperation(ctx, env, {
      action: 'rollback',
      describe: 'roll back to the previous release',
      plan: async () => {
        const recovered = await recoverFirst(p, store, ui, config, { dryRun: ctx.common.dryRun, signal: ctx.signal })
        const rolled = await planRollback(p, store, {
          toVersion,
          allowUnverified: ctx.flags['allow-unverified'] === true,
        })
        const plan = { ...rolled, steps: [...recovered, ...rolled.steps] }
        const backup = restore ? chooseBackup(paths.backups, store.read().slots[plan.from]?.version ?? null) : null
        if (restore && !backup)
          throw new RefusedError(
            `Can't restore the database: there is no backup in ${paths.backups}. Nothing was changed.`,
          )
        const steps = backup
          ? [
              ...plan.steps,
              `restore the database from ${backup.name}, taken ${backup.time.toISOString()}: every write since then is lost`,
              'empty the Redis cache',
            ]
          : plan.steps
        return { ...plan, steps, backup }
      },
      execute: async (plan) => {
        if (plan.backup && !ctx.common.dryRun) {
          const age = Math.round((Date.now() - plan.backup.time.getTime()) / 60_000)
          ui.warn(
            `The database will be restored to ${plan.backup.time.toISOString()} (${age} minutes ago) from ${plan.backup.file}. Every write since then will be lost.`,
          )
          if (
            !(await confirm('restore the database', {
              yes: ctx.common.yes,
              ui,
              question: `Restore the database to ${plan.backup.time.toISOString()} and lose every write since then?`,
            }))
          )
            throw new OperationError(
              "Can't roll back with --restore-db: the restore was not confirmed. Nothing was changed.",
              'Roll back without --restore-db to keep the data.',
            )
        }
        const r = await executeRollback(p, store, ui, plan, {
          timeoutMs: Number(ctx.flags.timeout),
          stepMs: 0,
          verifyMs: 0,
          keepPreviousMs: config.keepPreviousMs,
          thresholds: config.thresholds,
          signal: ctx.signal,
        })
        if (plan.backup) {
          const sh = createShell(ui, { dryRun: ctx.common.dryRun })
          await ui.step(`Restoring the database from ${plan.backup.name}`, () =>
            restoreDatabase(sh, config, plan.backup!.file, ui),
          )
          store.audit({
            action: 'restore-db',
            outcome: 'succeeded',
            version: plan.version,
            detail: `${plan.backup.name} (${plan.backup.time.toISOString()})`,
          })
        }
        return r
      },
      report: (plan, r) => {
        if (plan.abortShift) {
          ui.success(
            `Rolled back: the gradual shift to ${plan.from} is aborted; every request goes to ${plan.to} (${plan.version}) again (confirmed in ${r.switchMs} ms); ${plan.from} keeps running, for inspection.`,
          )
          return
        }
        ui.success(
          `Rolled back: ${plan.to} (${plan.version}) is live again (switch confirmed in ${r.switchMs} ms); ${plan.from} stays warm.`,
        )
        if (plan.backup) ui.success(`The database was restored to ${plan.backup.time.toISOString()}.`)
        else
          ui.info(
            'The database was not touched (the schema only grows, so older releases run on it). To restore a backup: --restore-db.',
          )
      },
      rehearse: true,
      json: (plan, r) => ({
        action: 'rollback',
        from: plan.from,
        to: plan.to,
        version: plan.version,
        warm: plan.warm,
        restoredBackup: plan.backup?.file ?? null,
        result: r,
      }),
    })
  },
)
