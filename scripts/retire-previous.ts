#!/usr/bin/env -S npx zx
// Stops the previous slot once its warm time (KEEP_PREVIOUS, default 30 min) is over: run it from
// cron beside health-check. Requests in flight on it finish first (SIGTERM, grace period, stop).
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { fileStore } from '../lib/stores/file-store.ts'
import { runRetire } from '../lib/pipeline/retire.ts'
import { platformFor } from '../lib/multihost-platform.ts'

await runScript(
  {
    name: 'retire-previous',
    summary:
      'Drain and stop the previous slot once its warm time is over (from cron). Instant rollback to it is then gone.',
    flags: {
      now: {
        type: 'boolean',
        description:
          'stop it now, before its warm time is over (asks first); never while it can still receive a request',
      },
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/retire-previous.ts --yes --quiet   # every 5 minutes from cron',
      'npx zx scripts/retire-previous.ts --now',
    ],
  },
  async (ctx) => {
    const env = loadEnv(ctx, { generateSecrets: false })
    const p = platformFor(env.config, env.paths, env.ui, { dryRun: ctx.common.dryRun })
    return runRetire(ctx, env, p, fileStore(env), ctx.flags.now === true)
  },
)
