#!/usr/bin/env -S npx zx
// The whole blue-green release: preflight, plan and confirm, backup, create the idle slot,
// migrate, smoke-test, switch, verify, record. Safe to interrupt: a signal before the verification
// has passed puts every request back on the old slot; a killed run is recovered next time.
import { fileStore } from '../lib/stores/file-store.ts'
import { validateVersion } from '../lib/model.ts'
import { runScript } from '../lib/cli.ts'
import { APP_FLAG, loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { parseGradual } from '../lib/bluegreen.ts'
import { runOperation } from '../lib/operation.ts'
import { executeDeploy, planDeploy, type DeployOptions } from '../lib/pipeline/deploy.ts'
import { createDeployPorts } from '../lib/pipeline/adapters.ts'
import { PARALLEL_FLAG, parallelFlag } from '../lib/multihost-platform.ts'

await runScript(
  {
    name: 'deploy-production',
    summary:
      'Release a version blue-green: preflight, backup, create the idle slot, migrate, smoke-test, switch, verify, record.',
    description: [
      'Hooks (executables in hooks/, or HOOKS_DIR): pre-deploy (a failure stops with nothing changed, exit 2),',
      'smoke (part of the smoke tests), post-deploy, on-rollback, on-failure; they get DMS_VERSION, DMS_SLOT,',
      'DMS_PREVIOUS_SLOT, DMS_TARGET and DMS_OUTCOME. The database is backed up before migrating and never restored',
      'automatically (see rollback-production --restore-db).',
    ].join('\n'),
    flags: {
      version: { type: 'string', value: '<tag>', description: 'the release (image tag) to deploy' },
      build: { type: 'boolean', description: "build the release's image first (compose build context)" },
      gradual: {
        type: 'string',
        value: '<list>',
        description: 'shift traffic in steps with an analysis at each, e.g. 10,50,100',
      },
      step: { type: 'duration', default: '20s', description: 'how long each gradual step is analysed' },
      verify: { type: 'duration', description: 'verification window after the switch (default: VERIFY_WINDOW)' },
      timeout: {
        type: 'duration',
        description: 'how long the new slot may take to become healthy (default: DEPLOY_TIMEOUT)',
      },
      'allow-contract': {
        type: 'boolean',
        description: 'allow migrations marked "-- contract" (they remove what older releases use)',
      },
      ...APP_FLAG,
      ...PARALLEL_FLAG,
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/deploy-production.ts --version 1.4.2 --dry-run',
      'npx zx scripts/deploy-production.ts --version 1.4.2 --yes',
      'npx zx scripts/deploy-production.ts --version 1.4.2 --gradual 10,50,100 --step 30s',
    ],
  },
  async (ctx) => {
    const version = validateVersion(ctx.flags.version)
    const gradual = parseGradual(ctx.flags.gradual).filter((x) => x < 100)
    const env = loadEnv(ctx)
    const { config } = env
    const store = fileStore(env)
    const ports = createDeployPorts(config, env.paths, ctx.ui, store, {
      dryRun: ctx.common.dryRun,
      parallel: parallelFlag(ctx.flags.parallel),
    })
    const o: DeployOptions = {
      version,
      build: ctx.flags.build === true,
      gradual,
      stepMs: Number(ctx.flags.step),
      verifyMs: ctx.flags.verify !== undefined ? Number(ctx.flags.verify) : config.verifyMs,
      timeoutMs: ctx.flags.timeout !== undefined ? Number(ctx.flags.timeout) : config.deployTimeoutMs,
      allowContract: ctx.flags['allow-contract'] === true,
      signal: ctx.signal,
    }
    return runOperation(ctx, env, {
      action: 'deploy',
      describe: `deploy ${version} to production`,
      plan: () => planDeploy(ports, o),
      execute: (plan) => executeDeploy(ports, plan, { ...o, signal: ctx.signal }),
      report: (plan, r) => {
        const v = r.switch?.verification
        if (v) ctx.ui.success(`Verified: ${v.total} probes, ${(v.successRate * 100).toFixed(1)}% ok, p95 ${v.p95} ms`)
        if (r.outcome === 'interrupted')
          ctx.ui.warn(
            `Interrupted after ${plan.slot} (${plan.version}) passed its verification: it stays live; hooks and notifications may be incomplete.`,
          )
        else if (plan.done)
          ctx.ui.success(
            `Deployed ${plan.version} to ${plan.slot}: the run that was killed is finished (verified again).`,
          )
        else
          ctx.ui.success(
            `Deployed ${plan.version} to ${plan.slot} in ${(r.durationMs / 1000).toFixed(1)}s; ${plan.live} stays warm.`,
          )
        ctx.ui.info(`Roll back with: npx zx scripts/rollback-production.ts`)
      },
      json: (plan, r) => ({
        action: 'deploy',
        version,
        slot: plan.slot,
        live: plan.live,
        liveVersion: plan.liveVersion,
        migrations: plan.migrations,
        recovered: plan.recovered,
        steps: plan.steps,
        result: r,
      }),
    })
  },
)
