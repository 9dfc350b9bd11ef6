// The Env of a script: what every operation needs, built from a script's flags (the config, the
// runtime paths, the printer with every secret registered for masking), and the deploy lock it holds.
import { LockCorruptError, acquireLock, describeHolder, forceUnlock, readLock, type Lock } from './lock.ts'
import { appendAudit } from './audit.ts'
import type { FlagSpec, ScriptContext } from './cli.ts'
import { loadConfig } from './config.ts'
import { withApp, type AppConfig } from './manifest/app-model.ts'
import { confirm } from './prompt.ts'
import { OperationError } from './errors.ts'
import { configureGateway } from './gateway.ts'
import type { Printer } from './ui.ts'
import { configureAuditRetention } from './audit-rotate.ts'
import { runtimePaths, type Paths } from './paths.ts'

export type Env = {
  /** the target's configuration and its app's model (config.app) */
  config: AppConfig
  paths: Paths
  ui: Printer
  /** --dry-run: stores keep changes in memory and print nothing to the audit log */
  dryRun?: boolean
}

/** Loads the target's config and app model (--app over APP) and registers its secrets with the printer. */
export function loadEnv(ctx: ScriptContext, opts: { generateSecrets?: boolean; env?: NodeJS.ProcessEnv } = {}): Env {
  const loaded = loadConfig({
    target: ctx.common.target,
    env: opts.env,
    generateSecrets: opts.generateSecrets ?? !ctx.common.dryRun,
    app: typeof ctx.flags.app === 'string' ? ctx.flags.app : undefined,
  })
  const config = withApp(loaded, { write: !ctx.common.dryRun })
  ctx.ui.secrets.add(config.secrets)
  configureGateway({ timeoutMs: config.commandTimeoutMs })
  configureAuditRetention(config.auditRetention)
  for (const w of config.warnings) ctx.ui.warn(w)
  return { config, paths: runtimePaths(config.varDir), ui: ctx.ui, dryRun: ctx.common.dryRun }
}

/** --app, on the scripts that deploy or create a release (the others read APP from the env file). */
export const APP_FLAG: Record<string, FlagSpec> = {
  app: {
    type: 'string',
    value: '<dir|file>',
    description:
      "the app's manifest, a directory with app.yaml or the file (default: APP in env/.env.<target>, else examples/dms)",
  },
}

export const LOCK_FLAGS: Record<string, FlagSpec> = {
  'lock-wait': {
    type: 'duration',
    value: '<seconds>',
    default: '0',
    description: 'wait this long for another deploy to finish instead of refusing (exit 3)',
  },
  'force-unlock': { type: 'boolean', description: 'remove a lock left by a deploy that is gone (asks first; audited)' },
}

/** Takes the deploy lock for an operation, handling --force-unlock and --lock-wait. */
export async function holdLock(ctx: ScriptContext, env: Env, action: string): Promise<Lock> {
  const { paths, ui, config } = env
  const mask = (s: string) => ui.mask(s)
  if (ctx.flags['force-unlock'] === true) {
    let who: string | null
    try {
      const holder = readLock(paths.lock)
      who = holder ? describeHolder(holder) : null
    } catch (e) {
      // a corrupt lock file is what --force-unlock is for: its hint names this flag
      if (!(e instanceof LockCorruptError)) throw e
      who = `nobody known (${paths.lock} is not a lock file)`
    }
    if (who) {
      ui.warn(`The deploy lock is held by ${who}.`)
      if (
        !(await confirm('remove the deploy lock', {
          yes: ctx.common.yes,
          ui,
          question: 'Remove it? Only do this if that deploy is really gone.',
        }))
      ) {
        appendAudit(paths.audit, { action: 'force-unlock', outcome: 'declined', target: config.target }, mask)
        throw new OperationError(`Can't ${action}: the lock was left in place. Nothing was changed.`)
      }
      forceUnlock(paths.lock)
      appendAudit(
        paths.audit,
        { action: 'force-unlock', outcome: 'done', target: config.target, detail: `removed lock of ${who}` },
        mask,
      )
      ui.warn('Removed the deploy lock.')
    }
  }
  return acquireLock(paths.lock, {
    waitMs: Number(ctx.flags['lock-wait'] ?? 0),
    signal: ctx.signal,
    onWait: (h) => ui.info(`Waiting for the deploy lock held by ${describeHolder(h)}…`),
    onStale: (h) => {
      ui.warn(`Took over a stale deploy lock: ${describeHolder(h)} (that process is gone).`)
      appendAudit(
        paths.audit,
        {
          action: 'lock-takeover',
          outcome: 'done',
          target: config.target,
          detail: `stale lock of ${describeHolder(h)}`,
        },
        mask,
      )
    },
  })
}
