#!/usr/bin/env -S npx zx
// Stops the previous slot once its warm time (KEEP_PREVIOUS, default 30 min) is over: run it from
// cron beside health-check. Requests in flight on it finish first (SIGTERM, grace period, stop).
import { fileStore } from '../lib/stores/file-store.ts'
import { runScript, EXIT } from '../lib/cli.ts'
import { loadEnv, holdLock, LOCK_FLAGS } from '../lib/script-env.ts'
import { retirePrevious } from '../lib/bluegreen.ts'
import { createPlatform } from '../lib/platform.ts'
import { readState } from '../lib/state.ts'
import { retireBlocker } from '../lib/safety.ts'

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
    const { ui, paths, config } = env
    const state = readState(paths.state, config.target)
    const prev = state.previous
    if (!prev) {
      ui.info('Nothing to retire: no previous slot is kept warm.')
      ui.result({ ok: true, retired: null })
      return EXIT.OK
    }
    // never stop a slot that can still receive a request; --now does not override this (exit 0: cron)
    const p = createPlatform(config, paths, ui, { dryRun: ctx.common.dryRun })
    const blocker = retireBlocker(state, p.readRouting(), prev.slot)
    if (blocker) {
      ui.info(`Not retiring ${prev.slot} (${prev.version}): ${blocker}. Nothing was changed.`)
      ui.result({ ok: true, retired: null, reason: blocker })
      return EXIT.OK
    }
    const due = Date.parse(prev.warmUntil) <= Date.now()
    if (!due && ctx.flags.now !== true) {
      ui.info(`${prev.slot} (${prev.version}) stays warm until ${prev.warmUntil}.`)
      ui.result({ ok: true, retired: null, warmUntil: prev.warmUntil })
      return EXIT.OK
    }
    ui.info(
      `Plan: drain and stop ${prev.slot} (${prev.version})${due ? ', its warm time is over' : ' now, before its warm time is over'}.`,
    )
    if (ctx.common.dryRun) return EXIT.OK
    if (!due) {
      const { confirm } = await import('../lib/prompt.ts')
      if (!(await confirm(`stop ${prev.slot} now`, { yes: ctx.common.yes, ui }))) return EXIT.FAILED
    }
    const lock = await holdLock(ctx, env, `retire ${prev.slot}`)
    try {
      const r = await retirePrevious(p, fileStore(env), ui, { force: ctx.flags.now === true })
      ui.result({ ok: true, retired: r.retired, reason: r.reason })
      if (r.retired) ui.success(`Stopped ${r.retired}; rollback to ${prev.version} now recreates it.`)
      else ui.info(`Not retiring ${prev.slot} (${prev.version}): ${r.reason}. Nothing was changed.`)
    } finally {
      lock.release()
    }
  },
)
