#!/usr/bin/env -S npx zx
// Removes local app images no kept release needs (KEEP_IMAGES newest releases and both slots' stay).
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { createGateway } from '../lib/gateway.ts'
import { planPrune, removeImageRefs } from '../lib/images/retention.ts'
import { runOperation } from '../lib/operation.ts'
import { fileStore } from '../lib/stores/file-store.ts'

await runScript(
  {
    name: 'prune-images',
    summary:
      "Remove local images of the app beyond the kept releases (KEEP_IMAGES newest, and both slots'); never one a recorded release or a container still needs.",
    flags: { ...LOCK_FLAGS },
    examples: ['npx zx scripts/prune-images.ts --dry-run', 'npx zx scripts/prune-images.ts --yes   # from cron'],
  },
  async (ctx) => {
    const env = loadEnv(ctx, { generateSecrets: false })
    const gw = createGateway(ctx.ui, { dryRun: ctx.common.dryRun })
    const store = fileStore(env)
    return runOperation(ctx, env, {
      action: 'prune-images',
      describe: 'remove local app images no kept release needs',
      plan: async () => {
        const refs = await planPrune(gw, env.config, store.read())
        return { refs, steps: refs.length ? refs.map((r) => `remove ${r}`) : ['nothing to remove'] }
      },
      execute: (plan) => removeImageRefs(gw, plan.refs),
      report: (plan) => ctx.ui.success(`Removed ${plan.refs.length} image reference(s).`),
      json: (plan) => ({ action: 'prune-images', removed: plan.refs }),
    })
  },
)
