// Pure: what health-check asks of an app, from its manifest: per service, the public path that reaches it (one of
// its routes plus its readiness path, as nginx would route it), per slot every replica's readiness URL (the
// generated list, lib/manifest/render-monitoring.ts healthProbes), and the accessories that have a store probe.
import { accessoryOctets } from '../manifest/allocate.ts'
import { accessoryVariables } from '../manifest/render-hosts.ts'
import { healthProbes, type HealthProbe } from '../manifest/render-monitoring.ts'
import type { Manifest, Route } from '../manifest/types.ts'
import type { Slot } from '../model.ts'

/** A request through the public listener that reaches `service` (with `host` as Host header for a host route). */
export type PublicProbe = { service: string; path: string; host?: string }

/** The service nginx sends `path` (and Host `host`) to: the longest route prefix, a host route first. */
export function servedBy(routes: readonly Route[], path: string, host?: string): string | undefined {
  const prefixes = routes.map((r) => r.path).filter((p) => path.startsWith(p))
  if (!prefixes.length) return undefined
  const longest = prefixes.reduce((a, b) => (b.length > a.length ? b : a))
  const here = routes.filter((r) => r.path === longest)
  const byHost = host === undefined ? undefined : here.find((r) => r.host === host)
  if (byHost) return byHost.service
  const plain = here.find((r) => r.host === undefined)
  if (plain) return plain.service
  const fallback = routes
    .filter((r) => r.host === undefined && path.startsWith(r.path))
    .sort((a, b) => b.path.length - a.path.length)[0]
  return fallback?.service
}

/**
 * Per service, the public request of its readiness: a route of the service (shortest prefix first, open routes
 * before IP-restricted ones) whose prefix plus the readiness path nginx really sends to that service. A service
 * no route reaches has none (its slot probes still ask it).
 */
export function publicProbes(m: Manifest): PublicProbe[] {
  return m.services.flatMap((s) => {
    const mine = m.routes
      .filter((r) => r.service === s.name)
      .sort((a, b) => Number(!!a.allow) - Number(!!b.allow) || a.path.length - b.path.length)
    for (const r of mine) {
      const path = `${r.path.replace(/\/$/, '')}${s.readiness}`
      if (servedBy(m.routes, path, r.host) === s.name)
        return [{ service: s.name, path, ...(r.host ? { host: r.host } : {}) }]
    }
    return []
  })
}

/** Every replica of a slot at its address and readiness path (the host reaches the stack's network). */
export function slotProbes(m: Manifest, netPrefix: string, slot: Slot): HealthProbe[] {
  return healthProbes(m, netPrefix, slot)
}

/** The store probes health-check runs: an accessory named postgres or redis (the toolkit's own stores). */
export function storeChecks(m: Manifest): Array<'postgres' | 'redis'> {
  const names = new Set(m.accessories.map((a) => a.name))
  return (['postgres', 'redis'] as const).filter((n) => names.has(n))
}

/**
 * The other accessories, probed by a TCP connection to their address and port: on this machine's network, or with
 * hosts (#16) where the app reaches them, the address of the host that runs each (<NAME>_HOST).
 */
export function accessoryProbes(m: Manifest, netPrefix: string): Array<{ name: string; host: string; port: number }> {
  const octets = accessoryOctets(m)
  const stores: readonly string[] = storeChecks(m)
  const across = m.hosts ? accessoryVariables(m) : undefined
  return m.accessories
    .filter((a) => !stores.includes(a.name))
    .map((a) => ({
      name: a.name,
      host: across?.[`${a.name.toUpperCase()}_HOST`] ?? `${netPrefix}.${octets[a.name]}`,
      port: a.port,
    }))
}
