// The core services of a stack (nginx, postgres, redis): whether they run, starting them, and the runtime settings
// (secrets, Alertmanager credentials, nginx includes) that production and staging prepare alike.
import type { Config } from './config.ts'
import type { Paths } from './paths.ts'
import { coreTarget, ps, upArgs, type Shell } from './compose.ts'
import { deadlineAfter } from './gateway.ts'
import { OperationError } from './errors.ts'
import { applyIncludes, nginxSettings } from './nginx.ts'
import { prepareRuntime, type RuntimeReport, type RuntimeSettings } from './runtime-dir.ts'
import type { Printer } from './ui.ts'

export async function coreRunning(sh: Shell, config: Config): Promise<{ running: boolean; problems: string[] }> {
  const services = await ps(sh, coreTarget(config))
  const problems: string[] = []
  for (const name of ['nginx', 'postgres', 'redis']) {
    const s = services.find((x) => x.service === name)
    if (!s) problems.push(`${name}: not created`)
    else if (s.state !== 'running') problems.push(`${name}: ${s.state}`)
    else if (s.health && s.health !== 'healthy') problems.push(`${name}: ${s.health}`)
  }
  return { running: problems.length === 0, problems }
}

/** What prepareRuntime writes for this target: nginx settings, secrets and the Alertmanager receiver credentials. */
export function runtimeSettings(config: Config): RuntimeSettings {
  return {
    ...nginxSettings(config),
    varDir: config.varDir,
    networkName: config.networkName,
    postgresPassword: config.postgres.password,
    redisPassword: config.redisPassword,
    alertmanager: config.alertmanager,
  }
}

/** Prepares the runtime directory and network of this target (production's core and staging share it). */
export function prepareStackRuntime(config: Config): Promise<RuntimeReport> {
  return prepareRuntime(runtimeSettings(config))
}

/**
 * Makes sure the runtime directory, the network and the core services exist and are healthy.
 * nginx config changes are validated (nginx -t) and reloaded only when something changed.
 */
export async function ensureCore(
  sh: Shell,
  config: Config,
  paths: Paths,
  ui: Printer,
  o: { timeoutMs?: number } = {},
): Promise<{ started: boolean; changed: string[] }> {
  if (!config.postgres.password || !config.redisPassword)
    throw new OperationError(
      "Can't prepare the stack: the database and Redis secrets are not set",
      'Run without --dry-run once so they are generated.',
    )
  const before = await coreRunning(sh, config)
  if (sh.dryRun) {
    if (!before.running)
      ui.info(`${ui.c.cyan('[dry-run]')} prepare ${paths.varDir} and start the core services (nginx, postgres, redis)`)
    return { started: !before.running, changed: [] }
  }
  const changed = before.running ? await applyIncludes(sh, config, paths.nginx, { nginxRunning: true }) : []
  const report = await prepareStackRuntime(config)
  if (!before.running) {
    const t = coreTarget(config)
    await ui.step('Starting the core services (nginx, postgres, redis)', () =>
      sh.docker(upArgs(t, { waitTimeoutS: Math.round((o.timeoutMs ?? 120_000) / 1000) }), {
        env: t.env,
        action: 'start the core services',
        timeoutMs: deadlineAfter(o.timeoutMs ?? 120_000),
      }),
    )
  }
  return { started: !before.running, changed: [...changed, ...report.changed] }
}
