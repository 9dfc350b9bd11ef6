// A command in a target's live release: in a new one-off container of its image (the one-off
// service the migrations use: the release's image, environment and secrets, a dynamic address),
// or inside a running service container (--running). The plan (argv, mode) is pure.
import type { Config } from '../config.ts'
import { composeArgs, oneOffTarget, quoteArgv, slotTarget } from '../compose.ts'
import { appOf, appServiceNames } from '../manifest/app-model.ts'
import { RefusedError, UsageError } from '../errors.ts'
import type { DeployState, Slot } from '../model.ts'

export type ExecRequest = {
  command: string[]
  /** run inside this running service container instead of a new one-off container */
  running?: string
  slot?: string
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
  if (req.running !== undefined) {
    const t = slotTarget(config, slot, version)
    return {
      mode: 'running',
      slot,
      version,
      service: req.running,
      command: req.command,
      args: composeArgs(t, 'exec', ...tty, req.running, ...req.command),
      env: t.env,
      tty: req.tty,
      steps: [`run ${quoteArgv(req.command)} inside the running ${req.running} container of ${slot} (${version})`],
    }
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

/** The audit line's detail: what ran where (the writer masks secrets in it). */
export function describeExec(p: ExecPlan): string {
  return `${p.mode === 'one-off' ? 'one-off container' : `inside ${p.service}`} of ${p.slot} (${p.version}): ${quoteArgv(p.command)}`
}
