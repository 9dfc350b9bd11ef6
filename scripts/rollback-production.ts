#!/usr/bin/env -S npx zx
import { fileStore } from '../lib/stores/file-store.ts'
import { validateVersion } from '../lib/model.ts'
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { runOperation } from '../lib/operation.ts'
import { rollbackOperation } from '../lib/pipeline/rollback-op.ts'
import { platformFor } from '../lib/multihost-platform.ts'

await runScript(
  {
    name: 'rollback-production',
    summary:
      'Send traffic back to the previous release: instantly when its slot is warm, else recreate it first. The database is untouched unless --restore-db.',
    flags: {
      to: {
        type: 'string',
        value: '<version>',
        description: 'roll back to this recorded release instead of the previous one',
      },
      timeout: {
        type: 'duration',
        default: '120s',
        description: 'how long to wait when the release has to be recreated',
      },
      'allow-unverified': {
        type: 'boolean',
        description:
          'with --to: allow a release that failed (or never passed) its verification; refused without it, even with --yes',
      },
      'restore-db': {
        type: 'boolean',
        description:
          'also restore the database backup taken before the current release (asks; writes since then are lost)',
      },
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/rollback-production.ts --yes',
      'npx zx scripts/rollback-production.ts --to v1 --dry-run',
      'npx zx scripts/rollback-production.ts --to v3 --allow-unverified   # a release that failed its verification',
      'npx zx scripts/rollback-production.ts --restore-db',
    ],
  },
  async (ctx) => {
    const toVersion = ctx.flags.to === undefined ? undefined : validateVersion(ctx.flags.to, '--to')
    const env = loadEnv(ctx)
    const { config, paths, ui } = env
    const platform = platformFor(config, paths, ui, { dryRun: ctx.common.dryRun })
    const deps = { platform, store: fileStore(env), ui, config, backupsDir: paths.backups }
    return runOperation(
      ctx,
      env,
      rollbackOperation(deps, {
        toVersion,
        allowUnverified: ctx.flags['allow-unverified'] === true,
        restoreDb: ctx.flags['restore-db'] === true,
        timeoutMs: Number(ctx.flags.timeout),
        yes: ctx.common.yes,
        dryRun: ctx.common.dryRun,
        signal: ctx.signal,
      }),
    )
  },
)
