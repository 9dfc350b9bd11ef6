// The Platform (lib/platform.ts) of an app whose manifest names app hosts (#16): the slot lifecycle goes to
// every app host over SSH (lib/multihost.ts: create with the --parallel limit, a failing host aborting with
// the candidate removed everywhere), while the routing stays the balancer's: the same marker writes and
// public probes as on one host. platformFor() picks it when config.app has hosts, else the one-host platform.
import path from 'node:path'
import type { Shell } from './compose.ts'
import type { Config } from './config.ts'
import type { FlagSpec } from './cli.ts'
import { RefusedError } from './errors.ts'
import { parseParallel, type Host } from './hosts.ts'
import { appOf, appServiceNames } from './manifest/app-model.ts'
import { appHosts, hostInstances } from './manifest/render-hosts.ts'
import type { Manifest } from './manifest/types.ts'
import type { Slot } from './model.ts'
import { drainedPath, publishBaseOf, readDrained } from './multihost-upstreams.ts'
import { hostSlotContainers, hostsCall, probeInstances, removeSlotOnHosts, createSlotOnHosts } from './multihost.ts'
import type { MultiHost } from './multihost.ts'
import { slotStatusAcrossHosts } from './multihost-status.ts'
import { setReleaseMarker } from './nginx.ts'
import type { Paths } from './paths.ts'
import { createPlatform, type Platform, type SlotStatus } from './platform.ts'
import { probeHttp, type ProbeResult } from './probe.ts'
import { probeTimeoutMs } from './traffic.ts'
import { writeSshFiles } from './ssh.ts'
import type { Printer } from './ui.ts'

export type PlatformOptions = { dryRun?: boolean; shell?: Shell; parallel?: number }

/** The settings of the hosts from the target's env file: HOSTS_SSH_DIR, HOSTS_SSH_KEY, HOSTS_PUBLISH_BASE. */
export function multiHostOf(config: Config, paths: Paths, m: Manifest, parallel?: number): MultiHost {
  const publishBase = publishBaseOf(config)
  const { sshDir, sshKey } = config.multiHost ?? { sshDir: '', sshKey: '' }
  return {
    manifest: m,
    ssh: {
      dir: sshDir || path.join(paths.varDir, 'ssh'),
      ...(sshKey ? { identityFile: sshKey } : {}),
    },
    project: m.name,
    dir: path.join(paths.varDir, 'hosts'),
    parallel: parallel ?? Math.max(1, appHosts(m).length),
    publishBase,
    drained: readDrained(drainedPath(paths.varDir)),
  }
}

/** multiHostOf, with our ssh config and wrapper for its hosts written: ready for a call over SSH. */
export function connectHosts(config: Config, paths: Paths, m: Manifest): MultiHost {
  const mh = multiHostOf(config, paths, m)
  writeSshFiles(m.hosts ?? [], mh.ssh)
  return mh
}

/** The SSH settings of the target's app hosts, with our ssh config and wrapper written (for a one-off call). */
export function sshOptionsFor(config: Config, paths: Paths): MultiHost['ssh'] {
  return connectHosts(config, paths, appOf(config)).ssh
}

/** The release's images (one per image of the manifest's services) and the app hosts that lack one (or did not answer). */
async function hostsMissing(
  mh: MultiHost,
  version: string,
): Promise<{ images: string[]; missing: Host[]; unreachable: string[] }> {
  const images = [...new Set(mh.manifest.services.map((s) => `${s.image}:${version}`))]
  const seen = await hostsCall(mh, 'docker', ['image', 'inspect', '-f', '{{.Id}}', ...images], 'find the images', {
    nothrow: true,
  })
  return {
    images,
    missing: seen.filter((r) => r.ok && !r.value.ok).map((r) => r.host),
    unreachable: seen.flatMap((r) => (r.ok ? [] : [`${r.host.name} (${r.error.message.split('\n')[0]})`])),
  }
}

/** The platform of the target's app: across its app hosts when the manifest names hosts, else this machine. */
export function platformFor(config: Config, paths: Paths, ui: Printer, o: PlatformOptions = {}): Platform {
  const m = appOf(config)
  if (!m.hosts) return createPlatform(config, paths, ui, o)
  return createMultiHostPlatform(config, paths, ui, multiHostOf(config, paths, m, o.parallel), o)
}

/** One route's path per service (the first one), the paths the public probes ask through the balancer. */
export function publicPaths(m: Manifest): Array<{ service: string; path: string }> {
  const seen = new Map<string, string>()
  for (const r of m.routes) if (!r.host && !seen.has(r.service)) seen.set(r.service, r.path)
  return [...seen].map(([service, p]) => ({ service, path: p }))
}

/** A slot on every app host as one SlotStatus; refused (exit 2, nothing changed) naming a host that does not answer. */
async function readSlotOnHosts(mh: MultiHost, slot: Slot): Promise<SlotStatus> {
  const seen = await hostSlotContainers(mh, slot)
  const down = seen.filter((r) => !r.ok)
  if (down.length)
    throw new RefusedError(
      `Can't read slot ${slot} on ${down.length} of ${seen.length} app hosts (${down.map((r) => r.host.name).join(', ')}):\n  ${down.map((r) => `${r.host.name}: ${(!r.ok && r.error.message.split('\n')[0]) || ''}`).join('\n  ')}\nNothing was changed on any host.`,
      'Bring the host named above back (its sshd and Docker daemon), or drain it: npx zx scripts/hosts.ts --drain <host>.',
    )
  const expected = (host: string) =>
    hostInstances(mh.manifest, slot, mh.publishBase)
      .filter((x) => x.host.name === host)
      .map((x) => x.name)
  return slotStatusAcrossHosts(
    slot,
    seen.map((r) => ({ host: r.host.name, expected: expected(r.host.name), services: r.ok ? r.value : [] })),
  )
}

/** Each service's first route through the balancer's public listener; X-Deploy-Slot is the slot that served it. */
function probePublicPaths(config: Config, m: Manifest, signal?: AbortSignal): Promise<ProbeResult[]> {
  return Promise.all(
    publicPaths(m).map(({ service, path: p }) =>
      probeHttp({
        name: service,
        url: `https://${config.localAddr}:${config.ports.https}${p}`,
        insecure: true,
        timeoutMs: probeTimeoutMs(config.thresholds),
        expectStatus: 200,
        ...(signal ? { signal } : {}),
      }).then((r) => ({
        ...r,
        headers: { ...r.headers, 'x-slot': r.headers?.['x-deploy-slot'] ?? r.headers?.['x-slot'] ?? '' },
      })),
    ),
  )
}

export function createMultiHostPlatform(
  config: Config,
  paths: Paths,
  ui: Printer,
  mh: MultiHost,
  o: PlatformOptions = {},
): Platform {
  const local = createPlatform(config, paths, ui, o)
  const dryRun = !!o.dryRun
  const m = mh.manifest
  const names = appHosts(m).map((h) => h.name)
  const rehearse = (what: string) => ui.info(`${ui.c.cyan('[dry-run]')} ${what}`)
  writeSshFiles(m.hosts ?? [], mh.ssh)
  return {
    dryRun,
    services: appServiceNames(m),
    readRouting: local.readRouting,
    setLive: local.setLive,
    setGradual: local.setGradual,
    clearGradual: local.clearGradual,
    slotStatus: (slot) => readSlotOnHosts(mh, slot),
    async imageAvailable(version) {
      const { missing, unreachable } = await hostsMissing(mh, version)
      return missing.length === 0 && unreachable.length === 0
    },
    // the release's images must be on every app host already: named hosts missing them refuse the create
    // (nothing changed) with the two ways to put them there; the toolkit does not pull on app hosts
    async resolveImage(version, o) {
      if (o.build) return null
      const { images, missing, unreachable } = await hostsMissing(mh, version)
      if (unreachable.length)
        throw new RefusedError(
          `Can't use release ${version}: can't ask ${unreachable.join('; ')} for its image. Nothing was changed.`,
          'Check that host (npx zx scripts/hosts.ts), then run this again.',
        )
      if (missing.length === 0) return { tag: images[0]!, ref: images[0]!, digest: '', source: 'local' }
      const on = missing.map((h) => h.name).join(', ')
      const first = missing[0]!
      throw new RefusedError(
        `Can't use release ${version}: ${images.join(', ')} ${images.length > 1 ? 'are' : 'is'} not on ${on} (the toolkit does not pull on app hosts). Nothing was changed.`,
        `Put it on each of them first, e.g. docker save ${images.join(' ')} | ssh ${first.user}@${first.address} docker load, or DOCKER_HOST=ssh://${first.user}@${first.address} docker pull <registry>/${images[0]}.`,
      )
    },
    async buildImage(version) {
      throw new RefusedError(
        `Can't build ${version} on the app hosts (${names.join(', ')}): a build runs on one machine`,
        'Build and push the image to a registry the hosts pull from, or load it on each host (docker save | ssh <host> docker load).',
      )
    },
    async startSlot(slot, version, timeoutMs) {
      if (dryRun) {
        rehearse(`link ${paths.live}/.release-${slot} to .releases/${version}`)
        rehearse(
          `on ${names.join(', ')} (${mh.parallel} at once, over SSH): docker compose -p ${mh.project}-${slot} up -d, then probe each container's readiness path from here`,
        )
        return
      }
      setReleaseMarker(paths.live, slot, version)
      const created = await createSlotOnHosts({ ...mh, readyTimeoutMs: timeoutMs }, slot, version)
      for (const c of created)
        ui.info(`${c.host}: ${c.containers} containers of ${slot} ready in ${Math.round(c.ms)} ms`)
    },
    async slotLogs(slot, _version, tail = 15) {
      const args = ['compose', '-p', `${mh.project}-${slot}`, 'logs', '--no-color', '--tail', String(tail)]
      const seen = await hostsCall(mh, 'docker', args, `read the logs of ${slot}`, { nothrow: true })
      return ui.mask(
        seen.map((r) => `--- ${r.host.name}\n${r.ok ? r.value.stdout + r.value.stderr : r.error.message}`).join('\n'),
      )
    },
    async removeSlot(slot) {
      if (dryRun) return rehearse(`on ${names.join(', ')}: docker compose -p ${mh.project}-${slot} down`)
      await removeSlotOnHosts(mh, slot)
    },
    probeSlot: (slot, _version, signal) => probeInstances(hostInstances(m, slot, mh.publishBase), signal),
    probePublic: (signal) => probePublicPaths(config, m, signal),
  }
}

/** `--parallel N` of the scripts that create a slot: app hosts acted on at once (Kamal's boot limit). */
export const PARALLEL_FLAG: Record<string, FlagSpec> = {
  parallel: {
    type: 'string',
    value: '<n>',
    description: 'app hosts started at once when the manifest names hosts (1-100; default: every host at once)',
  },
}

/** The --parallel value (undefined: every host at once); exit 2 on anything but 1-100. */
export const parallelFlag = (v: unknown): number | undefined => (v === undefined ? undefined : parseParallel(String(v)))
