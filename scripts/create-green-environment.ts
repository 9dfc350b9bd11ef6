#!/usr/bin/env -S npx zx
// Starts the idle slot ("green") with a release and waits until it is healthy. Never touches the live slot.
import { fileStore } from '../lib/stores/file-store.ts'
import { validateSlot, validateVersion } from '../lib/model.ts'
import { runScript } from '../lib/cli.ts'
import { APP_FLAG, loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { executeCreate, planCreate } from '../lib/bluegreen.ts'
import { runOperation } from '../lib/operation.ts'
import { PARALLEL_FLAG, parallelFlag, platformFor } from '../lib/multihost-platform.ts'
import { recoverFirst } from '../lib/pipeline/recover.ts'

await runScript(
  {
    name: 'create-green-environment',
    summary:
      'Start the idle slot with a release and wait until every service is healthy. The live slot is never touched.',
    flags: {
      version: {
        type: 'string',
        value: '<tag>',
        description: 'the release (image tag): letters, digits, . _ -, at most 128',
      },
      slot: {
        type: 'string',
        value: 'blue|green',
        description: 'the slot to use (default: the idle one); refused if it is live',
      },
      replace: {
        type: 'boolean',
        description: 'replace a release the idle slot already runs (e.g. the warm previous one)',
      },
      build: { type: 'boolean', description: "build the release's image from the compose build context first" },
      timeout: { type: 'duration', default: '120s', description: 'how long to wait for the slot to become healthy' },
      ...APP_FLAG,
      ...PARALLEL_FLAG,
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/create-green-environment.ts --version v2 --build',
      'npx zx scripts/create-green-environment.ts --version v2 --dry-run',
    ],
  },
  async (ctx) => {
    const version = validateVersion(ctx.flags.version)
    const slot = validateSlot(ctx.flags.slot)
    const env = loadEnv(ctx)
    const p = platformFor(env.config, env.paths, ctx.ui, {
      dryRun: ctx.common.dryRun,
      parallel: parallelFlag(ctx.flags.parallel),
    })
    const store = fileStore(env)
    return runOperation(ctx, env, {
      action: 'create',
      describe: `create ${version} in the idle slot`,
      plan: async () => {
        const recovered = await recoverFirst(p, store, ctx.ui, env.config, {
          dryRun: ctx.common.dryRun,
          signal: ctx.signal,
        })
        const plan = await planCreate(p, store, {
          version,
          slot,
          replace: ctx.flags.replace === true,
          build: ctx.flags.build === true,
        })
        return { ...plan, steps: [...recovered, ...plan.steps] }
      },
      execute: (plan) =>
        executeCreate(p, store, ctx.ui, plan, { timeoutMs: Number(ctx.flags.timeout), signal: ctx.signal }),
      report: (plan) => {
        ctx.ui.success(`${version} runs in ${plan.slot} and is healthy; ${plan.live} is still live.`)
        ctx.ui.info(
          `Next: npx zx scripts/switch-to-green.ts   (preview it first: https://${env.config.listenAddr}:${env.config.ports.preview}/)`,
        )
      },
      rehearse: true,
      json: (plan, release) => ({
        action: 'create',
        slot: plan.slot,
        live: plan.live,
        version,
        replaces: plan.replaces,
        release,
      }),
    })
  },
)
