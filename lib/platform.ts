// The ports the blue-green operations are written against, and their real implementation on
// Docker Compose, nginx markers and HTTP probes. Unit tests pass a fake with the same shape.
import type { Paths } from './paths.ts'
import type { Slot } from './model.ts'
import type { Config } from './config.ts'
import {
  createShell,
  downArgs,
  imageExists,
  imageRef,
  logsArgs,
  projectContainers,
  slotProject,
  slotTarget,
  upArgs,
  type ServiceState,
  type Shell,
} from './compose.ts'
import { OperationError, RefusedError } from './errors.ts'
import { writeSlotCompose } from './generated-compose.ts'
import { resolveImage, type ImageChoice } from './images/registry.ts'
import { BUILD_TIMEOUT_MS, deadlineAfter } from './gateway.ts'
import { clearGradual, readLive, setGradual, setLive, setReleaseMarker, type LiveRouting } from './nginx.ts'
import { probeHttp, type ProbeResult } from './probe.ts'
import { probeTimeoutMs } from './traffic.ts'
import type { Printer } from './ui.ts'
import { appOf, appServiceNames, serviceBuilds } from './manifest/app-model.ts'
import { readinessPath } from './manifest/render-nginx.ts'

export type SlotStatus = {
  slot: Slot
  /** every app service has a running container */
  running: boolean
  /** every app service is running and its container healthcheck says healthy */
  healthy: boolean
  /** the release the containers carry (image tag), null when none run */
  version: string | null
  services: ServiceState[]
  /** e.g. "2 of 4 services unhealthy (api: unhealthy, web-2: exited)" */
  problems: string[]
  /** the compose services the app's manifest runs in a slot (what "running" and "healthy" are about) */
  expected?: string[]
}

export interface Platform {
  readonly dryRun: boolean
  /** the compose services of a slot, from the app's manifest (a replica as <name>-<n>) */
  readonly services: readonly string[]
  /** how long readiness must hold before a candidate counts as ready (READY_STABLE); absent: no hold */
  readonly readyStableMs?: number
  readRouting(): LiveRouting
  setLive(slot: Slot): void
  setGradual(to: Slot, percent: number): void
  clearGradual(): void
  slotStatus(slot: Slot): Promise<SlotStatus>
  imageAvailable(version: string): Promise<boolean>
  buildImage(version: string): Promise<void>
  /** the image a release runs (pinned by digest when known), pulled when not on the host; null: unavailable */
  resolveImage?(version: string, o: { pinned?: string; build?: boolean }): Promise<ImageChoice | null>
  /**
   * starts the slot's services (from `image`, a repo@sha256:… ref, when given), all at once, and returns when their
   * containers run: readiness is the caller's own probes through the preview listener (lib/readiness.ts), not
   * Docker's healthcheck polling
   */
  startSlot(slot: Slot, version: string, timeoutMs: number, image?: string): Promise<void>
  /** when each container of the slot started (for the timeline) */
  containerStarts?(slot: Slot): Promise<{ service: string; startedAt: string }[]>
  slotLogs(slot: Slot, version: string, tail?: number): Promise<string>
  /** drains (SIGTERM, in-flight requests finish within the grace period), then removes the containers */
  removeSlot(slot: Slot): Promise<void>
  /**
   * every service of the app at its readiness path through the preview listener, checking the X-Deploy-Slot
   * nginx adds (and X-Deploy-Version when given)
   */
  probeSlot(slot: Slot, version?: string, signal?: AbortSignal): Promise<ProbeResult[]>
  /** every service's readiness through the public listener; results carry X-Deploy-Slot and X-Deploy-Version */
  probePublic(signal?: AbortSignal): Promise<ProbeResult[]>
}

/**
 * A service's readiness path through a listener: /__deploy/ready/<service>, which nginx proxies to the service's
 * readiness path on the slot that listener routes to (lib/manifest/render-nginx.ts), whatever the app's routes.
 */
export function readinessUrl(config: Config, port: number, service: string): string {
  return `https://${config.localAddr}:${port}${readinessPath(service)}`
}

/** Whether each expected service (the app's compose services) runs and is healthy, and what is wrong. */
export function summarizeServices(
  services: ServiceState[],
  expected: string[],
): {
  running: boolean
  healthy: boolean
  problems: string[]
} {
  const problems: string[] = []
  for (const name of expected) {
    const s = services.find((x) => x.service === name)
    if (!s) problems.push(`${name}: not created`)
    else if (s.state !== 'running') problems.push(`${name}: ${s.state}${s.exitCode ? ` (exit ${s.exitCode})` : ''}`)
    else if (s.health && s.health !== 'healthy') problems.push(`${name}: ${s.health}`)
  }
  const running = expected.every((n) => services.some((s) => s.service === n && s.state === 'running'))
  return { running, healthy: problems.length === 0, problems }
}

/** The release running containers carry: their dms.version label (else the image tag); several joined by ","; null: none run. */
export function carriedVersion(services: ServiceState[]): string | null {
  const tags = [
    ...new Set(
      services
        .filter((s) => s.state === 'running')
        .map((s) => s.labels?.['dms.version'] || (s.image.split(':').pop() ?? '')),
    ),
  ]
  return tags.length === 1 ? tags[0]! : tags.length ? tags.join(',') : null
}

/** `docker inspect` lines "<service> <StartedAt>" -> starts (lines without a time are skipped). */
export function parseStarts(stdout: string): { service: string; startedAt: string }[] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((p): p is [string, string] => p.length === 2 && Date.parse(p[1]!) > 0) // never started: year 1
    .map(([service, startedAt]) => ({ service, startedAt }))
}

/** One service's readiness through a listener, checked for the slot and release nginx says it routed to. */
function probeService(
  config: Config,
  port: number,
  service: string,
  headers: Record<string, string>,
  expectSlot?: Slot,
  version?: string,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  return probeHttp({
    name: service,
    url: readinessUrl(config, port, service),
    insecure: true,
    timeoutMs: probeTimeoutMs(config.thresholds),
    expectStatus: 200,
    headers,
    ...(expectSlot ? { header: ['x-deploy-slot', expectSlot] as const } : {}),
    ...(signal ? { signal } : {}),
  }).then((r) => {
    if (r.ok && version && r.headers?.['x-deploy-version'] !== version)
      return { ...r, ok: false, detail: `X-Deploy-Version is ${r.headers?.['x-deploy-version']}, expected ${version}` }
    return r
  })
}

/** The app containers of a slot, their summary, and the release they carry. */
async function readSlotStatus(sh: Shell, config: Config, slot: Slot): Promise<SlotStatus> {
  const expected = appServiceNames(appOf(config))
  const services = (await projectContainers(sh, slotProject(config, slot))).filter((s) => expected.includes(s.service))
  const sum = summarizeServices(services, expected)
  // the release is the dms.version label the containers were started with (an image tag can
  // move under a running container; the label can't)
  return {
    slot,
    services,
    version: carriedVersion(services),
    ...sum,
    expected,
  }
}

/** The docker commands of a slot's containers: build its image, when they started, their logs, remove them. */
function slotCommands(
  sh: Shell,
  config: Config,
  ui: Printer,
): Pick<Platform, 'buildImage' | 'containerStarts' | 'slotLogs' | 'removeSlot'> {
  return {
    async buildImage(version) {
      const builds = serviceBuilds(config, version)
      const app = appOf(config)
      if (!builds.length)
        throw new RefusedError(
          `Can't build ${version}: no service of ${app.name} has a build directory (build: in ${app.file}). Nothing was changed.`,
          'Add build: <dir with a Dockerfile> to the services whose image the toolkit builds, or build and push the images yourself and leave --build out.',
        )
      for (const b of builds)
        await sh.docker(
          ['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${config.baseImage}`, '-t', b.tag, b.dir],
          { action: `build ${b.tag}`, timeoutMs: BUILD_TIMEOUT_MS },
        )
    },
    async containerStarts(slot) {
      const names = (await projectContainers(sh, slotProject(config, slot))).map((c) => c.name)
      if (!names.length) return []
      const r = await sh.docker(
        ['inspect', '--format', '{{index .Config.Labels "com.docker.compose.service"}} {{.State.StartedAt}}', ...names],
        { changes: false, nothrow: true, action: `read when the containers of ${slot} started` },
      )
      return parseStarts(r.stdout)
    },
    async slotLogs(slot, version, tail = 15) {
      const t = slotTarget(config, slot, version)
      const r = await sh.docker(logsArgs(t, tail), { env: t.env, nothrow: true, changes: false })
      return ui.mask(r.stdout + r.stderr)
    },
    async removeSlot(slot) {
      const t = slotTarget(config, slot, 'retired')
      await sh.docker(downArgs(t, { timeoutS: 30 }), {
        env: t.env,
        action: `remove slot ${slot}`,
        timeoutMs: deadlineAfter(30_000),
      })
    },
  }
}

export function createPlatform(
  config: Config,
  paths: Paths,
  ui: Printer,
  o: { dryRun?: boolean; shell?: Shell } = {},
): Platform {
  const sh = o.shell ?? createShell(ui, { dryRun: o.dryRun })
  const dryRun = !!o.dryRun
  const marker = (what: string, fn: () => void) => {
    if (dryRun) ui.info(`${ui.c.cyan('[dry-run]')} ${what}`)
    else fn()
  }
  return {
    dryRun,
    services: appServiceNames(appOf(config)),
    readyStableMs: config.readyStableMs,
    readRouting: () => readLive(paths.live),
    setLive: (slot) =>
      marker(`write ${paths.live}/${slot} (atomic) and remove the other marker`, () => setLive(paths.live, slot)),
    setGradual: (to, pct) =>
      marker(`send ${pct}% of requests to ${to}: markers ${paths.live}/to-${to}-b1..b${pct}`, () =>
        setGradual(paths.live, to, pct),
      ),
    clearGradual: () => marker(`remove gradual markers in ${paths.live}`, () => clearGradual(paths.live)),
    slotStatus: (slot) => readSlotStatus(sh, config, slot),
    imageAvailable: (version) => imageExists(sh, imageRef(config, version)),
    resolveImage: (version, o) =>
      resolveImage(sh, ui, { appImage: config.appImage, registry: config.registry, version, ...o }),
    ...slotCommands(sh, config, ui),
    async startSlot(slot, version, timeoutMs, image) {
      // the slot's compose file, generated from the app's manifest, written afresh for every start
      if (!dryRun) writeSlotCompose(config, slot)
      const t = slotTarget(config, slot, version, image ? { APP_IMAGE_REF: image } : {})
      // before any container of the release answers: cached routes key their entries on it
      marker(`link ${paths.live}/.release-${slot} to .releases/${version} (the release in nginx's cache keys)`, () =>
        setReleaseMarker(paths.live, slot, version),
      )
      // no --wait: Docker polls its healthchecks every 2 s; the caller's probes decide readiness (lib/readiness.ts)
      const r = await sh.docker(upArgs(t, { forceRecreate: true }), {
        env: t.env,
        nothrow: true,
        timeoutMs: deadlineAfter(timeoutMs),
        action: `start ${version} in ${slot}`,
      })
      if (!r.ok) {
        const status = await this.slotStatus(slot)
        const why = status.problems.length
          ? `not started within ${Math.round(timeoutMs / 1000)} s (${status.problems.join(', ')})`
          : ui.mask(r.stderr.trim().split('\n').slice(-3).join(' '))
        throw new OperationError(`Can't start ${version} in ${slot}: ${why}`)
      }
    },
    probeSlot: (slot, version, signal) =>
      Promise.all(
        appOf(config).services.map((s) =>
          probeService(config, config.ports.preview, s.name, { 'X-DMS-Slot': slot }, slot, version, signal),
        ),
      ),
    probePublic: (signal) =>
      Promise.all(
        appOf(config).services.map((s) =>
          probeService(config, config.ports.https, s.name, {}, undefined, undefined, signal),
        ),
      ),
  }
}
