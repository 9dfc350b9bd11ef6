// Docker Compose: pure builders that return argv arrays, and one runner that executes them
// (through the one gateway, lib/gateway.ts). Secrets never travel on argv: compose reads them from files under
// VAR_DIR/secrets; everything else it needs comes through the environment.
import { SLOT_NUM, type Slot } from './model.ts'
import type { Config } from './config.ts'
import { RefusedError } from './errors.ts'
import { slotInstances } from './manifest/allocate.ts'
import { appOf } from './manifest/app-model.ts'
import { ensureSlotCompose, generatedFiles, slotComposeFile } from './generated-compose.ts'
import { createGateway, type CommandOptions, type RunResult } from './gateway.ts'
import type { Printer } from './ui.ts'

/** What one compose invocation acts on: a file (and files merged over it), a project, its profiles and its environment. */
export type ComposeTarget = {
  file: string
  also?: string[]
  project: string
  profiles: string[]
  env: Record<string, string>
}

/** The environment compose interpolates; never secrets (they are files). */
export function composeEnv(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NETWORK_NAME: config.networkName,
    NET_PREFIX: config.netPrefix,
    VAR_DIR: config.varDir,
    LISTEN_ADDR: config.listenAddr,
    HTTPS_PORT: String(config.ports.https),
    HTTP_PORT: String(config.ports.http),
    PREVIEW_PORT: String(config.ports.preview),
    STATUS_PORT: String(config.ports.status),
    POSTGRES_PORT: String(config.ports.postgres),
    REDIS_PORT: String(config.ports.redis),
    BASE_IMAGE: config.baseImage,
    APP_IMAGE: config.appImage,
    POSTGRES_USER: config.postgres.user,
    POSTGRES_DB: config.postgres.db,
    PROMETHEUS_PORT: String(config.ports.prometheus),
    ALERTMANAGER_PORT: String(config.ports.alertmanager),
    TARGET: config.target,
    ...config.appEnv,
    ...extra,
  }
}

/**
 * The core project: the static file's nginx (profile core in production) and the accessories' file generated from
 * the manifest (VAR_DIR/compose/accessories.yml). Staging is one project: its blue slot's generated file too.
 */
export function coreTarget(config: Config): ComposeTarget {
  const production = config.target === 'production'
  return {
    file: config.composeFile,
    also: generatedFiles(config),
    project: config.composeProject,
    profiles: production ? ['core'] : [],
    env: composeEnv(config, { SLOT: 'blue', SLOT_NUM: '1', VERSION: 'core' }),
  }
}

export function monitoringTarget(config: Config): ComposeTarget {
  return {
    file: `${config.root}/compose/docker-compose.monitoring.yml`,
    project: `${config.composeProject}-monitoring`,
    profiles: [],
    env: composeEnv(config),
  }
}

export function slotProject(config: Config, slot: Slot): string {
  return config.target === 'production' ? `${config.composeProject}-${slot}` : config.composeProject
}

/**
 * A production slot runs the compose file generated from the app's manifest (VAR_DIR/compose/app-<slot>.yml,
 * lib/manifest/render-compose.ts) as a project of its own; staging's one slot (blue) runs it in the stack's
 * single project, with nginx and the accessories.
 */
export function slotTarget(
  config: Config,
  slot: Slot,
  version: string,
  extraEnv: Record<string, string> = {},
): ComposeTarget {
  const env = composeEnv(config, { SLOT: slot, SLOT_NUM: String(SLOT_NUM[slot]), VERSION: version, ...extraEnv })
  if (config.target !== 'production') return { ...coreTarget(config), profiles: [], env }
  ensureSlotCompose(config, slot)
  return { file: slotComposeFile(config, slot), project: slotProject(config, slot), profiles: [], env }
}

/**
 * A release's one-off container (migrations, `exec --one-off`): the generated slot file's `release` service
 * (profile release; the manifest's release command).
 */
export function oneOffTarget(config: Config, slot: Slot, version: string): { target: ComposeTarget; service: string } {
  const service = 'release'
  const app = appOf(config)
  if (!app.release)
    throw new RefusedError(
      `Can't start a one-off container of ${version} in ${slot}: the app ${app.name} has no release command (its manifest's release.service names the image and environment a one-off container runs with). Nothing was changed.`,
      'Run the command inside a running container instead (exec --running <service>), or add a release section to the manifest.',
    )
  return { target: { ...slotTarget(config, slot, version), profiles: [service] }, service }
}

/** The static address of one of the app's compose services in a slot (lib/manifest/allocate.ts). */
export function appAddress(config: Config, slot: Slot, service: string): string {
  const x = slotInstances(appOf(config), slot).find((i) => i.name === service)
  if (!x) throw new Error(`${service} is not a service of the app ${appOf(config).name}`)
  return `${config.netPrefix}.${x.octet}`
}

export function imageRef(config: Config, version: string): string {
  return `${config.appImage}:${version}`
}

// ---------------------------------------------------------------- builders (pure)

export function composeArgs(t: ComposeTarget, ...sub: string[]): string[] {
  const files = [t.file, ...(t.also ?? [])].flatMap((f) => ['-f', f])
  return ['compose', ...files, '-p', t.project, ...t.profiles.flatMap((p) => ['--profile', p]), ...sub]
}

export function upArgs(
  t: ComposeTarget,
  o: {
    waitTimeoutS?: number
    services?: string[]
    build?: boolean
    forceRecreate?: boolean
    /** missing: pull an image that is not here (the core's accessories); never (default): a release's image is resolved first */
    pull?: 'never' | 'missing'
  } = {},
): string[] {
  return composeArgs(
    t,
    'up',
    '--detach',
    ...(o.waitTimeoutS !== undefined ? ['--wait', '--wait-timeout', String(o.waitTimeoutS)] : []),
    ...(o.build ? ['--build'] : ['--no-build']),
    ...(o.forceRecreate ? ['--force-recreate'] : []),
    '--pull',
    o.pull ?? 'never',
    ...(o.services ?? []),
  )
}

export const psArgs = (t: ComposeTarget) => composeArgs(t, 'ps', '--all', '--format', 'json')
export const logsArgs = (t: ComposeTarget, tail = 20, services: string[] = []) =>
  composeArgs(t, 'logs', '--no-color', '--tail', String(tail), ...services)
export const execArgs = (t: ComposeTarget, service: string, cmd: string[]) =>
  composeArgs(t, 'exec', '-T', service, ...cmd)
export const runArgs = (t: ComposeTarget, service: string, cmd: string[]) =>
  composeArgs(t, 'run', '--rm', '--no-deps', '-T', service, ...cmd)
export const stopArgs = (t: ComposeTarget, timeoutS: number, services: string[] = []) =>
  composeArgs(t, 'stop', '--timeout', String(timeoutS), ...services)
export const killArgs = (t: ComposeTarget, signal: string, services: string[] = []) =>
  composeArgs(t, 'kill', '--signal', signal, ...services)
export const downArgs = (t: ComposeTarget, o: { volumes?: boolean; timeoutS?: number } = {}) =>
  composeArgs(t, 'down', '--remove-orphans', ...(o.volumes ? ['--volumes'] : []), '--timeout', String(o.timeoutS ?? 30))
export const buildArgs = (t: ComposeTarget, services: string[] = []) => composeArgs(t, 'build', ...services)
export const configArgs = (t: ComposeTarget) => composeArgs(t, 'config', '--quiet')
export const imageInspectArgs = (image: string) => ['image', 'inspect', '--format', '{{.Id}}', image]
export const pullArgs = (image: string) => ['pull', '--quiet', image]

// ---------------------------------------------------------------- runner

export { CommandError, quoteArgv, type RunResult } from './gateway.ts'

/** What the compose builders' callers need of the gateway (lib/gateway.ts): docker with argv, and dry-run. */
export type Shell = {
  /** runs docker with argv; throws CommandError unless nothrow, CommandTimeoutError past its deadline */
  docker(args: string[], o?: CommandOptions): Promise<RunResult>
  dryRun: boolean
}

/** The gateway for one operation's docker calls (see lib/gateway.ts for dry-run, deadlines and abort). */
export function createShell(ui: Printer, o: { dryRun?: boolean } = {}): Shell {
  return createGateway(ui, o)
}

export type ServiceState = {
  service: string
  name: string
  state: string
  health: string
  exitCode: number
  image: string
  labels?: Record<string, string>
}

export function parsePs(stdout: string): ServiceState[] {
  const text = stdout.trim()
  if (!text) return []
  // compose 2.21+ prints one JSON object per line; older versions print an array
  const items: Array<Record<string, unknown>> = text.startsWith('[')
    ? JSON.parse(text)
    : text.split('\n').map((l) => JSON.parse(l))
  return items.map((i) => ({
    service: String(i.Service ?? ''),
    name: String(i.Name ?? ''),
    state: String(i.State ?? ''),
    health: String(i.Health ?? ''),
    exitCode: Number(i.ExitCode ?? 0),
    image: String(i.Image ?? ''),
    labels: parseLabels(i.Labels),
  }))
}

/** compose ps prints labels as one "k=v,k=v" string (values here never contain commas). */
function parseLabels(raw: unknown): Record<string, string> {
  if (raw && typeof raw === 'object') return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]))
  const out: Record<string, string> = {}
  for (const part of String(raw ?? '').split(',')) {
    const eq = part.indexOf('=')
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1)
  }
  return out
}

/**
 * The containers of a compose project straight from the Engine (`docker ps` by the project label):
 * the same facts as `compose ps`, without compose parsing the file (a few ms instead of a few
 * hundred under load; it matters for a rollback that should take a second or two).
 */
export async function projectContainers(sh: Shell, project: string): Promise<ServiceState[]> {
  const r = await sh.docker(
    ['ps', '--all', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{json .}}'],
    {
      changes: false,
      action: `list the containers of ${project}`,
    },
  )
  return parseDockerPs(r.stdout)
}

/** `docker ps --format '{{json .}}'` lines -> ServiceState (health from "Up 3 minutes (healthy)"). */
export function parseDockerPs(stdout: string): ServiceState[] {
  return (
    stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .map((i) => {
        const labels = parseLabels(i.Labels)
        const status = String(i.Status ?? '')
        const health =
          /\((healthy|unhealthy)\)/.exec(status)?.[1] ?? (/health: starting/.test(status) ? 'starting' : '')
        return {
          service: labels['com.docker.compose.service'] ?? '',
          name: String(i.Names ?? ''),
          state: String(i.State ?? ''),
          health,
          exitCode: Number(/Exited \((\d+)\)/.exec(status)?.[1] ?? 0),
          image: String(i.Image ?? ''),
          labels,
        }
      })
      // one-off containers (compose run: migrations) are not services, as in compose ps
      .filter((c) => c.labels['com.docker.compose.oneoff'] !== 'True')
  )
}

export async function ps(sh: Shell, t: ComposeTarget): Promise<ServiceState[]> {
  const r = await sh.docker(psArgs(t), { env: t.env, changes: false, action: `list the services of ${t.project}` })
  return parsePs(r.stdout)
}

export async function imageExists(sh: Shell, image: string): Promise<boolean> {
  return (await sh.docker(imageInspectArgs(image), { nothrow: true, changes: false })).ok
}
