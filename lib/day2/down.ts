// Tearing a target down: its slots, then its accessories (nginx, PostgreSQL, Redis), each with
// `compose down`; volumes (the database, Redis data) are kept unless asked, backups and VAR_DIR
// always. The plan is pure; the state then records both slots as empty.
import type { Config } from '../config.ts'
import { coreTarget, downArgs, slotTarget, type ComposeTarget, type Shell } from '../compose.ts'
import { gatewayTimeoutMs } from '../gateway.ts'
import type { DeployState } from '../model.ts'
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
    config.target === 'production' ? 'the accessories (nginx, PostgreSQL, Redis)' : 'the staging stack',
    coreTarget(config),
  ])
  const commands = targets.map(([what, t]) => ({
    what,
    project: t.project,
    args: downArgs(t, { volumes: o.volumes, timeoutS: DRAIN_S }),
    env: t.env,
  }))
  const steps = [
    ...commands.map(
      (c) => `stop and remove ${c.what} (compose project ${c.project}${o.volumes ? ', with its volumes' : ''})`,
    ),
    o.volumes
      ? 'the volumes (database and Redis data) are DELETED; backups in VAR_DIR/backups are kept'
      : 'volumes (database, Redis data), backups and VAR_DIR are kept: a deploy brings the target back',
  ]
  return { steps, commands, volumes: o.volumes }
}

/** Runs the plan (every command printed, not run, under --dry-run). */
export async function executeDown(sh: Shell, plan: DownPlan): Promise<string[]> {
  const done: string[] = []
  for (const c of plan.commands) {
    await sh.docker(c.args, {
      env: c.env,
      timeoutMs: DRAIN_S * 1000 + gatewayTimeoutMs(),
      action: `stop ${c.what}`,
    })
    done.push(c.project)
  }
  return done
}

/** What the state says after a tear-down: no slot holds a release, nothing kept warm. */
export function recordDown(s: DeployState, volumes: boolean): void {
  s.slots = { blue: null, green: null }
  s.previous = null
  addHistory(s, { action: 'down', outcome: 'done', detail: volumes ? 'volumes removed' : 'volumes kept' })
}
