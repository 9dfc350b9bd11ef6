// Pure: an app across several hosts (#16). Each app host's slot compose publishes every container it runs on
// the host's private address (one port per service x replica x slot, the same on every host: publishBase +
// the slot's offset + the container's index in the slot), and nginx's upstreams list every host's containers
// for a service, a drained host's servers marked `down` (a drain is a reload, not a deploy). The locations
// are the one-host ones: the switch stays one marker write on the balancer.
import type { Host } from '../hosts.ts'
import { MAX_PER_SLOT, SLOTS, slotInstances, type AppSlot, type Instance } from './allocate.ts'
import { header, renderAccessoriesCompose, renderSlotCompose } from './render-compose.ts'
import { renderAppLocations, renderAppZones, SNIPPETS, type AppNginxFiles } from './render-nginx.ts'
import type { Manifest, ManifestHost } from './types.ts'
import { yamlLib } from './yaml-lib.ts'

/** the first published port when none is configured: blue takes base..base+31, green base+32..base+63 */
export const PUBLISH_BASE = 20000

/** One container of a slot on one host: where the balancer reaches it. */
export type HostInstance = Instance & { host: ManifestHost; address: string; port: number }

type Yaml = Record<string, unknown>

export const appHosts = (m: Manifest): ManifestHost[] => (m.hosts ?? []).filter((h) => h.role === 'app')

/** The published port of a slot's k-th container (0-based, the manifest's order): the same on every host. */
export const publishedPort = (slot: AppSlot, index: number, base = PUBLISH_BASE): number =>
  base + (slot === 'blue' ? 0 : MAX_PER_SLOT) + index

/** Every container of a slot on every app host that runs its service, with its published address. */
export function hostInstances(m: Manifest, slot: AppSlot, base = PUBLISH_BASE): HostInstance[] {
  const all = slotInstances(m, slot)
  return appHosts(m).flatMap((host) =>
    all.flatMap((x, i) =>
      host.services.includes(x.service.name)
        ? [{ ...x, host, address: host.address, port: publishedPort(slot, i, base) }]
        : [],
    ),
  )
}

/** <NAME>_HOST and <NAME>_PORT of each accessory: the address of the host that runs it. */
export function accessoryVariables(m: Manifest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const a of m.accessories) {
    const on = (m.hosts ?? []).find((h) => h.accessories.includes(a.name))
    if (!on) continue
    out[`${a.name.toUpperCase()}_HOST`] = on.address
    out[`${a.name.toUpperCase()}_PORT`] = String(a.port)
  }
  return out
}

export type HostSlotRender = { slot: AppSlot; version: string; publishBase?: number }

/**
 * The compose file of one slot on one app host: the one-host file's services that this host runs, on the
 * project's own network, each published on the host's private address. The release command's one-off
 * service is in the file of the first app host that runs its service only.
 */
export function renderHostSlotCompose(m: Manifest, host: Host, o: HostSlotRender): string {
  const one = yamlLib().parse(
    renderSlotCompose(m, { slot: o.slot, version: o.version, netPrefix: '0.0.0', vars: accessoryVariables(m) }),
  ) as Yaml
  const mine = hostInstances(m, o.slot, o.publishBase).filter((x) => x.host.name === host.name)
  const services: Yaml = {}
  const from = one.services as Record<string, Yaml>
  for (const x of mine) {
    const { networks: _, ...rest } = from[x.name]!
    services[x.name] = { ...rest, ports: [`${host.address}:${x.port}:${x.service.port}`] }
  }
  const releaseHost = m.release && appHosts(m).find((h) => h.services.includes(m.release!.service))
  if (from.release && releaseHost?.name === host.name) {
    const { networks: _, ...rest } = from.release
    services.release = rest
  }
  const { networks: _n, services: _s, ...others } = one
  return (
    header(m, `slot ${o.slot}, version ${o.version}, host ${host.name}`) +
    yamlLib().stringify({ services, ...others }, { lineWidth: 0, aliasDuplicateObjects: false })
  )
}

/** The app hosts that run accessories (named in their `accessories:`), started over SSH beside the core. */
export const accessoryHosts = (m: Manifest): ManifestHost[] => appHosts(m).filter((h) => h.accessories.length > 0)

/**
 * The compose file of the accessories an app host runs: the one-host services of those accessories on the
 * project's own network, each published on the host's private address at its port (<NAME>_HOST:<NAME>_PORT of
 * the services). No build, secrets or backup recipe (the manifest refuses them on an app host).
 */
export function renderHostAccessoriesCompose(m: Manifest, host: ManifestHost): string {
  const mine = m.accessories.filter((a) => host.accessories.includes(a.name))
  const { hosts: _h, ...single } = m
  const one = yamlLib().parse(renderAccessoriesCompose({ ...single, accessories: mine }, '0.0.0')) as Yaml
  const services: Yaml = {}
  for (const a of mine) {
    const { networks: _, ports: _p, ...rest } = (one.services as Record<string, Yaml>)[a.name]!
    services[a.name] = { ...rest, ports: [`${host.address}:${a.port}:${a.port}`] }
  }
  const { networks: _n, services: _s, ...others } = one
  return (
    header(m, `accessories on host ${host.name}`) +
    yamlLib().stringify({ services, ...others }, { lineWidth: 0, aliasDuplicateObjects: false })
  )
}

export type HostUpstreams = { publishBase?: number; drained?: readonly string[]; keepalive?: number }

/**
 * upstream <service>_<slot> with a server per host and replica; a drained host's servers are `down`.
 * A server that refuses a connection is skipped for 5 s (max_fails=1) and the request tried on the next.
 */
export function renderHostUpstreams(m: Manifest, o: HostUpstreams = {}): string {
  const drained = new Set(o.drained ?? [])
  const blocks: string[] = []
  for (const slot of SLOTS) {
    const all = hostInstances(m, slot, o.publishBase)
    for (const s of m.services) {
      // replica by replica across hosts, so the next server tried after a failure is on another host
      const servers = all
        .filter((x) => x.service === s)
        .sort((a, b) => a.replica - b.replica)
        .map(
          (x) =>
            `    server ${x.address}:${x.port} max_fails=1 fail_timeout=5s${drained.has(x.host.name) ? ' down' : ''}; # ${x.host.name} ${x.name}\n`,
        )
      blocks.push(
        `upstream ${s.name}_${slot} {\n${servers.join('')}    keepalive ${o.keepalive ?? 16};\n    keepalive_timeout 60s;\n}\n`,
      )
    }
  }
  return `# Generated from ${m.file} for ${m.name} by lib/manifest/render-hosts.ts (${appHosts(m).length} app hosts${drained.size ? `; drained: ${[...drained].join(', ')}` : ''}). Do not edit.\n${blocks.join('')}`
}

/** The app's nginx files across hosts: these upstreams, the one-host zones and locations. */
export function renderHostsNginx(m: Manifest, o: HostUpstreams = {}, snippets = SNIPPETS): AppNginxFiles {
  return {
    'upstreams.conf': renderHostUpstreams(m, o),
    'app-zones.conf': renderAppZones(m),
    'app-locations.conf': renderAppLocations(m, snippets),
  }
}

/**
 * Why draining `drained` is refused (empty: it may be done): an unknown or non-app host, or a service that
 * would be left with no host serving it.
 */
export function drainProblems(m: Manifest, drained: readonly string[]): string[] {
  const apps = appHosts(m)
  const out = drained
    .filter((n) => !apps.some((h) => h.name === n))
    .map((n) => `${n} is not an app host of ${m.name}; expected one of: ${apps.map((h) => h.name).join(', ')}`)
  for (const s of m.services)
    if (!apps.some((h) => h.services.includes(s.name) && !drained.includes(h.name)))
      out.push(`no host would serve ${s.name}: every app host running it would be drained`)
  return out
}
