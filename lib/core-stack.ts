// The core services of a stack (nginx and the app's accessories): whether they run, starting them, and the runtime
// settings (secrets, Alertmanager credentials, nginx includes) that production and staging prepare alike.
import type { Config } from './config.ts'
import type { Paths } from './paths.ts'
import { coreTarget, imageInspectArgs, ps, upArgs, type Shell } from './compose.ts'
import { deadlineAfter } from './gateway.ts'
import { writeAccessoriesCompose } from './generated-compose.ts'
import { OperationError } from './errors.ts'
import { dockerEnv, loginRegistry } from './images/registry.ts'
import { applyIncludes, nginxSettings } from './nginx.ts'
import { appOf } from './manifest/app-model.ts'
import { localAccessories } from './manifest/render-compose.ts'
import { prepareRuntime, type RuntimeReport, type RuntimeSettings } from './runtime-dir.ts'
import type { Printer } from './ui.ts'

/**
 * The core services the app needs: nginx and the manifest's accessories, by name. nginx comes from the stack's
 * static core file (compose/docker-compose.<target>.yml); the accessories from the file generated from the
 * manifest (VAR_DIR/compose/accessories.yml), merged over it in both targets: an app without accessories runs
 * nginx alone. With hosts, the balancer's accessories only (an app host's are started there: lib/multihost.ts).
 */
export function coreServices(config: Config): string[] {
  return ['nginx', ...localAccessories(appOf(config)).accessories.map((a) => a.name)]
}

export async function coreRunning(sh: Shell, config: Config): Promise<{ running: boolean; problems: string[] }> {
  const services = await ps(sh, coreTarget(config))
  const problems: string[] = []
  for (const name of coreServices(config)) {
    const s = services.find((x) => x.service === name)
    if (!s) problems.push(`${name}: not created`)
    else if (s.state !== 'running') problems.push(`${name}: ${s.state}`)
    else if (s.health && s.health !== 'healthy') problems.push(`${name}: ${s.health}`)
  }
  return { running: problems.length === 0, problems }
}

/** The images of this machine's accessories that are not here (a pull is needed to start them). */
async function missingImages(sh: Shell, config: Config): Promise<string[]> {
  const images = [...new Set(localAccessories(appOf(config)).accessories.map((a) => a.image))]
  const seen = await Promise.all(
    images.map((image) =>
      sh.docker(imageInspectArgs(image), {
        nothrow: true,
        changes: false,
        action: `look for ${image}`,
      }),
    ),
  )
  return images.filter((_, i) => !seen[i]!.ok)
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
      ui.info(
        `${ui.c.cyan('[dry-run]')} prepare ${paths.varDir} and start the core services (${coreServices(config).join(', ')})`,
      )
    return { started: !before.running, changed: [] }
  }
  const changed = before.running ? await applyIncludes(sh, config, paths.nginx, { nginxRunning: true }) : []
  const report = await prepareStackRuntime(config)
  if (!before.running) {
    writeAccessoriesCompose(config)
    const t = coreTarget(config)
    const services = coreServices(config)
    // an accessory image missing here is pulled, with the target's login (its own DOCKER_CONFIG); the registry is
    // asked only then: a core whose images are all here starts with the registry down (air-gapped hosts too)
    const registry = config.registry.server ? dockerEnv(config.registry) : {}
    if (config.registry.server && (await missingImages(sh, config)).length) await loginRegistry(sh, config.registry)
    await ui.step(`Starting the core services (${services.join(', ')})`, () =>
      sh.docker(upArgs(t, { waitTimeoutS: Math.round((o.timeoutMs ?? 120_000) / 1000), services, pull: 'missing' }), {
        env: { ...t.env, ...registry },
        action: 'start the core services',
        timeoutMs: deadlineAfter(o.timeoutMs ?? 120_000),
      }),
    )
  }
  return { started: !before.running, changed: [...changed, ...report.changed] }
}
