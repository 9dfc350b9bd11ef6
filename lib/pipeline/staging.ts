// The staging pipeline, written against StagingPorts (lib/pipeline/adapters.ts) like production's:
// pre-deployment checks (STAGING_CHECKS, run without a shell), config validation, then a
// single-slot deploy of the staging compose file with --wait, migrations, health validation
// through the public listener, smoke tests, record. A failed check stops before anything changes.
import { imageRef } from '../compose.ts'
import type { PendingMigrations } from '../db.ts'
import { OperationError, RefusedError, UsageError, errorMessage } from '../errors.ts'
import type { HookName } from '../hooks.ts'
import { deployEvent } from '../notify.ts'
import type { SmokeReport } from '../smoke.ts'
import { addHistory } from '../model.ts'
import { whoami } from '../who.ts'
import type { StagingPorts } from './adapters.ts'
import { runMigrationStep } from './deploy-run.ts'
import { describeMigrations, migrationStep } from './migrate-plan.ts'

const SHELL_ONLY = /[|&;<>()$`\\*?~{}[\]]/

/**
 * Splits one check into argv: words separated by blanks, '…' and "…" quote. Shell syntax
 * (pipes, redirections, variables, globs) is refused: checks run without a shell.
 */
export function splitCommand(text: string): string[] {
  const out: string[] = []
  let cur = ''
  let quote: '"' | "'" | null = null
  let has = false
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null
      else cur += ch
    } else if (ch === '"' || ch === "'") {
      quote = ch
      has = true
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur)
      cur = ''
      has = false
    } else {
      if (SHELL_ONLY.test(ch))
        throw new UsageError(
          `Can't run the staging check "${text}": "${ch}" is shell syntax, and checks run without a shell`,
          'Put the pipeline in a script (e.g. scripts/check.sh) and name that in STAGING_CHECKS.',
        )
      cur += ch
    }
  }
  if (quote) throw new UsageError(`Can't run the staging check "${text}": an unclosed ${quote}`)
  if (has || cur) out.push(cur)
  return out
}

export type StagingOptions = {
  version: string
  build: boolean
  skipChecks: boolean
  timeoutMs: number
  signal: AbortSignal
}

export type StagingPlan = {
  version: string
  checks: string[][]
  running: string | null
  migrations: PendingMigrations | null
  steps: string[]
}

export type StagingResult = {
  checks: Array<{ command: string; ms: number }>
  migrationsApplied: string[]
  smoke: SmokeReport
  durationMs: number
}

/** A hook of the staging deploy (slot blue); a failed one warns, except pre-deploy, which refuses. */
async function hook(ports: StagingPorts, name: HookName, version: string, outcome: string) {
  const { config, ui } = ports
  const r = await ports.hook(name, { version, slot: 'blue', previousSlot: null, target: config.target, outcome })
  if (r.ran && !r.ok && name !== 'pre-deploy') ui.warn(`The ${name} hook failed (${r.detail}).`)
  return r
}

export async function planStaging(ports: StagingPorts, o: StagingOptions): Promise<StagingPlan> {
  const { config, platform } = ports
  const checks = o.skipChecks ? [] : config.stagingChecks.map(splitCommand)
  const pre = await ports.preflight()
  if (!o.build && !(await platform.imageAvailable(o.version)))
    throw new RefusedError(
      `Can't deploy ${o.version} to staging: ${imageRef(config, o.version)} is not on this host. Nothing was changed.`,
      'Build it with --build, or load the image first.',
    )
  const running = (await platform.slotStatus('blue')).version
  let migrations: PendingMigrations | null = null
  if (pre.coreRunning && !(o.build && !(await platform.imageAvailable(o.version))))
    migrations = await ports.listPending('blue', o.version)
  const steps = [
    ...(o.skipChecks ? ['skip the pre-deployment checks (--skip-checks)'] : checks.map((c) => `check: ${c.join(' ')}`)),
    `preflight: ${pre.lines.join('; ')}`,
    ...(o.build ? [`build ${imageRef(config, o.version)}`] : []),
    `validate the configuration (docker compose config) and prepare ${config.varDir}`,
    `deploy ${o.version} to ${config.composeProject}${running ? ` (replacing ${running} in place)` : ''} and wait until every service is healthy`,
    migrationStep(
      config,
      o.version,
      migrations ? describeMigrations(migrations) : pre.coreRunning ? 'not listed' : 'every migration of the release',
      false,
    ),
    'validate health through the public listener (every service answers its readiness path)',
    "smoke tests: the manifest's smoke checks, a short load",
    'record, run hooks/post-deploy, notify',
  ]
  return { version: o.version, checks, running, migrations, steps }
}

async function runChecks(
  ports: StagingPorts,
  checks: string[][],
  signal: AbortSignal,
): Promise<Array<{ command: string; ms: number }>> {
  const { ui, dryRun } = ports
  const done: Array<{ command: string; ms: number }> = []
  for (const argv of checks) {
    if (signal.aborted)
      throw new RefusedError("Can't deploy to staging: interrupted during the checks. Nothing was changed.")
    const command = argv.join(' ')
    const started = Date.now()
    await ui.step(`Check: ${command}`, async () => {
      if (dryRun) return
      const r = await ports.runCheck(argv)
      if (!r.ok) {
        const out = ui.mask(r.output.trim().split('\n').slice(-15).join('\n'))
        throw new RefusedError(
          `Can't deploy to staging: the check "${command}" failed (exit ${r.code}). Nothing was changed.${out ? `\n${out}` : ''}`,
          'Fix it, or skip the checks with --skip-checks.',
        )
      }
    })
    done.push({ command, ms: Date.now() - started })
  }
  return done
}

/** Records a failed deploy everywhere it is seen (state, audit, hook, notification, metrics), then rethrows. */
async function fail(ports: StagingPorts, o: StagingOptions, started: number, err: unknown): Promise<never> {
  const { config, store } = ports
  const detail = errorMessage(err)
  store.update((s) =>
    addHistory(s, {
      action: 'deploy',
      outcome: 'failed',
      version: o.version,
      to: 'blue',
      detail: detail.slice(0, 300),
    }),
  )
  store.audit({
    action: 'deploy',
    outcome: 'failed',
    version: o.version,
    slot: 'blue',
    durationMs: Date.now() - started,
    detail,
  })
  await hook(ports, 'on-failure', o.version, 'failed')
  await ports.notify(
    deployEvent('failed', { target: config.target, version: o.version, slot: 'blue', detail: detail.slice(0, 500) }),
  )
  await ports.metrics((m) => {
    m.total.failed += 1
  })
  throw err
}

/** Build, prepare, deploy, migrate, validate, smoke: the changing part; throws on the first failure. */
async function deploy(
  ports: StagingPorts,
  o: StagingOptions,
): Promise<{ migrationsApplied: string[]; smoke: SmokeReport }> {
  const { config, ui, dryRun, platform } = ports
  if (o.build) await ui.step(`Building ${imageRef(config, o.version)}`, () => platform.buildImage(o.version))
  await ui.step('Validating the configuration and preparing the runtime directory', () => ports.prepare(o.version))
  if (o.signal.aborted)
    throw new RefusedError(`Can't deploy ${o.version} to staging: interrupted before the deploy. Nothing was changed.`)
  await ui.step(`Deploying ${o.version} to ${config.composeProject} and waiting until healthy`, () =>
    ports.up(o.version, o.timeoutMs),
  )
  const migrationsApplied = await runMigrationStep(ports, 'blue', o.version, false)
  await ui.step('Validating health through the public listener', async () => {
    const r = await ports.validateHealth(o.version, o.timeoutMs, o.signal)
    if (!r.ok) throw new OperationError(`Can't validate ${o.version} on staging: ${r.detail}`)
  })
  const smoke = dryRun
    ? await ports.smoke(o.version, o.signal)
    : await ui.step('Smoke-testing staging', () => ports.smoke(o.version, o.signal))
  const sh = await hook(ports, 'smoke', o.version, 'pending')
  if (sh.ran && !sh.ok) smoke.reasons.push(`hooks/smoke: ${sh.detail}`)
  ui.info(
    `  smoke: ${smoke.checks.filter((c) => c.ok).length}/${smoke.checks.length} checks, load ${smoke.load.total} requests, p95 ${smoke.load.p95} ms`,
  )
  if (smoke.reasons.length)
    throw new OperationError(
      `Can't deploy ${o.version} to staging: the smoke tests failed (${smoke.reasons.slice(0, 4).join('; ')}). ${o.version} is running on staging for inspection.`,
    )
  return { migrationsApplied, smoke }
}

async function record(ports: StagingPorts, o: StagingOptions, durationMs: number): Promise<void> {
  const { config, store } = ports
  store.update((s) => {
    const release = {
      version: o.version,
      slot: 'blue' as const,
      deployedAt: new Date().toISOString(),
      deployedBy: whoami().user,
    }
    s.live = 'blue'
    s.slots.blue = release
    s.releases.push(release)
    s.pending = null
    addHistory(s, { action: 'deploy', outcome: 'succeeded', version: o.version, to: 'blue' })
  })
  store.audit({ action: 'deploy', outcome: 'succeeded', version: o.version, slot: 'blue', durationMs })
  await ports.metrics((m) => {
    m.total.succeeded += 1
    m.lastSuccessS = Math.floor(Date.now() / 1000)
    m.durationS = Math.round(durationMs / 100) / 10
    m.live = 'blue'
  })
  await hook(ports, 'post-deploy', o.version, 'succeeded')
  await ports.notify(deployEvent('succeeded', { target: config.target, version: o.version, slot: 'blue', durationMs }))
}

export async function executeStaging(
  ports: StagingPorts,
  plan: StagingPlan,
  o: StagingOptions,
): Promise<StagingResult> {
  const { config, dryRun } = ports
  const started = Date.now()
  const checks = await runChecks(ports, plan.checks, o.signal)
  const pre = await hook(ports, 'pre-deploy', o.version, 'pending')
  if (pre.ran && !pre.ok)
    throw new RefusedError(
      `Can't deploy ${o.version} to staging: the pre-deploy hook failed (${pre.detail}). Nothing was changed.`,
    )
  await ports.notify(deployEvent('started', { target: config.target, version: o.version, slot: 'blue' }))
  let done: { migrationsApplied: string[]; smoke: SmokeReport }
  try {
    done = await deploy(ports, o)
  } catch (err) {
    return fail(ports, o, started, err)
  }
  const durationMs = Date.now() - started
  if (!dryRun) await record(ports, o, durationMs)
  return { checks, ...done, durationMs }
}

/** The staging pipeline bound to its adapters: plan, then execute. */
export function createStaging(ports: StagingPorts) {
  return {
    plan: (o: StagingOptions) => planStaging(ports, o),
    execute: (plan: StagingPlan, o: StagingOptions) => executeStaging(ports, plan, o),
  }
}
