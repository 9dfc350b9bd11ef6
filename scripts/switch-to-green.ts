#!/usr/bin/env -S npx zx
// Moves traffic to the idle slot ("green"), at once or in steps, verifies, and keeps the old slot warm.
import { fileStore } from '../lib/stores/file-store.ts'
import { otherSlot, validateSlot } from '../lib/model.ts'
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { executeSwitch, parseGradual, planSwitch } from '../lib/bluegreen.ts'
import { runOperation } from '../lib/operation.ts'
import { platformFor } from '../lib/multihost-platform.ts'
import { finishedByRecovery, recoverFirst } from '../lib/pipeline/recover.ts'

await runScript(
  {
    name: 'switch-to-green',
    summary:
      'Send new requests to the idle slot without reloading nginx, confirm by X-Deploy-Slot (added by nginx), verify, and switch back on its own if verification fails or a signal arrives before it passed.',
    flags: {
      slot: { type: 'string', value: 'blue|green', description: 'the slot to switch to (default: the idle one)' },
      gradual: {
        type: 'string',
        value: '<list>',
        description: 'shift in steps with an analysis at each, e.g. 10,25,50,100',
      },
      step: { type: 'duration', default: '20s', description: 'how long each gradual step is analysed' },
      verify: { type: 'duration', description: 'verification window after the switch (default: VERIFY_WINDOW, 30s)' },
      'keep-previous': {
        type: 'duration',
        description: 'how long the old slot stays warm (default: KEEP_PREVIOUS, 30m)',
      },
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/switch-to-green.ts --yes',
      'npx zx scripts/switch-to-green.ts --gradual 10,25,50,100 --step 20s',
    ],
  },
  async (ctx) => {
    const to = validateSlot(ctx.flags.slot)
    const gradual = parseGradual(ctx.flags.gradual)
    const env = loadEnv(ctx)
    const { config } = env
    const p = platformFor(config, env.paths, ctx.ui, { dryRun: ctx.common.dryRun })
    const store = fileStore(env)
    const verifyMs = ctx.flags.verify !== undefined ? Number(ctx.flags.verify) : config.verifyMs
    return runOperation(ctx, env, {
      action: 'switch',
      describe: `switch traffic to the idle slot`,
      plan: async () => {
        const pending = store.read().pending
        const recovered = await recoverFirst(p, store, ctx.ui, config, {
          dryRun: ctx.common.dryRun,
          signal: ctx.signal,
          verifyMs,
        })
        const after = store.read()
        // re-running the switch a killed run made: the recovery verified it, the job is done
        if (
          pending?.operation === 'switch' &&
          pending.slot &&
          (!to || to === pending.slot) &&
          finishedByRecovery(pending, after)
        ) {
          const slot = pending.slot
          return {
            from: otherSlot(slot),
            to: slot,
            version: pending.version ?? 'unknown',
            fromVersion: null,
            gradual: [],
            done: true,
            steps: [...recovered, `nothing else to do: ${slot} is live and verified`],
          }
        }
        const plan = await planSwitch(p, store, { to, gradual, sticky: config.gradualSticky })
        return { ...plan, steps: [...recovered, ...plan.steps] }
      },
      execute: (plan) =>
        executeSwitch(p, store, ctx.ui, plan, {
          stepMs: Number(ctx.flags.step),
          verifyMs,
          keepPreviousMs:
            ctx.flags['keep-previous'] !== undefined ? Number(ctx.flags['keep-previous']) : config.keepPreviousMs,
          thresholds: config.thresholds,
          signal: ctx.signal,
        }),
      report: (plan, r) => {
        if (r.verification)
          ctx.ui.success(
            `Verified: ${r.verification.total} probes, ${(r.verification.successRate * 100).toFixed(1)}% ok, p95 ${r.verification.p95} ms`,
          )
        ctx.ui.success(
          `${plan.to} (${plan.version}) is live; ${plan.from} stays warm. Roll back with: npx zx scripts/rollback-production.ts`,
        )
      },
      rehearse: true,
      json: (plan, r) => ({
        action: 'switch',
        from: plan.from,
        to: plan.to,
        version: plan.version,
        gradual: plan.gradual,
        result: r,
      }),
    })
  },
)
