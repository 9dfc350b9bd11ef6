// The production pipeline: preflight, recovery of a killed run, plan, then
//   pre-deploy hook -> core -> backup -> create the candidate -> migrate -> smoke -> switch
//   (with the verification window) -> record, hooks, notify, metrics.
// Before the switch any failure or signal removes the candidate and the live slot keeps serving.
// From the first gradual step until the verification has passed, any failure or signal sends every
// request back to the old slot and keeps the candidate running for inspection: a release stays live
// only once it is verified.
import {
  executeCreate,
  executeSwitch,
  planCreate,
  planSwitch,
  type CreatePlan,
  type SwitchResult,
} from '../bluegreen.ts'
import { addHistory, otherSlot, type Slot } from '../model.ts'
import type { PendingMigrations } from '../db.ts'
import { InterruptedError, OperationError, RefusedError, ToolkitError, errorMessage } from '../errors.ts'
import type { HookContext, HookName } from '../hooks.ts'
import { deployEvent } from '../notify.ts'
import type { SmokeReport } from '../smoke.ts'
import type { DeployOutcome } from '../deploy-metrics.ts'
import type { BackupOutcome, DeployPorts } from './adapters.ts'
import { finishedByRecovery, recoverPending } from './recover.ts'
import { cleanupError, removeCandidate } from '../safety.ts'

export type DeployOptions = {
  version: string
  build: boolean
  gradual: number[]
  stepMs: number
  verifyMs: number
  allowContract: boolean
  timeoutMs: number
  /** stops a recovery's verification early (the deploy itself gets its signal at execute) */
  signal?: AbortSignal
}

export type DeployPlan = {
  version: string
  slot: Slot
  live: Slot
  liveVersion: string | null
  firstDeploy: boolean
  create: CreatePlan
  migrations: PendingMigrations | null
  migrationsNote: string
  gradual: number[]
  preflight: string[]
  recovered: string[]
  steps: string[]
  /** the recovery of a killed run of this same deploy finished it: nothing else to do */
  done?: boolean
}

export type DeployResult = {
  outcome: 'succeeded' | 'interrupted'
  version: string
  slot: Slot
  previous: Slot
  backup: BackupOutcome | null
  migrationsApplied: string[]
  smoke: SmokeReport | null
  switch: SwitchResult | null
  durationMs: number
}

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

function describeMigrations(m: PendingMigrations): string {
  if (!m.pending.length) return 'none pending'
  return m.pending.map((x) => `${x.file}${x.contract ? ' (CONTRACT)' : ''}`).join(', ')
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
  if (!ports.dryRun && finishedByRecovery(pending, after, o.version)) {
    const slot = pending!.slot!
    const create: CreatePlan = { slot, live: slot, version: o.version, replaces: null, build: false, steps: [] }
    return {
      version: o.version,
      slot,
      live: otherSlot(slot),
      liveVersion: o.version,
      firstDeploy: false,
      create,
      migrations: null,
      migrationsNote: 'none (already done)',
      gradual: [],
      preflight: pre.lines,
      recovered,
      done: true,
      steps: [
        ...recovered,
        `nothing else to do: ${o.version} is live in ${slot} and verified; record, run hooks/post-deploy, notify`,
      ],
    }
  }
  const create = await planCreate(p, store, { version: o.version, replace: true, build: o.build })
  const state = store.read()
  const liveVersion = state.live ? (state.slots[state.live]?.version ?? null) : null
  if (liveVersion === o.version) await refuseRedeployOfLive(p, o.version, create.live)
  let migrations: PendingMigrations | null = null
  let migrationsNote: string
  if (!pre.coreRunning)
    migrationsNote = 'every migration of the release (the database starts empty or is started first)'
  else if (o.build && !(await p.imageAvailable(o.version))) migrationsNote = 'listed after the image is built'
  else {
    migrations = await ports.listPending(create.slot, o.version)
    migrationsNote = describeMigrations(migrations)
    if (migrations.contract && !o.allowContract)
      throw new RefusedError(
        `Can't deploy ${o.version}: its migrations contract the schema (${migrations.pending
          .filter((m) => m.contract)
          .map((m) => m.file)
          .join(', ')}); the live release may still use what they remove. Nothing was changed.`,
        'Migrations are expand-only by default. Ship the contraction once no live release needs the old schema, with --allow-contract.',
      )
  }
  const switchMode = o.gradual.length
    ? `gradually (${[...o.gradual, 100].join('% → ')}%, ${Math.round(o.stepMs / 1000)}s each)`
    : 'at once'
  const steps = [
    ...recovered,
    `preflight: ${pre.lines.join('; ')}`,
    'run hooks/pre-deploy (if present); a failure stops here with nothing changed',
    pre.coreRunning
      ? 'apply changed nginx settings, if any (validated with nginx -t, reloaded only when they changed)'
      : 'start the core services (nginx, postgres, redis) and prepare the runtime directory',
    `back up the database with pg_dump -Fc to ${config.varDir}/backups (kept: newest ${config.backup.keepCount}, at most ${config.backup.keepDays} days), verified by pg_restore --list`,
    ...create.steps,
    `migrate with ${o.version}'s migrate.js in a one-off container: ${migrationsNote}${o.allowContract ? ' (contracting allowed)' : ' (expand-only)'}`,
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

export async function executeDeploy(
  ports: DeployPorts,
  plan: DeployPlan,
  o: DeployOptions & { signal: AbortSignal },
): Promise<DeployResult> {
  const { platform: p, store, ui, config } = ports
  const started = Date.now()
  const { version, slot, live } = plan
  const target = config.target
  // the backup, once taken, is handed to the hooks after it (set below, when result exists)
  let backup: HookContext['backup'] = null
  const ctx = (outcome: string): HookContext => ({ version, slot, previousSlot: live, target, outcome, backup })
  const hook = async (name: HookName, outcome: string) => {
    const r = await ports.hook(name, ctx(outcome))
    if (r.ran && !r.ok) ui.warn(`The ${name} hook failed (${r.detail}); the deploy's outcome stands.`)
    return r
  }

  if (plan.done) return finishRecovered(ports, plan, started)
  const pre = await ports.hook('pre-deploy', ctx('pending'))
  if (pre.ran && !pre.ok) {
    store.audit({ action: 'deploy', outcome: 'refused', version, slot, detail: `pre-deploy hook: ${pre.detail}` })
    throw new RefusedError(
      `Can't deploy ${version}: the pre-deploy hook failed (${pre.detail}). Nothing was changed.`,
      'See its output above.',
    )
  }

  const result: DeployResult = {
    outcome: 'succeeded',
    version,
    slot,
    previous: live,
    backup: null,
    migrationsApplied: [],
    smoke: null,
    switch: null,
    durationMs: 0,
  }
  await ports.metrics((m) => {
    m.inProgress = true
    m.startedS = Math.floor(started / 1000)
  })
  await ports.notify(deployEvent('started', { target, version, slot, previousSlot: live }))
  store.audit({ action: 'deploy', outcome: 'started', version, slot, detail: `from ${live}` })

  let created = false
  let switching = false
  const checkpoint = (step: string) => {
    if (o.signal.aborted) throw new InterruptedError(`Can't finish deploying ${version}: interrupted before "${step}"`)
    if (created)
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
  }
  let outcome: DeployOutcome = 'succeeded'
  try {
    try {
      checkpoint('core')
      // on a running stack this applies changed settings: nginx includes validated with nginx -t
      // (reloaded only when they changed, the last good ones restored otherwise), secret files
      await ui.step(
        plan.firstDeploy ? 'Starting the core services' : 'Checking the core services and their configuration',
        () => ports.ensureCore(),
      )
      checkpoint('backup')
      result.backup = await ui.step('Backing up the database (pg_dump -Fc)', () => ports.backup(version))
      backup = result.backup
      if (result.backup.file)
        ui.info(
          `  backup: ${result.backup.file} (${result.backup.bytes} bytes, ${result.backup.entries} entries; ${result.backup.pruned} old ones removed)${result.backup.snapshot ? `; off-host copy: restic snapshot ${result.backup.snapshot}` : ''}`,
        )
      checkpoint('create')
      await executeCreate(p, store, ui, plan.create, { timeoutMs: o.timeoutMs, signal: o.signal })
      created = true
      checkpoint('migrate')
      result.migrationsApplied = await ui.step(`Running the migrations of ${version}`, () =>
        ports.migrate(slot, version, o.allowContract),
      )
      ui.info(`  migrations applied: ${result.migrationsApplied.join(', ') || 'none'}`)
      checkpoint('smoke')
      const smoke = await ui.step(`Smoke-testing ${slot} through the preview listener`, async () => {
        const r = await ports.smoke(slot, version, o.signal)
        if (o.signal.aborted)
          throw new InterruptedError(`Can't finish deploying ${version}: interrupted during the smoke tests`)
        const h = await ports.hook('smoke', ctx('pending'))
        if (h.ran && !h.ok) r.reasons.push(`hooks/smoke: ${h.detail}`)
        return { ...r, ok: r.reasons.length === 0 }
      })
      result.smoke = smoke
      ui.info(
        `  smoke: ${smoke.checks.filter((c) => c.ok).length}/${smoke.checks.length} checks, load ${smoke.load.total} requests, ${((1 - smoke.load.successRate) * 100).toFixed(1)}% errors, p95 ${smoke.load.p95} ms`,
      )
      if (!smoke.ok)
        throw new OperationError(
          `Can't deploy ${version}: the smoke tests failed (${smoke.reasons.slice(0, 4).join('; ')})`,
        )
      checkpoint('switch')
      const sp = await planSwitch(p, store, { to: slot, gradual: o.gradual, continuing: true })
      switching = true
      result.switch = await executeSwitch(p, store, ui, sp, {
        stepMs: o.stepMs,
        verifyMs: o.verifyMs,
        thresholds: config.thresholds,
        keepPreviousMs: config.keepPreviousMs,
        signal: o.signal,
      })
    } catch (err) {
      const interrupted = o.signal.aborted || err instanceof InterruptedError
      const routedToNew = p.readRouting().live === slot && !p.dryRun
      let removal: Awaited<ReturnType<typeof removeCandidate>> | null = null
      if (switching && !routedToNew) {
        // executeSwitch sent every request back to the old slot (a failed step or verification, or a
        // signal): the candidate stays for inspection; dms_rollbacks_total was counted when it went back
        outcome = 'rolled_back'
      } else if (!routedToNew) {
        outcome = 'failed'
        // before the switch: the candidate goes, the live slot keeps serving
        if (created) {
          removal = await removeCandidate(p, store, ui, {
            slot,
            version,
            live,
            removeOneOffs: (s) => ports.removeOneOffs(s),
          })
          if (removal.removed)
            store.update((s) => {
              s.pending = null
            })
        }
      } else outcome = 'failed'
      if (!created && !switching)
        store.update((s) => {
          s.pending = null
        })
      const what = removal && !removal.removed ? 'cleanup_failed' : interrupted ? 'interrupted' : outcome
      store.update((s) =>
        addHistory(s, {
          action: 'deploy',
          outcome: what,
          version,
          from: live,
          to: slot,
          detail: errorMessage(err).slice(0, 300),
        }),
      )
      store.audit({
        action: 'deploy',
        outcome: what,
        version,
        slot,
        durationMs: Date.now() - started,
        detail: errorMessage(err),
      })
      await hook(outcome === 'rolled_back' && !interrupted ? 'on-rollback' : 'on-failure', what)
      await ports.notify(
        deployEvent(interrupted ? 'interrupted' : outcome === 'rolled_back' ? 'rolled_back' : 'failed', {
          target,
          version,
          slot,
          previousSlot: live,
          detail: errorMessage(err).slice(0, 500),
          durationMs: Date.now() - started,
        }),
      )
      const backupHint = result.backup?.file
        ? ` The database backup taken before is ${result.backup.file} (never restored automatically).`
        : ''
      if (removal && !removal.removed) throw cleanupError(`${errorMessage(err)}${backupHint}`, slot, removal)
      if (interrupted) {
        const where = routedToNew
          ? `${slot} is live`
          : switching
            ? `traffic is back on ${live}; ${slot} (${version}) is still running for inspection`
            : `the candidate was removed and ${live} keeps serving`
        throw new InterruptedError(`Can't finish deploying ${version}: interrupted; ${where}.${backupHint}`)
      }
      if (err instanceof ToolkitError) {
        err.message = `${err.message.replace(/\.$/, '')}.${outcome === 'failed' && created ? ` The candidate was removed; ${live} keeps serving.` : ''}${backupHint}`
        throw err
      }
      throw new OperationError(
        `Can't deploy ${version}: ${errorMessage(err)}. ${live} keeps serving.${backupHint}`,
        '',
        err,
      )
    }
    result.durationMs = Date.now() - started
    result.outcome = o.signal.aborted ? 'interrupted' : 'succeeded'
    store.update((s) =>
      addHistory(s, {
        action: 'deploy',
        outcome: result.outcome,
        version,
        from: live,
        to: slot,
        detail: `${Math.round(result.durationMs / 1000)}s`,
      }),
    )
    store.audit({
      action: 'deploy',
      outcome: result.outcome,
      version,
      slot,
      durationMs: result.durationMs,
      detail: `from ${live}`,
    })
    await ports.metrics((m) => {
      m.lastSuccessS = Math.floor(Date.now() / 1000)
      m.live = slot
    })
    await hook('post-deploy', 'succeeded')
    await ports.notify(
      deployEvent('succeeded', { target, version, slot, previousSlot: live, durationMs: result.durationMs }),
    )
    return result
  } finally {
    await ports.metrics((m) => {
      m.inProgress = false
      m.total[outcome] += 1
      m.durationS = Math.round((Date.now() - started) / 100) / 10
      if (outcome !== 'succeeded') m.live = p.dryRun ? m.live : p.readRouting().live
    })
  }
}

/** A killed run of this deploy was verified again by the recovery: record it as done. */
async function finishRecovered(ports: DeployPorts, plan: DeployPlan, started: number): Promise<DeployResult> {
  const { store, config } = ports
  const { version, slot, live } = plan
  const result: DeployResult = {
    outcome: 'succeeded',
    version,
    slot,
    previous: live,
    backup: null,
    migrationsApplied: [],
    smoke: null,
    switch: null,
    durationMs: Date.now() - started,
  }
  store.update((s) =>
    addHistory(s, {
      action: 'deploy',
      outcome: 'succeeded',
      version,
      from: live,
      to: slot,
      detail: 'finished by the recovery of a killed run',
    }),
  )
  store.audit({
    action: 'deploy',
    outcome: 'succeeded',
    version,
    slot,
    durationMs: result.durationMs,
    detail: 'finished by the recovery of a killed run',
  })
  await ports.metrics((m) => {
    m.total.succeeded += 1
    m.lastSuccessS = Math.floor(Date.now() / 1000)
    m.live = slot
  })
  const r = await ports.hook('post-deploy', {
    version,
    slot,
    previousSlot: live,
    target: config.target,
    outcome: 'succeeded',
  })
  if (r.ran && !r.ok) ports.ui.warn(`The post-deploy hook failed (${r.detail}); the deploy's outcome stands.`)
  await ports.notify(
    deployEvent('succeeded', {
      target: config.target,
      version,
      slot,
      previousSlot: live,
      durationMs: result.durationMs,
    }),
  )
  return result
}
