#!/usr/bin/env -S npx zx
// Resolves drift by trusting the world: records nginx's live slot and the releases the
// containers carry in the state file. (To trust the state file instead, switch to its slot.)
import { fileStore } from '../lib/stores/file-store.ts'
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { executeAdoptLive, planAdoptLive } from '../lib/bluegreen.ts'
import { runOperation } from '../lib/operation.ts'
import { platformFor } from '../lib/multihost-platform.ts'
import { recoverFirst } from '../lib/pipeline/recover.ts'

await runScript(
  {
    name: 'record-live',
    summary: "Resolve drift by recording what really runs: nginx's live slot and the release in each slot.",
    description:
      'Use it when health-check reports drift and nginx is right. If the state file is right, switch instead:\nnpx zx scripts/switch-to-green.ts --slot <slot>.',
    flags: { ...LOCK_FLAGS },
    examples: ['npx zx scripts/record-live.ts --dry-run', 'npx zx scripts/record-live.ts --yes'],
  },
  async (ctx) => {
    const env = loadEnv(ctx)
    const p = platformFor(env.config, env.paths, ctx.ui, { dryRun: ctx.common.dryRun })
    const store = fileStore(env)
    return runOperation(ctx, env, {
      action: 'adopt-live',
      describe: "record nginx's live slot in the state file",
      plan: async () => {
        const recovered = await recoverFirst(p, store, ctx.ui, env.config, {
          dryRun: ctx.common.dryRun,
          signal: ctx.signal,
        })
        const plan = await planAdoptLive(p, store)
        return { ...plan, steps: [...recovered, ...plan.steps] }
      },
      execute: async (plan) => executeAdoptLive(store, plan),
      report: (plan) =>
        ctx.ui.success(
          `Recorded: ${plan.routed} is live; blue ${plan.versions.blue ?? 'empty'}, green ${plan.versions.green ?? 'empty'}.`,
        ),
      json: (plan) => ({ action: 'adopt-live', live: plan.routed, was: plan.recorded, versions: plan.versions }),
    })
  },
)
