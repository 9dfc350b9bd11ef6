// The phases of one deploy run, in their order: pre-deploy hook, start (metrics, notify, audit), then
// core -> backup -> create the candidate -> migrate -> smoke -> switch with its verification window.
import { executeCreate, executeSwitch, planSwitch } from '../bluegreen.ts'
import { InterruptedError, OperationError, RefusedError } from '../errors.ts'
import type { HookContext, HookName } from '../hooks.ts'
import { deployEvent } from '../notify.ts'
import { releaseOf } from '../db.ts'
import type { Slot } from '../model.ts'
import type { BackupOutcome, DeployPorts } from './adapters.ts'
import { backupRecipe } from '../db-recipe.ts'
import { appOf } from '../manifest/app-model.ts'
import type { DeployOptions, DeployPlan, DeployResult, DeployRun } from './deploy-types.ts'

/** A successful result with nothing done yet (filled in as the phases run). */
export function newResult(plan: DeployPlan, durationMs: number): DeployResult {
  const { version, slot, live } = plan
  return {
    outcome: 'succeeded',
    version,
    slot,
    previous: live,
    backup: null,
    migrationsApplied: [],
    smoke: null,
    switch: null,
    durationMs,
  }
}

/** The shared state of one run: its result so far, how far it got, its hook context and checkpoint. */
export function startRun(
  ports: DeployPorts,
  plan: DeployPlan,
  o: DeployOptions & { signal: AbortSignal },
  started: number,
): DeployRun {
  const { store, ui, config } = ports
  const { version, slot, live } = plan
  const run: DeployRun = {
    ports,
    plan,
    o,
    started,
    result: newResult(plan, 0),
    backup: null,
    created: false,
    switching: false,
    outcome: 'succeeded',
    ctx: (outcome: string): HookContext => ({
      version,
      slot,
      previousSlot: live,
      target: config.target,
      outcome,
      backup: run.backup,
    }),
    hook: async (name: HookName, outcome: string) => {
      const r = await ports.hook(name, run.ctx(outcome))
      if (r.ran && !r.ok) ui.warn(`The ${name} hook failed (${r.detail}); the deploy's outcome stands.`)
      return r
    },
    checkpoint: (step: string) => {
      if (o.signal.aborted)
        throw new InterruptedError(`Can't finish deploying ${version}: interrupted before "${step}"`)
      if (run.created)
        store.update(
          (s) =>
            (s.pending = {
              operation: 'deploy',
              version,
              slot,
              step,
              startedAt: new Date(started).toISOString(),
              pid: process.pid,
            }),
        )
    },
  }
  return run
}

/** hooks/pre-deploy: a failure refuses the deploy with nothing changed. */
export async function runPreDeployHook(run: DeployRun): Promise<void> {
  const { version, slot } = run.plan
  const pre = await run.ports.hook('pre-deploy', run.ctx('pending'))
  if (pre.ran && !pre.ok) {
    run.ports.store.audit({
      action: 'deploy',
      outcome: 'refused',
      version,
      slot,
      detail: `pre-deploy hook: ${pre.detail}`,
    })
    throw new RefusedError(
      `Can't deploy ${version}: the pre-deploy hook failed (${pre.detail}). Nothing was changed.`,
      'See its output above.',
    )
  }
}

/** The deploy starts: the in-progress metric, the "started" notification and audit line. */
export async function announceStart(run: DeployRun): Promise<void> {
  const { ports, plan, started } = run
  const { version, slot, live } = plan
  await ports.metrics((m) => {
    m.inProgress = true
    m.startedS = Math.floor(started / 1000)
  })
  await ports.notify(deployEvent('started', { target: ports.config.target, version, slot, previousSlot: live }))
  ports.store.audit({ action: 'deploy', outcome: 'started', version, slot, detail: `from ${live}` })
}

/** The backup by the app's recipe, when it has one (else none: null); before anything of the release runs. */
export async function runBackupStep(
  ports: Pick<DeployPorts, 'config' | 'ui' | 'backup'>,
  version: string,
): Promise<BackupOutcome | null> {
  const recipe = backupRecipe(appOf(ports.config))
  if (!recipe) {
    ports.ui.info(`No backup: ${appOf(ports.config).name} has no accessory with a backup recipe.`)
    return null
  }
  return ports.ui.step(`Backing up ${recipe.accessory} (${recipe.command.join(' ')})`, () => ports.backup(version))
}

/** The release command of the app, when it has one (else nothing to run); returns what it applied. */
export async function runMigrationStep(
  ports: Pick<DeployPorts, 'config' | 'ui' | 'migrate'>,
  slot: Slot,
  version: string,
  allowContract: boolean,
): Promise<string[]> {
  if (!releaseOf(ports.config)) {
    ports.ui.info('No migrations: the app has no release command.')
    return []
  }
  const applied = await ports.ui.step(`Running the migrations of ${version}`, () =>
    ports.migrate(slot, version, allowContract),
  )
  ports.ui.info(`  migrations applied: ${applied.join(', ') || 'none'}`)
  return applied
}

/** core -> backup -> create -> migrate -> smoke -> switch, each after a checkpoint. */
export async function runPhases(run: DeployRun): Promise<void> {
  const { ports, plan, o, result } = run
  const { platform: p, store, ui, config } = ports
  const { version, slot } = plan
  run.checkpoint('core')
  // on a running stack this applies changed settings: nginx includes validated with nginx -t
  // (reloaded only when they changed, the last good ones restored otherwise), secret files
  await ui.step(
    plan.firstDeploy ? 'Starting the core services' : 'Checking the core services and their configuration',
    () => ports.ensureCore(),
  )
  run.checkpoint('backup')
  result.backup = await runBackupStep(ports, version)
  run.backup = result.backup
  if (result.backup?.file)
    ui.info(
      `  backup: ${result.backup.file} (${result.backup.bytes} bytes, ${result.backup.entries} entries; ${result.backup.pruned} old ones removed)${result.backup.snapshot ? `; off-host copy: restic snapshot ${result.backup.snapshot}` : ''}`,
    )
  run.checkpoint('create')
  await executeCreate(p, store, ui, plan.create, { timeoutMs: o.timeoutMs, signal: o.signal })
  run.created = true
  run.checkpoint('migrate')
  result.migrationsApplied = await runMigrationStep(ports, slot, version, o.allowContract)
  run.checkpoint('smoke')
  await smokeCandidate(run)
  run.checkpoint('switch')
  const sp = await planSwitch(p, store, { to: slot, gradual: o.gradual, continuing: true })
  run.switching = true
  result.switch = await executeSwitch(p, store, ui, sp, {
    stepMs: o.stepMs,
    verifyMs: o.verifyMs,
    thresholds: config.thresholds,
    keepPreviousMs: config.keepPreviousMs,
    signal: o.signal,
  })
}

/** The smoke tests and hooks/smoke against the candidate through the preview listener; a failure stops the deploy. */
async function smokeCandidate(run: DeployRun): Promise<void> {
  const { ports, o } = run
  const { version, slot } = run.plan
  const smoke = await ports.ui.step(`Smoke-testing ${slot} through the preview listener`, async () => {
    const r = await ports.smoke(slot, version, o.signal)
    if (o.signal.aborted)
      throw new InterruptedError(`Can't finish deploying ${version}: interrupted during the smoke tests`)
    const h = await ports.hook('smoke', run.ctx('pending'))
    if (h.ran && !h.ok) r.reasons.push(`hooks/smoke: ${h.detail}`)
    return { ...r, ok: r.reasons.length === 0 }
  })
  run.result.smoke = smoke
  ports.ui.info(
    `  smoke: ${smoke.checks.filter((c) => c.ok).length}/${smoke.checks.length} checks, load ${smoke.load.total} requests, ${((1 - smoke.load.successRate) * 100).toFixed(1)}% errors, p95 ${smoke.load.p95} ms`,
  )
  if (!smoke.ok)
    throw new OperationError(
      `Can't deploy ${version}: the smoke tests failed (${smoke.reasons.slice(0, 4).join('; ')})`,
    )
}
