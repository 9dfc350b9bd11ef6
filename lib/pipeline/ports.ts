// What the deploy pipeline needs from the world, as one object: the blue-green Platform, the
// state Store, and the pipeline's own adapters (database, smoke tests, hooks, notifications,
// metrics, preflight). Unit tests pass fakes; createDeployPorts builds the real ones.
import fs from 'node:fs'
import path from 'node:path'
import type { Paths } from '../paths.ts'
import type { Slot, Store } from '../model.ts'
import type { Config } from '../config.ts'
import { configArgs, createShell, slotProject, slotTarget, type Shell } from '../compose.ts'
import { backupDatabase, listPending, removeOneOffs, runMigrations, type PendingMigrations } from '../db.ts'
import { RefusedError } from '../errors.ts'
import { timeoutAsFailure } from '../gateway.ts'
import { hooksDir, runHook, type HookContext, type HookName, type HookResult } from '../hooks.ts'
import { testConfig } from '../nginx.ts'
import { sendNotification, type NotifyEvent } from '../notify.ts'
import { createPlatform, type Platform } from '../platform.ts'
import { probeHttp } from '../probe.ts'
import { runSmoke, smokeUrl, type SmokeReport } from '../smoke.ts'
import { LIVE_RESTORE_OFF } from '../docker-daemon.ts'
import { coreRunning, ensureCore } from '../stack.ts'
import type { Printer } from '../ui.ts'
import { updateDeployMetrics, type DeployMetrics } from '../deploy-metrics.ts'

export type BackupOutcome = { file: string | null; bytes: number; entries: number; pruned: number }

export type DeployPorts = {
  platform: Platform
  store: Store
  ui: Printer
  config: Config
  dryRun: boolean
  /** read-only checks; throws RefusedError listing every problem */
  preflight(): Promise<{ lines: string[]; coreRunning: boolean }>
  ensureCore(): Promise<void>
  listPending(slot: Slot, version: string): Promise<PendingMigrations>
  backup(version: string): Promise<BackupOutcome>
  migrate(slot: Slot, version: string, allowContract: boolean): Promise<string[]>
  smoke(slot: Slot, version: string, signal?: AbortSignal): Promise<SmokeReport>
  removeOneOffs(slot: Slot): Promise<number>
  hook(name: HookName, h: HookContext): Promise<HookResult>
  notify(event: NotifyEvent): Promise<void>
  metrics(fn: (m: DeployMetrics) => void): Promise<void>
}

/** Free space of the filesystem holding dir (or its nearest existing parent), in MiB. */
export async function freeMb(dir: string): Promise<number> {
  let d = path.resolve(dir)
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d)
  const s = await fs.promises.statfs(d)
  return Math.floor((s.bavail * s.bsize) / 1024 / 1024)
}

/**
 * Docker and Compose reachable, the compose file valid for a slot, nginx serving and its
 * configuration valid (when the core runs), enough disk space. Every problem at once.
 */
export async function preflightChecks(
  sh: Shell,
  config: Config,
  paths: Paths,
): Promise<{ lines: string[]; coreRunning: boolean; warnings: string[] }> {
  const problems: string[] = []
  const warnings: string[] = []
  const lines: string[] = []
  const slot = slotTarget(config, 'blue', 'preflight')
  const [docker, compose, valid, core] = await Promise.all([
    timeoutAsFailure(
      sh.docker(['info', '--format', '{{.ServerVersion}} {{.LiveRestoreEnabled}}'], {
        changes: false,
        nothrow: true,
        action: 'ask the Docker daemon its version',
      }),
    ),
    timeoutAsFailure(sh.docker(['compose', 'version', '--short'], { changes: false, nothrow: true })),
    fs.existsSync(path.join(paths.secrets, 'postgres_password'))
      ? timeoutAsFailure(sh.docker(configArgs(slot), { env: slot.env, changes: false, nothrow: true }))
      : null,
    coreRunning(sh, config).catch(() => ({ running: false, problems: ['unknown'] })),
  ])
  if (!docker.ok) {
    throw new RefusedError(
      `Can't deploy: Docker is not reachable (${(docker.stderr.trim().split('\n').pop() || `exit ${docker.code}`).slice(0, 200)}). Nothing was changed.`,
      'Start the Docker Engine (npx zx scripts/bootstrap.ts), or check DOCKER_HOST and your permissions.',
    )
  }
  const [serverVersion, liveRestore] = docker.stdout.trim().split(' ')
  lines.push(`Docker Engine ${serverVersion}`)
  if (liveRestore !== 'true') warnings.push(LIVE_RESTORE_OFF)
  if (!compose.ok)
    problems.push('Docker Compose v2 is not available (install the compose plugin: npx zx scripts/bootstrap.ts)')
  else lines.push(`Compose ${compose.stdout.trim()}`)
  if (valid && !valid.ok) problems.push(`the compose file does not validate: ${valid.stderr.trim().split('\n').pop()}`)
  const free = await freeMb(config.varDir)
  if (free < config.diskMinFreeMb)
    problems.push(
      `only ${free} MiB free for ${config.varDir}, DISK_MIN_FREE_MB is ${config.diskMinFreeMb} (free space, or lower it)`,
    )
  else lines.push(`disk: ${free} MiB free`)
  if (core.running) {
    const [health, test] = await Promise.all([
      probeHttp({ url: `http://127.0.0.1:${config.ports.status}/nginx-health`, timeoutMs: 3000, expectStatus: 200 }),
      testConfig(sh, config),
    ])
    if (!health.ok) problems.push(`nginx does not serve its health endpoint (${health.detail})`)
    if (!test.ok)
      problems.push(`the nginx configuration is invalid (nginx -t: ${test.output.split('\n').slice(-2).join(' ')})`)
    if (health.ok && test.ok) lines.push('nginx serves and its configuration is valid')
  } else {
    lines.push(`the core services are not running (${core.problems.join(', ')}): they are started first`)
  }
  if (problems.length)
    throw new RefusedError(
      `Can't deploy: ${problems.length} preflight problem${problems.length > 1 ? 's' : ''}:\n  - ${problems.join('\n  - ')}\nNothing was changed.`,
      'Fix them and run again.',
    )
  return { lines, coreRunning: core.running, warnings }
}

export function createDeployPorts(
  config: Config,
  paths: Paths,
  ui: Printer,
  store: Store,
  o: { dryRun: boolean },
): DeployPorts {
  const sh = createShell(ui, { dryRun: o.dryRun })
  const platform = createPlatform(config, paths, ui, { dryRun: o.dryRun, shell: sh })
  const smoke = config.smoke
  return {
    platform,
    store,
    ui,
    config,
    dryRun: o.dryRun,
    preflight: async () => {
      const r = await preflightChecks(sh, config, paths)
      for (const w of r.warnings) ui.warn(`Preflight warning: ${w}`)
      return r
    },
    ensureCore: async () => void (await ensureCore(sh, config, paths, ui, { timeoutMs: config.deployTimeoutMs })),
    listPending: (slot, version) => listPending(sh, config, slot, version),
    async backup(version) {
      const r = await backupDatabase(sh, config, paths.backups, ui, { version })
      return { file: r.backup?.file ?? null, bytes: r.backup?.bytes ?? 0, entries: r.entries, pruned: r.pruned.length }
    },
    migrate: (slot, version, allowContract) => runMigrations(sh, config, slot, version, { allowContract }),
    smoke: (slot, version, signal) =>
      o.dryRun
        ? Promise.resolve({
            ok: true,
            checks: [],
            load: { total: 0, failures: 0, successRate: 1, p50: 0, p95: 0, p99: 0, ok: true, reasons: [] },
            reasons: [],
          })
        : runSmoke(
            { baseUrl: smokeUrl(config, config.ports.preview), headers: { 'X-DMS-Slot': slot }, slot, version },
            smoke,
            signal,
          ),
    removeOneOffs: (slot) => removeOneOffs(sh, slotProject(config, slot)),
    hook: (name, h) =>
      o.dryRun
        ? Promise.resolve({ name, ran: false, ok: true, code: null, output: '', ms: 0, detail: 'dry run' })
        : runHook(name, h, { dir: hooksDir(config), ui, cwd: config.root }),
    notify: async (event) => {
      if (!o.dryRun) await sendNotification(config, event, ui)
    },
    metrics: async (fn) => {
      if (o.dryRun) return
      const err = await updateDeployMetrics(paths.metrics, config.target, fn)
      if (err) ui.warn(`${err}. The deploy is not affected.`)
    },
  }
}
