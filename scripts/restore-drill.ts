#!/usr/bin/env -S npx zx
// The restore drill (the quarterly disaster-recovery test): the newest off-host backup (or
// --snapshot) restored into a scratch PostgreSQL container, row counts compared with the ones
// recorded at backup time, DRILL_CHECK run, time to restore reported and recorded as a metric.
import { EXIT, runScript } from '../lib/cli.ts'
import { backupRecipe, NO_BACKUP } from '../lib/db-recipe.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { createGateway } from '../lib/gateway.ts'
import { runOperation } from '../lib/operation.ts'
import { fileStore } from '../lib/stores/file-store.ts'
import { planDrill, runDrill } from '../lib/backup/drill.ts'

await runScript(
  {
    name: 'restore-drill',
    summary: 'Prove the off-host backups restore: restore one into a scratch database, check it, time it.',
    description:
      "Nothing live is touched: the scratch container has no network and is removed at the end, also on failure\nor Ctrl-C. A passing drill writes VAR_DIR/metrics/restore-drill.prom (alert RestoreDrillOverdue after 100 days).\nThe check is DRILL_CHECK, else the manifest's backup check; an app without a backup recipe has nothing to drill (exit 0).",
    flags: {
      snapshot: {
        type: 'string',
        value: '<id>',
        description: 'restore this restic snapshot (see backup.ts list); default: the newest',
      },
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/restore-drill.ts --yes   # quarterly from cron: 0 4 1 */3 *',
      'npx zx scripts/restore-drill.ts --snapshot 3f2a9c1e --json',
    ],
  },
  async (ctx) => {
    const env = loadEnv(ctx, { generateSecrets: false })
    const { ui, config, paths } = env
    if (!backupRecipe(config.app)) {
      ui.info(`Nothing to drill: ${NO_BACKUP} (${config.app.file}).`)
      ui.result({ ok: true, nothingToBackUp: true, reason: NO_BACKUP })
      return EXIT.OK
    }
    const sh = createGateway(ui, { dryRun: ctx.common.dryRun })
    const store = fileStore(env)
    const wanted = typeof ctx.flags.snapshot === 'string' ? ctx.flags.snapshot : null
    return runOperation(ctx, env, {
      action: 'restore-drill',
      describe: 'run the restore drill',
      plan: () => planDrill(sh, config, { snapshot: wanted }),
      execute: async (plan) => {
        try {
          const r = await runDrill(sh, config, paths.metrics, ui, plan, ctx.signal)
          store.audit({
            action: 'restore-drill',
            outcome: 'done',
            durationMs: Math.round(r.restoreSeconds * 1000),
            detail: `${plan.dump} (snapshot ${plan.snapshot.shortId}): ${r.rows} rows`,
          })
          return r
        } catch (e) {
          store.audit({ action: 'restore-drill', outcome: 'failed', detail: (e as Error).message })
          throw e
        }
      },
      report: (plan, r) =>
        ui.success(
          `Restore drill passed: ${plan.dump} (snapshot ${plan.snapshot.shortId}) restored in ${r.restoreSeconds} s (fetch ${r.phases.fetchMs} ms, start ${r.phases.startMs} ms, pg_restore ${r.phases.restoreMs} ms); ${Object.keys(r.counts).length} tables, ${r.rows} rows${r.countsMatch ? ', every count as at backup time' : ''}${r.check ? ', check passed' : ''}. ${r.container} removed.`,
        ),
      json: (plan, r) => ({
        snapshot: plan.snapshot.id,
        dump: plan.dump,
        repository: plan.repository,
        container: plan.scratch.name,
        drill: r,
      }),
    })
  },
)
