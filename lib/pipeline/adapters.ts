// What each pipeline needs from the world, as one object per pipeline ("ports" in the hexagonal
// sense, not network ports): DeployPorts for production, StagingPorts for staging, each built on
// one shared wiring (shell, platform, store, database, hooks, notifications, metrics, preflight).
// Unit tests pass fakes; createDeployPorts and createStagingPorts build the real ones.
import type { Store } from '../bluegreen.ts'
import type { Config } from '../config.ts'
import type { Paths } from '../paths.ts'
import { configArgs, createShell, slotProject, slotTarget, upArgs } from '../compose.ts'
import { listPending, removeOneOffs, runMigrations, type PendingMigrations } from '../db.ts'
import { createGateway, run } from '../gateway.ts'
import { takeBackup } from '../backup/take.ts'
import { hooksDir, runHook, type HookContext, type HookName, type HookResult } from '../hooks.ts'
import { writeAccessoriesCompose, writeSlotCompose } from '../generated-compose.ts'
import { applyIncludes, setReleaseMarker } from '../nginx.ts'
import { sendNotification, type NotifyEvent } from '../notify.ts'
import type { Platform } from '../platform.ts'
import { multiHostOf, platformFor } from '../multihost-platform.ts'
import { releaseVia, startAccessoriesOnHosts, type MultiHost } from '../multihost.ts'
import { accessoryHosts } from '../manifest/render-hosts.ts'
import type { Shell } from '../compose.ts'
import { waitHealthy } from '../wait.ts'
import { checkReadiness, runSmoke, smokeUrl, type SmokeReport } from '../smoke.ts'
import { coreRunning, ensureCore, prepareStackRuntime } from '../core-stack.ts'
import type { Slot } from '../model.ts'
import type { Printer } from '../ui.ts'
import { updateDeployMetrics, type DeployMetrics } from '../deploy-metrics.ts'
import { preflightChecks } from './preflight.ts'
import { appOf } from '../manifest/app-model.ts'

/** snapshot: the restic snapshot of the off-host copy (null when BACKUP_REPOSITORY is not set) */
export type BackupOutcome = {
  file: string | null
  bytes: number
  entries: number
  pruned: number
  snapshot: string | null
}

export type DeployPorts = {
  platform: Platform
  store: Store
  ui: Printer
  config: Config
  dryRun: boolean
  /** read-only checks; throws RefusedError listing every problem */
  preflight(): Promise<{ lines: string[]; coreRunning: boolean }>
  ensureCore(): Promise<void>
  /** null: the app has no pending command to ask */
  listPending(slot: Slot, version: string): Promise<PendingMigrations | null>
  backup(version: string): Promise<BackupOutcome>
  migrate(slot: Slot, version: string, allowContract: boolean): Promise<string[]>
  smoke(slot: Slot, version: string, signal?: AbortSignal): Promise<SmokeReport>
  removeOneOffs(slot: Slot): Promise<number>
  hook(name: HookName, h: HookContext): Promise<HookResult>
  notify(event: NotifyEvent): Promise<void>
  metrics(fn: (m: DeployMetrics) => void): Promise<void>
}

/**
 * The core services here (nginx and this machine's accessories), then with hosts (#16) the accessories each app
 * host runs, started there over SSH (idempotent: compose leaves what is up to date). A host that fails is named
 * and the deploy stops before any slot is touched.
 */
async function ensureCoreEverywhere(sh: Shell, config: Config, paths: Paths, ui: Printer, hosts?: MultiHost) {
  await ensureCore(sh, config, paths, ui, { timeoutMs: config.deployTimeoutMs })
  const on = hosts ? accessoryHosts(hosts.manifest) : []
  if (!hosts || !on.length) return
  const what = on.map((h) => `${h.name}: ${h.accessories.join(', ')}`).join('; ')
  if (sh.dryRun)
    return ui.info(`${ui.c.cyan('[dry-run]')} start the accessories on ${what} (docker compose up -d --wait over SSH)`)
  const waitS = Math.round(config.deployTimeoutMs / 1000)
  const done = await ui.step(`Starting the accessories on the app hosts (${what})`, () =>
    startAccessoriesOnHosts(hosts, waitS),
  )
  for (const d of done) ui.detail(`${d.host}: ${d.accessories.join(', ')} running (${Math.round(d.ms)} ms)`)
}

/** The adapters every pipeline shares (deploy and staging): one shell, one platform, one wiring. */
function sharedPorts(config: Config, paths: Paths, ui: Printer, store: Store, dryRun: boolean, parallel?: number) {
  const sh = createShell(ui, { dryRun })
  // across the app hosts when the manifest names hosts (#16), else this machine's Docker
  const platform = platformFor(config, paths, ui, { dryRun, shell: sh, ...(parallel ? { parallel } : {}) })
  const app = appOf(config)
  const hosts = app.hosts ? multiHostOf(config, paths, app, parallel) : undefined
  const ports = {
    platform,
    store,
    ui,
    config,
    dryRun,
    preflight: async () => {
      const r = await preflightChecks(sh, config, paths)
      for (const w of r.warnings) ui.warn(`Preflight warning: ${w}`)
      return r
    },
    // with hosts (#16) the release command runs on its host, over SSH (rehearsed here under --dry-run)
    listPending: (slot: Slot, version: string) =>
      listPending(sh, config, slot, version, hosts && releaseVia(hosts, slot, version)),
    migrate: (slot: Slot, version: string, allowContract: boolean) =>
      runMigrations(
        sh,
        config,
        slot,
        version,
        { allowContract },
        hosts && !dryRun ? releaseVia(hosts, slot, version) : undefined,
      ),
    hook: (name: HookName, h: HookContext): Promise<HookResult> =>
      dryRun
        ? Promise.resolve({ name, ran: false, ok: true, code: null, output: '', ms: 0, detail: 'dry run' })
        : runHook(name, h, { dir: hooksDir(config), ui, cwd: config.root }),
    notify: async (event: NotifyEvent) => {
      if (!dryRun) await sendNotification(config, event, ui)
    },
    metrics: async (fn: (m: DeployMetrics) => void) => {
      if (dryRun) return
      const err = await updateDeployMetrics(paths.metrics, config.target, fn)
      if (err) ui.warn(`${err}. The deploy is not affected.`)
    },
  }
  return { sh, ports, hosts }
}

/** Smoke report of a dry run: nothing was requested. */
export const DRY_SMOKE: SmokeReport = {
  ok: true,
  checks: [],
  load: { total: 0, failures: 0, successRate: 1, p50: 0, p95: 0, p99: 0, ok: true, reasons: [] },
  reasons: [],
}

export function createDeployPorts(
  config: Config,
  paths: Paths,
  ui: Printer,
  store: Store,
  o: { dryRun: boolean; parallel?: number },
): DeployPorts {
  const { sh, ports, hosts } = sharedPorts(config, paths, ui, store, o.dryRun, o.parallel)
  const smoke = config.smoke
  return {
    ...ports,
    ensureCore: () => ensureCoreEverywhere(sh, config, paths, ui, hosts),
    async backup(version) {
      const gw = createGateway(ui, { dryRun: o.dryRun })
      const r = await takeBackup(gw, config, paths.backups, ui, { version, offHost: 'when-configured' })
      return { file: r.file, bytes: r.bytes, entries: r.entries, pruned: r.pruned, snapshot: r.snapshot }
    },
    smoke: (slot, version, signal) =>
      o.dryRun
        ? Promise.resolve(structuredClone(DRY_SMOKE))
        : runSmoke(
            {
              baseUrl: smokeUrl(config, config.ports.preview),
              headers: { 'X-DMS-Slot': slot },
              slot,
              version,
              checks: appOf(config).smoke.checks,
              loadPaths: appOf(config).smoke.load?.paths,
            },
            smoke,
            signal,
          ),
    removeOneOffs: (slot) => removeOneOffs(sh, slotProject(config, slot)),
  }
}

export type StagingPorts = Pick<
  DeployPorts,
  | 'platform'
  | 'store'
  | 'ui'
  | 'config'
  | 'dryRun'
  | 'preflight'
  | 'listPending'
  | 'migrate'
  | 'hook'
  | 'notify'
  | 'metrics'
> & {
  /** one pre-deployment check, without a shell */
  runCheck(argv: string[]): Promise<{ ok: boolean; code: number | null; output: string }>
  /** nginx includes (when the core runs), the runtime directory, the generated accessories and slot files written, all the compose files validated */
  prepare(version: string): Promise<void>
  /** the single-slot deploy with --wait */
  up(version: string, timeoutMs: number): Promise<void>
  /** every role answers with the new version through the public listener (twice in a row) */
  validateHealth(version: string, timeoutMs: number, signal: AbortSignal): Promise<{ ok: boolean; detail: string }>
  smoke(version: string, signal: AbortSignal): Promise<SmokeReport>
}

export function createStagingPorts(
  config: Config,
  paths: Paths,
  ui: Printer,
  store: Store,
  o: { dryRun: boolean },
): StagingPorts {
  const { sh, ports } = sharedPorts(config, paths, ui, store, o.dryRun)
  const target = (version: string) => smokeTarget(config, version)
  return {
    ...ports,
    async runCheck(argv) {
      const r = await run(argv[0]!, argv.slice(1), {
        cwd: config.root,
        nothrow: true,
        timeoutMs: 30 * 60_000,
        action: `run the check ${argv.join(' ')}`,
      })
      return { ok: r.ok, code: r.code, output: r.stdout + r.stderr }
    },
    async prepare(version) {
      if (o.dryRun) return
      if ((await coreRunning(sh, config)).running) await applyIncludes(sh, config, paths.nginx, { nginxRunning: true })
      await prepareStackRuntime(config)
      // the accessories and the one slot from the app's manifest (its staging target), written afresh
      writeAccessoriesCompose(config)
      writeSlotCompose(config, 'blue')
      const t = slotTarget(config, 'blue', version)
      await sh.docker(configArgs(t), { env: t.env, changes: false, action: 'validate the staging compose files' })
    },
    async up(version, timeoutMs) {
      const t = slotTarget(config, 'blue', version)
      // before the release answers: nginx's X-Deploy-Version and cache keys read it (as a production slot start)
      if (!o.dryRun) setReleaseMarker(paths.live, 'blue', version)
      await sh.docker(upArgs(t, { waitTimeoutS: Math.round(timeoutMs / 1000) }), {
        env: t.env,
        action: `deploy ${version} to staging`,
        timeoutMs: timeoutMs + 30_000,
      })
    },
    async validateHealth(version, timeoutMs, signal) {
      if (o.dryRun) return { ok: true, detail: 'dry run' }
      return waitHealthy(
        async () => {
          const all = await checkReadiness(target(version))
          const bad = all.filter((x) => !x.ok)
          return {
            name: 'readiness',
            ok: bad.length === 0,
            latencyMs: Math.max(...all.map((x) => x.latencyMs)),
            detail: bad.map((x) => `${x.name}: ${x.detail}`).join('; ') || 'ok',
          }
        },
        { consecutive: 2, intervalMs: 500, deadlineMs: timeoutMs, signal },
      )
    },
    smoke: (version, signal) =>
      o.dryRun ? Promise.resolve(structuredClone(DRY_SMOKE)) : runSmoke(target(version), config.smoke, signal),
  }
}

/** Staging is reached through its public listener, without a slot header. */
function smokeTarget(config: Config, version: string) {
  return {
    baseUrl: smokeUrl(config, config.ports.https),
    headers: {},
    version,
    checks: appOf(config).smoke.checks,
    services: appOf(config).services.map((s) => s.name),
    loadPaths: appOf(config).smoke.load?.paths,
  }
}
