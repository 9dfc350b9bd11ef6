#!/usr/bin/env -S npx zx
// Tears a target down: stops and removes its slots and accessories; keeps volumes (unless
// --volumes), backups and VAR_DIR. Asks first (--yes); audited.
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { createShell } from '../lib/compose.ts'
import { runOperation } from '../lib/operation.ts'
import { fileStore } from '../lib/stores/file-store.ts'
import { readState } from '../lib/state.ts'
import { executeDown, planDown, recordDown } from '../lib/day2/down.ts'
import { appOf } from '../lib/manifest/app-model.ts'
import { connectHosts } from '../lib/multihost-platform.ts'

await runScript(
  {
    name: 'down',
    summary: "Stop and remove a target's slots and accessories; volumes and backups are kept unless --volumes.",
    flags: {
      volumes: {
        type: 'boolean',
        description: 'also delete the volumes (the database and Redis data); backups are still kept',
      },
      ...LOCK_FLAGS,
    },
    examples: ['npx zx scripts/down.ts --target staging --dry-run', 'npx zx scripts/down.ts --target staging --yes'],
  },
  async (ctx) => {
    const env = loadEnv(ctx, { generateSecrets: false })
    const { config, paths, ui } = env
    const volumes = ctx.flags.volumes === true
    const sh = createShell(ui, { dryRun: ctx.common.dryRun })
    const store = fileStore(env)
    return runOperation(ctx, env, {
      action: 'down',
      describe: `tear down ${config.target}${volumes ? ' and delete its volumes' : ''}`,
      rehearse: true,
      plan: async () => planDown(config, readState(paths.state, config.target), { volumes }),
      execute: async (plan) => {
        const t0 = Date.now()
        try {
          // with hosts (#16): the slots on every app host and the accessories the app hosts run, over SSH
          const m = appOf(config)
          const hosts = m.hosts && !ctx.common.dryRun ? connectHosts(config, paths, m) : undefined
          const stopped = await executeDown(sh, plan, hosts)
          if (!ctx.common.dryRun) {
            store.update((s) => recordDown(s, volumes))
            store.audit({
              action: 'down',
              outcome: 'done',
              durationMs: Date.now() - t0,
              detail: `${stopped.join(', ')}${volumes ? '; volumes removed' : '; volumes kept'}`,
            })
          }
          return stopped
        } catch (e) {
          store.audit({ action: 'down', outcome: 'failed', durationMs: Date.now() - t0, detail: (e as Error).message })
          throw e
        }
      },
      report: (_plan, stopped) => ui.success(`${config.target} is down (${stopped.join(', ')}).`),
      json: (plan, stopped) => ({ target: config.target, volumes: plan.volumes, steps: plan.steps, stopped }),
    })
  },
)
