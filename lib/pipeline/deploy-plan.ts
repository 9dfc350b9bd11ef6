// Planning a deploy: preflight, recovery of a killed run, the candidate slot, the pending
// migrations (migrate-plan.ts: refusing a contraction unless allowed) and the steps shown to the operator.
import { coreServices } from '../core-stack.ts'
import { planCreate, type CreatePlan } from '../bluegreen.ts'
import { RefusedError } from '../errors.ts'
import { describeSticky } from '../nginx-render.ts'
import { otherSlot, type Slot } from '../model.ts'
import type { DeployPorts } from './adapters.ts'
import type { DeployOptions, DeployPlan } from './deploy-types.ts'
import { backupStep, migrationStep, planMigrations } from './migrate-plan.ts'
import { finishedByRecovery, recoverPending } from './recover.ts'

/** The recorded live release again: "already live" only when its slot really runs it; else point to boot. */
async function refuseRedeployOfLive(p: DeployPorts['platform'], version: string, live: Slot): Promise<never> {
  const status = await p.slotStatus(live)
  if (status.running && status.version === version)
    throw new RefusedError(
      `Can't deploy ${version}: it is already live in ${live}. Nothing was changed.`,
      'To run it again elsewhere, deploy another version; to go back, use rollback-production.',
    )
  throw new RefusedError(
    `Can't deploy ${version}: it is the recorded live release of ${live}, but ${live} does not run it (${status.problems.join(', ') || 'no containers'}). Nothing was changed.`,
    'Bring back what the state records (the core, the live and the warm previous slot): npx zx scripts/boot.ts',
  )
}

/** The recovery of a killed run of this same deploy finished it: a plan with nothing else to do. */
function recoveredPlan(slot: Slot, version: string, preflight: string[], recovered: string[]): DeployPlan {
  const create: CreatePlan = { slot, live: slot, version: version, replaces: null, build: false, steps: [] }
  return {
    version: version,
    slot,
    live: otherSlot(slot),
    liveVersion: version,
    firstDeploy: false,
    create,
    migrations: null,
    migrationsNote: 'none (already done)',
    gradual: [],
    preflight,
    recovered,
    done: true,
    steps: [
      ...recovered,
      `nothing else to do: ${version} is live in ${slot} and verified; record, run hooks/post-deploy, notify`,
    ],
  }
}

export async function planDeploy(ports: DeployPorts, o: DeployOptions): Promise<DeployPlan> {
  const { platform: p, store, ui, config } = ports
  const pre = await ports.preflight()
  const pending = store.read().pending
  const recovered = await recoverPending(p, store, ui, {
    dryRun: ports.dryRun,
    removeOneOffs: (slot) => ports.removeOneOffs(slot),
    verify: {
      verifyMs: o.verifyMs,
      thresholds: config.thresholds,
      keepPreviousMs: config.keepPreviousMs,
      signal: o.signal,
    },
  })
  const after = store.read()
  if (!ports.dryRun && finishedByRecovery(pending, after, o.version))
    return recoveredPlan(pending!.slot!, o.version, pre.lines, recovered)
  const create = await planCreate(p, store, { version: o.version, replace: true, build: o.build })
  const state = store.read()
  const liveVersion = state.live ? (state.slots[state.live]?.version ?? null) : null
  if (liveVersion === o.version) await refuseRedeployOfLive(p, o.version, create.live)
  const { migrations, migrationsNote } = await planMigrations(ports, o, create.slot, pre.coreRunning)
  const switchMode = o.gradual.length
    ? `gradually (${[...o.gradual, 100].join('% → ')}%, ${Math.round(o.stepMs / 1000)}s each; clients split ${describeSticky(config.gradualSticky)})`
    : 'at once'
  const steps = [
    ...recovered,
    `preflight: ${pre.lines.join('; ')}`,
    'run hooks/pre-deploy (if present); a failure stops here with nothing changed',
    pre.coreRunning
      ? 'apply changed nginx settings, if any (validated with nginx -t, reloaded only when they changed)'
      : `start the core services (${coreServices(config).join(', ')}) and prepare the runtime directory`,
    backupStep(config),
    ...create.steps,
    migrationStep(config, o.version, migrationsNote, o.allowContract),
    `smoke-test ${create.slot} through the preview listener: every role, a document round trip, a short load${' '}(error rate and p95 thresholds), hooks/smoke`,
    `switch ${switchMode} from ${create.live}${liveVersion ? ` (${liveVersion})` : ''} to ${create.slot} (${o.version}), verify for ${Math.round(o.verifyMs / 1000)}s, switch back on failure`,
    `record, run hooks/post-deploy, notify; ${create.live} stays warm for an instant rollback`,
  ]
  return {
    version: o.version,
    slot: create.slot,
    live: create.live,
    liveVersion,
    firstDeploy: !pre.coreRunning,
    create,
    migrations,
    migrationsNote,
    gradual: o.gradual,
    preflight: pre.lines,
    recovered,
    steps,
  }
}
