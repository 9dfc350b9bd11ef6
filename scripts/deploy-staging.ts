#!/usr/bin/env -S npx zx
// Staging: pre-deployment checks, config validation, a single-slot deploy with wait, migrations,
// health validation and smoke tests. A failed check stops before anything changes.
import { fileStore } from '../lib/stores/file-store.ts'
import { validateVersion } from '../lib/model.ts'
import { runScript } from '../lib/cli.ts'
import { APP_FLAG, loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { UsageError, shownValue } from '../lib/errors.ts'
import { runOperation } from '../lib/operation.ts'
import { createStagingPorts } from '../lib/pipeline/adapters.ts'
import { createStaging, type StagingOptions } from '../lib/pipeline/staging.ts'

await runScript(
  {
    name: 'deploy-staging',
    summary:
      'Deploy a version to staging: checks, config validation, single-slot deploy with wait, migrations, health, smoke tests.',
    description:
      'Checks are STAGING_CHECKS (env/.env.staging): commands separated by ";", run from the repository without a shell.',
    flags: {
      version: { type: 'string', value: '<tag>', description: 'the release (image tag) to deploy' },
      build: { type: 'boolean', description: "build the release's image first" },
      'skip-checks': { type: 'boolean', description: 'do not run the pre-deployment checks' },
      timeout: {
        type: 'duration',
        description: 'how long the services may take to become healthy (default: DEPLOY_TIMEOUT)',
      },
      ...APP_FLAG,
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/deploy-staging.ts --version 1.4.2 --yes',
      'npx zx scripts/deploy-staging.ts --version 1.4.2 --build --skip-checks --yes',
    ],
  },
  async (ctx) => {
    const version = validateVersion(ctx.flags.version)
    if (ctx.common.target !== 'staging' && ctx.argv.some((a) => a === '--target' || a.startsWith('--target=')))
      throw new UsageError(
        `Can't deploy to ${shownValue(ctx.common.target)} with deploy-staging`,
        'Use scripts/deploy-production.ts for production.',
      )
    ctx.common.target = 'staging'
    const env = loadEnv(ctx)
    const store = fileStore(env)
    const staging = createStaging(
      createStagingPorts(env.config, env.paths, ctx.ui, store, { dryRun: ctx.common.dryRun }),
    )
    const o: StagingOptions = {
      version,
      build: ctx.flags.build === true,
      skipChecks: ctx.flags['skip-checks'] === true,
      timeoutMs: ctx.flags.timeout !== undefined ? Number(ctx.flags.timeout) : env.config.deployTimeoutMs,
      signal: ctx.signal,
    }
    return runOperation(ctx, env, {
      action: 'deploy',
      describe: `deploy ${version} to staging`,
      plan: () => staging.plan(o),
      execute: (plan) => staging.execute(plan, o),
      report: (_plan, r) =>
        ctx.ui.success(
          `Deployed ${version} to staging in ${(r.durationMs / 1000).toFixed(1)}s (smoke: ${r.smoke.load.total} requests, p95 ${r.smoke.load.p95} ms).`,
        ),
      json: (plan, r) => ({
        action: 'deploy',
        target: 'staging',
        version,
        replaced: plan.running,
        migrations: plan.migrations,
        steps: plan.steps,
        result: r,
      }),
    })
  },
)
