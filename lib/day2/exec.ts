// A command in a target's live release: in a new one-off container of its image (the one-off
// service the migrations use: the release's image, environment and secrets, a dynamic address),
// or inside a running service container (--running). The plan (argv, mode) is pure.
import type { Config } from '../config.ts'
import { composeArgs, oneOffTarget, quoteArgv, slotTarget } from '../compose.ts'
import { appOf, appServiceNames } from '../manifest/app-model.ts'
import { RefusedError, UsageError } from '../errors.ts'
import type { DeployState, Slot } from '../model.ts'
import { hostInstances } from '../manifest/render-hosts.ts'
import type { Manifest, ManifestHost } from '../manifest/types.ts'

export type ExecRequest = {
  command: string[]
  /** run inside this running service container instead of a new one-off container */
  running?: string
  slot?: string
  /** app hosts: the host whose --running container (default: the first that runs it) */
  host?: string
  /** stdin and stdout are a terminal: allocate a TTY (no -T) */
  tty: boolean
}

export type ExecPlan = {
  mode: 'one-off' | 'running'
  slot: Slot
  version: string
  service: string
  command: string[]
  args: string[]
  env: Record<string, string>
  tty: boolean
  steps: string[]
  /** app hosts: the docker command runs against this host's daemon over SSH */
  host?: ManifestHost
}

/** The exact compose command. Pure. */
export function planExec(config: Config, req: ExecRequest, state: DeployState, live: Slot): ExecPlan {
  if (!req.command.length)
    throw new UsageError(
      "Can't run a command: none was given",
      'Put it after --, e.g.: npx zx scripts/exec.ts -- node -e "console.log(1)"',
    )
  if (req.slot !== undefined && req.slot !== 'blue' && req.slot !== 'green')
    throw new UsageError(`Can't read --slot: "${req.slot}" is not a slot`, 'Write --slot blue or --slot green.')
  const services = appServiceNames(appOf(config))
  if (req.running !== undefined && !services.includes(req.running))
    throw new UsageError(
      `Can't run a command in "${req.running}": there is no such app service`,
      `Name one of ${services.join(', ')}.`,
    )
  const slot = (req.slot as Slot | undefined) ?? live
  const version = state.slots[slot]?.version
  if (!version)
    throw new RefusedError(
      `Can't run a command in the ${slot} slot: no release is recorded there`,
      'Deploy a release first, or name the slot that holds one with --slot. Nothing was changed.',
    )
  const tty = req.tty ? [] : ['-T']
  const m = appOf(config)
  if (req.host !== undefined && !m.hosts)
    throw new UsageError(
      `Can't use --host ${req.host}: the app's manifest names no app hosts`,
      'Leave --host out: the containers run on this machine.',
    )
  if (m.hosts) return planOnHost(m, req, slot, version, tty)
  if (req.running !== undefined) {
    const t = slotTarget(config, slot, version)
    return inRunning(req, req.running, slot, version, composeArgs(t, ...execArgs(req, req.running, tty)), t.env)
  }
  const { target: t, service } = oneOffTarget(config, slot, version)
  return {
    mode: 'one-off',
    slot,
    version,
    service,
    command: req.command,
    args: composeArgs(t, 'run', '--rm', '--no-deps', ...tty, service, ...req.command),
    env: t.env,
    tty: req.tty,
    steps: [
      `run ${quoteArgv(req.command)} in a new one-off container of ${version} (the ${slot} slot's release), removed when it ends`,
    ],
  }
}

/** --running on an app host (the first that runs the container, or req.host), over SSH; a one-off refused. */
function planOnHost(m: Manifest, req: ExecRequest, slot: Slot, version: string, tty: string[]): ExecPlan {
  if (req.running === undefined)
    throw new UsageError(
      "Can't run a one-off container on the app hosts: exec.ts starts one only on this machine",
      'Run inside a running container instead: --running <service> [--host <name>].',
    )
  const on = hostInstances(m, slot)
    .filter((x) => x.name === req.running)
    .map((x) => x.host)
  const host = req.host === undefined ? on[0] : on.find((h) => h.name === req.host)
  if (!host)
    throw new UsageError(
      `Can't run a command in ${req.running} on ${req.host}: that host does not run it`,
      `Name one of the hosts that run it: ${on.map((h) => h.name).join(', ')}.`,
    )
  const args = ['compose', '-p', `${m.name}-${slot}`, ...execArgs(req, req.running, tty)]
  return inRunning(req, req.running, slot, version, args, {}, host)
}

const execArgs = (req: ExecRequest, running: string, tty: string[]) => ['exec', ...tty, running, ...req.command]

/** The plan of a command inside a running container: here, or on `host` over SSH. */
function inRunning(
  req: ExecRequest,
  running: string,
  slot: Slot,
  version: string,
  args: string[],
  env: Record<string, string>,
  host?: ManifestHost,
): ExecPlan {
  const where = host ? ` on ${host.name}, over SSH` : ''
  return {
    mode: 'running',
    slot,
    version,
    service: running,
    command: req.command,
    args,
    env,
    tty: req.tty,
    ...(host ? { host } : {}),
    steps: [`run ${quoteArgv(req.command)} inside the running ${running} container of ${slot} (${version})${where}`],
  }
}

/** The audit line's detail: what ran where (the writer masks secrets in it). */
export function describeExec(p: ExecPlan): string {
  const where = p.mode === 'one-off' ? 'one-off container' : `inside ${p.service}${p.host ? ` on ${p.host.name}` : ''}`
  return `${where} of ${p.slot} (${p.version}): ${quoteArgv(p.command)}`
}
