// The staging pipeline: pre-deployment checks (STAGING_CHECKS, run without a shell), config
// validation, then a single-slot deploy of the staging compose file with --wait, migrations,
// health validation through the public listener, smoke tests, record. A failed check stops
// before anything changes.
import { whoami } from '../who.ts'
import type { Paths } from '../paths.ts'
import { addHistory, type Store } from '../model.ts'
import type { Config } from '../config.ts'
import { configArgs, createShell, imageRef, slotTarget, upArgs, type Shell } from '../compose.ts'
import { listPending, runMigrations, type PendingMigrations } from '../db.ts'
import { OperationError, RefusedError, UsageError, errorMessage } from '../errors.ts'
import { run } from '../gateway.ts'
import { hooksDir, runHook, type HookName } from '../hooks.ts'
import { applyIncludes, nginxSettings } from '../nginx.ts'
import { deployEvent, sendNotification } from '../notify.ts'
import { createPlatform } from '../platform.ts'
import { waitHealthy } from '../probe.ts'
import { checkRoles, runSmoke, smokeUrl, type SmokeReport } from '../smoke.ts'
import { coreRunning } from '../stack.ts'
import { prepareRuntime } from '../stackfiles.ts'
import type { Printer } from '../ui.ts'
import { updateDeployMetrics } from '../deploy-metrics.ts'
import { preflightChecks } from './ports.ts'

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

export function createStaging(config: Config, paths: Paths, ui: Printer, store: Store, dryRun: boolean) {
  const sh: Shell = createShell(ui, { dryRun })
  const platform = createPlatform(config, paths, ui, { dryRun, shell: sh })
  const hook = async (name: HookName, version: string, outcome: string) => {
    if (dryRun) return
    const r = await runHook(
      name,
      { version, slot: 'blue', previousSlot: null, target: config.target, outcome },
      { dir: hooksDir(config), ui, cwd: config.root },
    )
    if (r.ran && !r.ok && name !== 'pre-deploy') ui.warn(`The ${name} hook failed (${r.detail}).`)
    return r
  }

  async function plan(o: StagingOptions): Promise<StagingPlan> {
    const checks = o.skipChecks ? [] : config.stagingChecks.map(splitCommand)
    const pre = await preflightChecks(sh, config, paths)
    for (const w of pre.warnings) ui.warn(`Preflight warning: ${w}`)
    if (!o.build && !(await platform.imageAvailable(o.version)))
      throw new RefusedError(
        `Can't deploy ${o.version} to staging: ${imageRef(config, o.version)} is not on this host. Nothing was changed.`,
        'Build it with --build, or load the image first.',
      )
    const status = await platform.slotStatus('blue')
    const running = status.version
    let migrations: PendingMigrations | null = null
    if (pre.coreRunning && !(o.build && !(await platform.imageAvailable(o.version))))
      migrations = await listPending(sh, config, 'blue', o.version)
    const steps = [
      ...(o.skipChecks
        ? ['skip the pre-deployment checks (--skip-checks)']
        : checks.map((c) => `check: ${c.join(' ')}`)),
      `preflight: ${pre.lines.join('; ')}`,
      ...(o.build ? [`build ${imageRef(config, o.version)}`] : []),
      `validate the configuration (docker compose config) and prepare ${config.varDir}`,
      `deploy ${o.version} to ${config.composeProject}${running ? ` (replacing ${running} in place)` : ''} and wait until every service is healthy`,
      `migrate: ${migrations ? migrations.pending.map((m) => m.file).join(', ') || 'none pending' : 'every migration of the release'}`,
      'validate health through the public listener (every role answers with the new version)',
      'smoke tests: every role, a document round trip, a short load',
      'record, run hooks/post-deploy, notify',
    ]
    return { version: o.version, checks, running, migrations, steps }
  }

  async function runChecks(checks: string[][], signal: AbortSignal): Promise<Array<{ command: string; ms: number }>> {
    const done: Array<{ command: string; ms: number }> = []
    for (const argv of checks) {
      if (signal.aborted)
        throw new RefusedError("Can't deploy to staging: interrupted during the checks. Nothing was changed.")
      const command = argv.join(' ')
      const started = Date.now()
      await ui.step(`Check: ${command}`, async () => {
        if (dryRun) return
        const r = await run(argv[0]!, argv.slice(1), {
          cwd: config.root,
          nothrow: true,
          timeoutMs: 30 * 60_000,
          action: `run the check ${command}`,
        })
        if (!r.ok) {
          const out = ui.mask((r.stdout + r.stderr).trim().split('\n').slice(-15).join('\n'))
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

  async function execute(plan: StagingPlan, o: StagingOptions): Promise<StagingResult> {
    const started = Date.now()
    const checks = await runChecks(plan.checks, o.signal)
    const pre = await hook('pre-deploy', o.version, 'pending')
    if (pre?.ran && !pre.ok)
      throw new RefusedError(
        `Can't deploy ${o.version} to staging: the pre-deploy hook failed (${pre.detail}). Nothing was changed.`,
      )
    const fail = async (err: unknown): Promise<never> => {
      store.update((s) =>
        addHistory(s, {
          action: 'deploy',
          outcome: 'failed',
          version: o.version,
          to: 'blue',
          detail: errorMessage(err).slice(0, 300),
        }),
      )
      store.audit({
        action: 'deploy',
        outcome: 'failed',
        version: o.version,
        slot: 'blue',
        durationMs: Date.now() - started,
        detail: errorMessage(err),
      })
      await hook('on-failure', o.version, 'failed')
      if (!dryRun) {
        await sendNotification(
          config,
          deployEvent('failed', {
            target: config.target,
            version: o.version,
            slot: 'blue',
            detail: errorMessage(err).slice(0, 500),
          }),
          ui,
        )
        await updateDeployMetrics(paths.metrics, config.target, (m) => {
          m.total.failed += 1
        })
      }
      throw err
    }
    if (!dryRun)
      await sendNotification(
        config,
        deployEvent('started', { target: config.target, version: o.version, slot: 'blue' }),
        ui,
      )
    let migrationsApplied: string[] = []
    let smoke: SmokeReport
    try {
      if (o.build) await ui.step(`Building ${imageRef(config, o.version)}`, () => platform.buildImage(o.version))
      await ui.step('Validating the configuration and preparing the runtime directory', async () => {
        if (dryRun) return
        if ((await coreRunning(sh, config)).running)
          await applyIncludes(sh, config, paths.nginx, { nginxRunning: true })
        await prepareRuntime({
          ...nginxSettings(config),
          varDir: config.varDir,
          networkName: config.networkName,
          postgresPassword: config.postgres.password,
          redisPassword: config.redisPassword,
        })
        const t = slotTarget(config, 'blue', o.version)
        await sh.docker(configArgs(t), { env: t.env, changes: false, action: 'validate the staging compose file' })
      })
      if (o.signal.aborted)
        throw new RefusedError(
          `Can't deploy ${o.version} to staging: interrupted before the deploy. Nothing was changed.`,
        )
      const t = slotTarget(config, 'blue', o.version)
      await ui.step(`Deploying ${o.version} to ${config.composeProject} and waiting until healthy`, () =>
        sh.docker(upArgs(t, { waitTimeoutS: Math.round(o.timeoutMs / 1000) }), {
          env: t.env,
          action: `deploy ${o.version} to staging`,
          timeoutMs: o.timeoutMs + 30_000,
        }),
      )
      migrationsApplied = await ui.step(`Running the migrations of ${o.version}`, () =>
        runMigrations(sh, config, 'blue', o.version),
      )
      ui.info(`  migrations applied: ${migrationsApplied.join(', ') || 'none'}`)
      const smokeTarget = { baseUrl: smokeUrl(config, config.ports.https), headers: {}, version: o.version }
      await ui.step('Validating health through the public listener', async () => {
        if (dryRun) return
        const r = await waitHealthy(
          async () => {
            const all = await checkRoles(smokeTarget)
            const bad = all.filter((x) => !x.ok)
            return {
              name: 'roles',
              ok: bad.length === 0,
              latencyMs: Math.max(...all.map((x) => x.latencyMs)),
              detail: bad.map((x) => `${x.name}: ${x.detail}`).join('; ') || 'ok',
            }
          },
          { consecutive: 2, intervalMs: 500, deadlineMs: o.timeoutMs, signal: o.signal },
        )
        if (!r.ok) throw new OperationError(`Can't validate ${o.version} on staging: ${r.detail}`)
      })
      smoke = dryRun
        ? {
            ok: true,
            checks: [],
            load: { total: 0, failures: 0, successRate: 1, p50: 0, p95: 0, p99: 0, ok: true, reasons: [] },
            reasons: [],
          }
        : await ui.step('Smoke-testing staging', () => runSmoke(smokeTarget, config.smoke, o.signal))
      const sh2 = await hook('smoke', o.version, 'pending')
      if (sh2?.ran && !sh2.ok) smoke.reasons.push(`hooks/smoke: ${sh2.detail}`)
      ui.info(
        `  smoke: ${smoke.checks.filter((c) => c.ok).length}/${smoke.checks.length} checks, load ${smoke.load.total} requests, p95 ${smoke.load.p95} ms`,
      )
      if (smoke.reasons.length)
        throw new OperationError(
          `Can't deploy ${o.version} to staging: the smoke tests failed (${smoke.reasons.slice(0, 4).join('; ')}). ${o.version} is running on staging for inspection.`,
        )
    } catch (err) {
      return fail(err)
    }
    const durationMs = Date.now() - started
    if (!dryRun) {
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
      await updateDeployMetrics(paths.metrics, config.target, (m) => {
        m.total.succeeded += 1
        m.lastSuccessS = Math.floor(Date.now() / 1000)
        m.durationS = Math.round(durationMs / 100) / 10
        m.live = 'blue'
      })
      await hook('post-deploy', o.version, 'succeeded')
      await sendNotification(
        config,
        deployEvent('succeeded', { target: config.target, version: o.version, slot: 'blue', durationMs }),
        ui,
      )
    }
    return { checks, migrationsApplied, smoke, durationMs }
  }

  return { plan, execute }
}
