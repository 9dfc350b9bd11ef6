// The manifest's rules across keys, past what a shape can say: one default route, no duplicate routes, every
// route served by a defined service, every secret defined, the release command's service defined, no cached
// route in front of a readiness path. Input is a manifest whose shape already passed
// (lib/manifest/check-shape.ts); every problem is collected.
import { MAX_ACCESSORIES, MAX_PER_SLOT, referenceNames } from './allocate.ts'
import { isMapping, type ManifestPath, type Problem } from './check-shape.ts'
import { checkHosts } from './rules-hosts.ts'

type Raw = Record<string, unknown>

const mapping = (v: unknown): Raw => (isMapping(v) ? v : {})
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const show = (v: unknown) => JSON.stringify(v)

export function checkRules(doc: Raw, at: ManifestPath = []): Problem[] {
  const services = mapping(doc.services)
  const names = Object.keys(services)
  const defined = new Set(list(doc.secrets).map(String))
  const out: Problem[] = []
  out.push(...checkRoutes(list(doc.routes), names, at), ...checkZones(list(doc.routes), at))
  const page = doc.rate_limit_page
  if (isMapping(page) && !names.includes(String(page.service)))
    out.push({
      path: [...at, 'rate_limit_page', 'service'],
      message: `service ${show(page.service)} is not defined; expected one of: ${names.join(', ')}`,
    })
  const secretUsers: Array<[string, unknown]> = [
    ...Object.entries(services).map(([n, s]): [string, unknown] => [`services.${n}`, s]),
    ...Object.entries(mapping(doc.accessories)).map(([n, a]): [string, unknown] => [`accessories.${n}`, a]),
  ]
  for (const [where, s] of secretUsers) {
    list(mapping(s).secrets).forEach((name, i) => {
      if (!defined.has(String(name)))
        out.push({
          path: [...at, ...where.split('.'), 'secrets', i],
          message: `secret ${show(name)} is not defined; add it to the top-level secrets: list (its value goes in env/.env.<target>.local)`,
        })
    })
  }
  const builtBy = new Map<string, string>()
  for (const [n, sv] of Object.entries(services)) {
    const { image, build } = mapping(sv)
    if (build === undefined) continue
    const first = builtBy.get(String(image))
    if (first !== undefined && first !== String(build))
      out.push({
        path: [...at, 'services', n, 'build'],
        message: `image ${show(image)} is built from ${show(first)} by another service; expected one build directory per image`,
      })
    else builtBy.set(String(image), String(build))
  }
  const accessories = Object.keys(mapping(doc.accessories))
  for (const [n, a] of Object.entries(mapping(doc.accessories)))
    if (/^[0-9]+$/.test(String(mapping(a).publish ?? '')) && Number(mapping(a).publish) > 65535)
      out.push({
        path: [...at, 'accessories', n, 'publish'],
        message: `port ${show(mapping(a).publish)} is out of range; expected a TCP port from 1 to 65535`,
      })
  for (const n of accessories.filter((a) => names.includes(a)))
    out.push({
      path: [...at, 'accessories', n],
      onKey: true,
      message: `${show(n)} is both a service and an accessory; expected distinct names`,
    })
  out.push(
    ...checkCounts(doc, at),
    ...checkReferences(services, accessories, at, doc),
    ...checkCache(doc, at),
    ...checkHosts(doc, at),
  )
  const release = doc.release
  if (isMapping(release) && !names.includes(String(release.service)))
    out.push({
      path: [...at, 'release', 'service'],
      message: `service ${show(release.service)} is not defined; expected one of: ${names.join(', ')}`,
    })
  return out
}

function checkRoutes(routes: unknown[], services: string[], at: ManifestPath): Problem[] {
  const out: Problem[] = []
  const seen = new Map<string, number>()
  let defaults = 0
  routes.forEach((r, i) => {
    const route = mapping(r)
    const key = `${route.host ?? ''} ${route.path}`
    const first = seen.get(key)
    if (first !== undefined)
      out.push({
        path: [...at, 'routes', i, 'path'],
        message: `duplicate route ${show(route.path)}${route.host ? ` for host ${show(route.host)}` : ''} (routes[${first}] has it); expected each path and host once`,
      })
    else seen.set(key, i)
    if (route.path === '/' && route.host === undefined) defaults++
    if (!services.includes(String(route.service)))
      out.push({
        path: [...at, 'routes', i, 'service'],
        message: `no service ${show(route.service)} serves this route; expected one of: ${services.join(', ')}`,
      })
  })
  if (defaults === 0 && routes.length > 0)
    out.push({
      path: [...at, 'routes'],
      message: 'no default route; expected exactly one route with path "/" and no host',
    })
  return out
}

/** The name of a route's rate-limit zone: its own, or route<index>. */
export const zoneName = (zone: unknown, index: number): string => (zone === undefined ? `route${index}` : String(zone))

/** Each rate-limited route has its own zone: one name twice would make nginx refuse the configuration. */
function checkZones(routes: unknown[], at: ManifestPath): Problem[] {
  const out: Problem[] = []
  const seen = new Map<string, number>()
  routes.forEach((r, i) => {
    const limit = mapping(r).rate_limit
    if (!isMapping(limit)) return
    const name = zoneName(limit.zone, i)
    const first = seen.get(name)
    if (first === undefined) seen.set(name, i)
    else
      out.push({
        path: [...at, 'routes', i, 'rate_limit', 'zone'],
        message: `zone ${show(name)} is already routes[${first}]'s; expected a name used once`,
      })
  })
  return out
}

/** Addresses exist for at most MAX_PER_SLOT containers per slot and MAX_ACCESSORIES accessories. */
function checkCounts(doc: Raw, at: ManifestPath): Problem[] {
  const out: Problem[] = []
  const perSlot = Object.values(mapping(doc.services)).reduce<number>(
    (n, s) => n + (Number(mapping(s).replicas) || 1),
    0,
  )
  if (perSlot > MAX_PER_SLOT)
    out.push({
      path: [...at, 'services'],
      message: `${perSlot} containers per slot (services x replicas); expected at most ${MAX_PER_SLOT}`,
    })
  const acc = Object.keys(mapping(doc.accessories)).length
  if (acc > MAX_ACCESSORIES)
    out.push({ path: [...at, 'accessories'], message: `${acc} accessories; expected at most ${MAX_ACCESSORIES}` })
  return out
}

/** ${NAME} in a service's or an accessory's env must name a variable the toolkit provides there. */
function checkReferences(services: Raw, accessories: string[], at: ManifestPath, doc: Raw = {}): Problem[] {
  const out: Problem[] = []
  const check = (kind: 'services' | 'accessories', all: Raw) => {
    const known = referenceNames(accessories, kind === 'accessories')
    for (const [name, s] of Object.entries(all))
      for (const [k, v] of Object.entries(mapping(mapping(s).env)))
        for (const ref of String(v).matchAll(/\$\{([^}]*)\}/g))
          if (!known.includes(ref[1]!))
            out.push({
              path: [...at, kind, name, 'env', k],
              message: `\${${ref[1]}} is not a toolkit variable; expected one of: ${known.join(', ')} (write $$ for a literal $)`,
            })
  }
  check('services', services)
  check('accessories', mapping(doc.accessories))
  return out
}

/**
 * A cached route must not answer a service's readiness path: probes through the preview listener would read the
 * cache, not the service. (Metrics paths never reach a route: the public listeners answer them 404.)
 */
function checkCache(doc: Raw, at: ManifestPath): Problem[] {
  const routes = list(doc.routes).map(mapping)
  const hostless = routes.map((r, n) => [r, n] as const).filter(([r]) => r.host === undefined)
  const answering = new Map<number, string[]>()
  for (const [name, s] of Object.entries(mapping(doc.services))) {
    const p = mapping(s).readiness
    if (typeof p !== 'string') continue
    // the route nginx picks for it: the longest matching hostless prefix
    const i = hostless
      .filter(([r]) => p.startsWith(String(r.path)))
      .sort(([a], [b]) => String(b.path).length - String(a.path).length)[0]?.[1]
    if (i !== undefined && routes[i]!.cache !== undefined)
      answering.set(i, [...(answering.get(i) ?? []), `${name} ${p}`])
  }
  return [...answering].map(([i, paths]) => ({
    path: [...at, 'routes', i, 'cache'],
    message: `route ${show(routes[i]!.path)} is cached and answers the readiness path of ${paths.join(', ')}, so probes would read the cache; expected cache only on routes of static assets (a route like /static/ of its own)`,
  }))
}
