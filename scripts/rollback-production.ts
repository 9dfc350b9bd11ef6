#!/usr/bin/env -S npx zx
// Moves traffic back to the previous release: a plain switch when its slot is still warm.
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/context.ts'
import { executeRollback, planRollback, validateVersion } from '../lib/bluegreen.ts'
import { fileStore, runOperation } from '../lib/operation.ts'
import { createPlatform } from '../lib/platform.ts'

await runScript(
  {
    name: 'rollback-production',
    summary: 'Send traffic back to the previous release: instantly when its slot is warm, else recreate it first. Never touches the database.',
    flags: {
      to: { type: 'string', value: '<version>', description: 'roll back to this recorded release instead of the previous one' },
      timeout: { type: 'duration', default: '120s', description: 'how long to wait when the release has to be recreated' },
      ...LOCK_FLAGS,
    },
    examples: ['npx zx scripts/rollback-production.ts --yes', 'npx zx scripts/rollback-production.ts --to v1 --dry-run'],
  },
  async (ctx) => {
    const toVersion = ctx.flags.to === undefined ? undefined : validateVersion(ctx.flags.to, '--to')
    const env = loadEnv(ctx)
    const { config } = env
    const p = createPlatform(config, env.paths, ctx.ui, { dryRun: ctx.common.dryRun })
    const store = fileStore(env)
    return runOperation(ctx, env, {
      action: 'rollback',
      describe: 'roll back to the previous release',
      plan: () => planRollback(p, store, { toVersion }),
      execute: (plan) =>
        executeRollback(p, store, ctx.ui, plan, {
          timeoutMs: Number(ctx.flags.timeout),
          stepMs: 0,
          verifyMs: 0,
          keepPreviousMs: config.keepPreviousMs,
          thresholds: config.thresholds,
          signal: ctx.signal,
        }),
      report: (plan, r) => ctx.ui.success(`Rolled back: ${plan.to} (${plan.version}) is live again (switch confirmed in ${r.switchMs} ms); ${plan.from} stays warm.`),
      json: (plan, r) => ({ action: 'rollback', from: plan.from, to: plan.to, version: plan.version, warm: plan.warm, result: r }),
    })
  },
)
