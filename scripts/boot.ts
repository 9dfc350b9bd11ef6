#!/usr/bin/env -S npx zx
// Brings back what the state records after the containers stopped (a daemon restart that did not
// bring them back, a reboot): the core services, the live slot and the warm previous slot, each at
// its recorded release; waits until healthy and confirms the routing through nginx. Never switches.
import { fileStore } from '../lib/stores/file-store.ts'
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { UsageError } from '../lib/errors.ts'
import { runOperation } from '../lib/operation.ts'
import { executeBoot, planBoot } from '../lib/pipeline/boot.ts'
import { createDeployPorts } from '../lib/pipeline/adapters.ts'

await runScript(
  {
    name: 'boot',
    summary:
      'Bring back what the state records: the core services, the live slot and the warm previous slot, each at its recorded release.',
    description: [
      'For when the containers have stopped (a Docker daemon restart that did not bring them back, a reboot).',
      'Starts only what is not running, waits until every role is ready through the preview listener, then',
      'confirms through the public listener that nginx answers from the live slot (X-Deploy-Slot). Traffic is never',
      'switched; a killed deploy recorded in the state is repaired first, as deploy-production does.',
    ].join('\n'),
    flags: {
      timeout: { type: 'duration', default: '180s', description: 'how long everything may take to become healthy' },
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/boot.ts --dry-run',
      'npx zx scripts/boot.ts --yes',
      'npx zx scripts/boot.ts --yes --json',
    ],
  },
  async (ctx) => {
    const env = loadEnv(ctx)
    const { ui } = env
    if (env.config.target !== 'production')
      throw new UsageError(
        `Can't boot ${env.config.target}: boot brings back a blue-green production stack`,
        'For staging, run: npx zx scripts/deploy-staging.ts --version <tag>',
      )
    const store = fileStore(env)
    const ports = createDeployPorts(env.config, env.paths, ui, store, { dryRun: ctx.common.dryRun })
    return runOperation(ctx, env, {
      action: 'boot',
      describe: 'bring back the recorded releases',
      plan: () =>
        planBoot(ports, {
          verifyMs: env.config.verifyMs,
          thresholds: env.config.thresholds,
          keepPreviousMs: env.config.keepPreviousMs,
          signal: ctx.signal,
        }),
      execute: (plan) => executeBoot(ports, plan, { timeoutMs: Number(ctx.flags.timeout), signal: ctx.signal }),
      report: (plan, r) => {
        const live = plan.slots.find((s) => s.role === 'live')!
        ui.success(
          `${plan.live} (${live.version}) is live and answers through nginx (X-Deploy-Slot confirmed in ${r.confirmMs} ms); booted in ${(r.durationMs / 1000).toFixed(1)}s.`,
        )
        for (const s of plan.slots)
          ui.info(`  ${s.slot}: ${s.version} (${s.role}) ${s.action === 'start' ? 'started' : 'was running'}`)
        ui.info(`  core services: ${plan.core === 'start' ? 'started' : 'were running'}`)
      },
      rehearse: true,
      json: (plan, r) => ({
        action: 'boot',
        live: plan.live,
        core: plan.core,
        slots: plan.slots,
        recovered: plan.recovered,
        steps: plan.steps,
        result: r,
      }),
    })
  },
)
