// Tearing a target down: its slots, then its core (nginx and the manifest's accessories), each with
// `compose down`; with hosts (#16) the slots on every app host first and the accessories the app hosts
// run last, over SSH. Volumes (the database, Redis data) are kept unless asked, backups and VAR_DIR
// always. The plan is pure; the state then records both slots as empty.
import type { Config } from '../config.ts'
import { coreTarget, downArgs, slotTarget, type ComposeTarget, type Shell } from '../compose.ts'
import { gatewayTimeoutMs } from '../gateway.ts'
import { coreServices } from '../core-stack.ts'
import { appOf } from '../manifest/app-model.ts'
import { accessoryHosts, appHosts } from '../manifest/render-hosts.ts'
import type { DeployState } from '../model.ts'
import { removeAccessoriesOnHosts, removeSlotOnHosts, type MultiHost } from '../multihost.ts'
import { addHistory } from '../model.ts'

export type DownStep = { what: string; project: string; args: string[]; env: Record<string, string> }
export type DownPlan = { steps: string[]; commands: DownStep[]; volumes: boolean }

const DRAIN_S = 30

/** Slots first (so nothing is served from a slot whose database is gone), then the core. Pure. */
export function planDown(config: Config, state: DeployState, o: { volumes: boolean }): DownPlan {
  const targets: Array<[string, ComposeTarget]> = []
  for (const slot of ['blue', 'green'] as const) {
    const t = slotTarget(config, slot, state.slots[slot]?.version ?? 'none')
    if (t.project !== config.composeProject) targets.push([`the ${slot} slot`, t])
  }
  targets.push([
    config.target === 'production' ? `the core (${coreServices(config).join(', ')})` : 'the staging stack',
    coreTarget(config),
  ])
  const commands = targets.map(([what, t]) => ({
    what,
    project: t.project,
    args: downArgs(t, { volumes: o.volumes, timeoutS: DRAIN_S }),
    env: t.env,
  }))
  const m = appOf(config)
  const apps = appHosts(m).map((h) => h.name)
  const remote = accessoryHosts(m).map((h) => `${h.name} (${h.accessories.join(', ')})`)
  const steps = [
    ...(apps.length
      ? [`on ${apps.join(', ')} over SSH: stop and remove both slots (${m.name}-blue, ${m.name}-green)`]
      : []),
    ...commands.map(
      (c) => `stop and remove ${c.what} (compose project ${c.project}${o.volumes ? ', with its volumes' : ''})`,
    ),
    ...(remote.length
      ? [
          `on ${remote.join(', ')} over SSH: stop and remove the accessories (${m.name}-accessories${o.volumes ? ', with its volumes' : ''})`,
        ]
      : []),
    o.volumes
      ? 'the volumes (database and Redis data) are DELETED; backups in VAR_DIR/backups are kept'
      : 'volumes (database, Redis data), backups and VAR_DIR are kept: a deploy brings the target back',
  ]
  return { steps, commands, volumes: o.volumes }
}

/** Runs the plan (every command printed, not run, under --dry-run); `hosts`: the app's hosts, when it has some. */
export async function executeDown(sh: Shell, plan: DownPlan, hosts?: MultiHost): Promise<string[]> {
  const done: string[] = []
  if (hosts)
    for (const slot of ['blue', 'green'] as const) {
      await removeSlotOnHosts(hosts, slot)
      done.push(`${hosts.project}-${slot} (app hosts)`)
    }
  for (const c of plan.commands) {
    await sh.docker(c.args, {
      env: c.env,
      timeoutMs: DRAIN_S * 1000 + gatewayTimeoutMs(),
      action: `stop ${c.what}`,
    })
    done.push(c.project)
  }
  const remote = hosts ? accessoryHosts(hosts.manifest).map((h) => h.name) : []
  if (hosts && remote.length) {
    await removeAccessoriesOnHosts(hosts, plan.volumes)
    done.push(`${hosts.project}-accessories (${remote.join(', ')})`)
  }
  return done
}

/** What the state says after a tear-down: no slot holds a release, nothing kept warm. */
export function recordDown(s: DeployState, volumes: boolean): void {
  s.slots = { blue: null, green: null }
  s.previous = null
  addHistory(s, { action: 'down', outcome: 'done', detail: volumes ? 'volumes removed' : 'volumes kept' })
}
