// How a deploy run ends: a failure (candidate removed or traffic back on the old slot, history, audit,
// hooks, notification, the error to throw), a success (record, post-deploy hook, notify), the final metrics,
// and a run finished by the recovery of a killed one.
import { InterruptedError, OperationError, ToolkitError, errorMessage } from '../errors.ts'
import { addHistory } from '../model.ts'
import { deployEvent } from '../notify.ts'
import { cleanupError, removeCandidate } from '../safety.ts'
import type { DeployPorts } from './adapters.ts'
import { newResult } from './deploy-run.ts'
import type { DeployPlan, DeployResult, DeployRun } from './deploy-types.ts'

type Removal = Awaited<ReturnType<typeof removeCandidate>>

/** After a failure or a signal: undo what the run changed, record and tell it; throws the error to report. */
export async function failDeploy(run: DeployRun, err: unknown): Promise<never> {
  const { o, plan } = run
  const { version, slot, live } = plan
  const interrupted = o.signal.aborted || err instanceof InterruptedError
  const routedToNew = run.ports.platform.readRouting().live === slot && !run.ports.platform.dryRun
  const removal = await settleFailure(run, routedToNew)
  await recordFailure(run, err, interrupted, removal)
  const backupHint = run.result.backup?.file
    ? ` The database backup taken before is ${run.result.backup.file} (never restored automatically).`
    : ''
  if (removal && !removal.removed) throw cleanupError(`${errorMessage(err)}${backupHint}`, slot, removal)
  if (interrupted) {
    const where = routedToNew
      ? `${slot} is live`
      : run.switching
        ? `traffic is back on ${live}; ${slot} (${version}) is still running for inspection`
        : `the candidate was removed and ${live} keeps serving`
    throw new InterruptedError(`Can't finish deploying ${version}: interrupted; ${where}.${backupHint}`)
  }
  if (err instanceof ToolkitError) {
    err.message = `${err.message.replace(/\.$/, '')}.${run.outcome === 'failed' && run.created ? ` The candidate was removed; ${live} keeps serving.` : ''}${backupHint}`
    throw err
  }
  throw new OperationError(
    `Can't deploy ${version}: ${errorMessage(err)}. ${live} keeps serving.${backupHint}`,
    '',
    err,
  )
}

/** The run's outcome, and the candidate removed when the failure came before the switch. */
async function settleFailure(run: DeployRun, routedToNew: boolean): Promise<Removal | null> {
  const { ports } = run
  const { store, ui, platform: p } = ports
  const { version, slot, live } = run.plan
  let removal: Removal | null = null
  if (run.switching && !routedToNew) {
    // executeSwitch sent every request back to the old slot (a failed step or verification, or a
    // signal): the candidate stays for inspection; dms_rollbacks_total was counted when it went back
    run.outcome = 'rolled_back'
  } else if (!routedToNew) {
    run.outcome = 'failed'
    // before the switch: the candidate goes, the live slot keeps serving
    if (run.created) {
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
  } else run.outcome = 'failed'
  if (!run.created && !run.switching)
    store.update((s) => {
      s.pending = null
    })
  return removal
}

/** History, audit, the on-rollback or on-failure hook and the notification of a failed run. */
async function recordFailure(
  run: DeployRun,
  err: unknown,
  interrupted: boolean,
  removal: Removal | null,
): Promise<void> {
  const { ports, started } = run
  const { store } = ports
  const { version, slot, live } = run.plan
  const what = removal && !removal.removed ? 'cleanup_failed' : interrupted ? 'interrupted' : run.outcome
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
  await run.hook(run.outcome === 'rolled_back' && !interrupted ? 'on-rollback' : 'on-failure', what)
  await ports.notify(
    deployEvent(interrupted ? 'interrupted' : run.outcome === 'rolled_back' ? 'rolled_back' : 'failed', {
      target: ports.config.target,
      version,
      slot,
      previousSlot: live,
      detail: errorMessage(err).slice(0, 500),
      durationMs: Date.now() - started,
    }),
  )
}

/** A verified release: history, audit, the metrics, hooks/post-deploy and the notification. */
export async function recordSuccess(run: DeployRun): Promise<DeployResult> {
  const { ports, o, result, started } = run
  const { store } = ports
  const { version, slot, live } = run.plan
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
  await run.hook('post-deploy', 'succeeded')
  await ports.notify(
    deployEvent('succeeded', {
      target: ports.config.target,
      version,
      slot,
      previousSlot: live,
      durationMs: result.durationMs,
    }),
  )
  return result
}

/** Whatever the outcome: no deploy in progress, its count and duration, the live slot nginx routes to. */
export async function finalMetrics(run: DeployRun): Promise<void> {
  const p = run.ports.platform
  await run.ports.metrics((m) => {
    m.inProgress = false
    m.total[run.outcome] += 1
    m.durationS = Math.round((Date.now() - run.started) / 100) / 10
    if (run.outcome !== 'succeeded') m.live = p.dryRun ? m.live : p.readRouting().live
  })
}

/** A killed run of this deploy was verified again by the recovery: record it as done. */
export async function finishRecovered(ports: DeployPorts, plan: DeployPlan, started: number): Promise<DeployResult> {
  const { store, config } = ports
  const { version, slot, live } = plan
  const result = newResult(plan, Date.now() - started)
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
