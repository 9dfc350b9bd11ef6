// The manifest's rules about hosts (#16), past what a shape can say: addresses as ssh and Docker take them,
// the host list's own rules (lib/hosts.ts: unique names, one machine once, exactly one balancer), at least one
// app host, services and accessories that exist, each accessory on one host, every service on some app host, and
// an accessory on an app host that needs nothing of the balancer's (no build, secrets or backup recipe).
import { hostListProblems, validAddress, type Host } from '../hosts.ts'
import { isMapping, type ManifestPath, type Problem } from './check-shape.ts'

type Raw = Record<string, unknown>

const mapping = (v: unknown): Raw => (isMapping(v) ? v : {})
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const show = (v: unknown) => JSON.stringify(v)

export function checkHosts(doc: Raw, at: ManifestPath = []): Problem[] {
  if (!Array.isArray(doc.hosts)) return []
  const raw = doc.hosts.map(mapping)
  const services = Object.keys(mapping(doc.services))
  const accessories = Object.keys(mapping(doc.accessories))
  const out: Problem[] = []
  const asHost = (h: Raw): Host => ({
    name: String(h.name),
    address: String(h.address),
    user: String(h.user ?? 'root'),
    port: Number(h.port ?? 22),
    role: h.role === 'balancer' ? 'balancer' : 'app',
  })
  raw.forEach((h, i) => {
    if (!validAddress(String(h.address)))
      out.push({
        path: [...at, 'hosts', i, 'address'],
        message: `${show(h.address)} is not an IPv4 address or a DNS name`,
      })
    if (h.role === 'balancer' && h.services !== undefined)
      out.push({
        path: [...at, 'hosts', i, 'services'],
        onKey: true,
        message: 'the balancer runs no slot services; expected services only on hosts with role app',
      })
    out.push(...unknownNames(h.services, services, 'service', [...at, 'hosts', i, 'services']))
    out.push(...unknownNames(h.accessories, accessories, 'accessory', [...at, 'hosts', i, 'accessories']))
  })
  for (const p of hostListProblems(raw.map(asHost)))
    out.push({ path: p.index === undefined ? [...at, 'hosts'] : [...at, 'hosts', p.index, 'name'], message: p.message })
  const apps = raw.filter((h) => h.role !== 'balancer')
  if (!apps.length)
    out.push({ path: [...at, 'hosts'], message: 'no app host; expected at least one host with role app' })
  for (const s of services)
    if (apps.length && !apps.some((h) => h.services === undefined || list(h.services).includes(s)))
      out.push({
        path: [...at, 'hosts'],
        message: `no app host runs service ${show(s)}; add it to the services: of at least one app host`,
      })
  const placed = new Map<string, number>()
  raw.forEach((h, i) => {
    for (const a of list(h.accessories).map(String)) {
      const first = placed.get(a)
      if (first !== undefined)
        out.push({
          path: [...at, 'hosts', i, 'accessories'],
          message: `accessory ${show(a)} is also on hosts[${first}]; expected each accessory on one host`,
        })
      else {
        placed.set(a, i)
        if (h.role !== 'balancer')
          out.push(
            ...remoteAccessoryProblems(mapping(mapping(doc.accessories)[a]), a, String(h.name), [...at, 'hosts', i]),
          )
      }
    }
  })
  return out
}

/**
 * An accessory on an app host is started there over SSH from the file generated on the balancer: what needs the
 * balancer's own disk cannot go with it (a build context, the secret files, the backups taken in its container).
 */
function remoteAccessoryProblems(a: Raw, name: string, host: string, path: ManifestPath): Problem[] {
  const needs = [
    ['build', 'a build runs on the balancer: build and push the image, and give image: only'],
    ['secrets', 'secret files live on the balancer: pass the value some other way, or keep it on the balancer'],
    ['backup', "backups run in the balancer's containers: keep an accessory with a backup recipe on the balancer"],
  ] as const
  return needs
    .filter(([key]) => a[key] !== undefined && !(Array.isArray(a[key]) && !a[key].length))
    .map(([key, why]) => ({
      path: [...path, 'accessories'],
      message: `accessory ${show(name)} on app host ${show(host)} has ${key}:, but ${why}`,
    }))
}

function unknownNames(v: unknown, known: string[], what: string, path: ManifestPath): Problem[] {
  return list(v).flatMap((name, i) =>
    known.includes(String(name))
      ? []
      : [{ path: [...path, i], message: `no ${what} ${show(name)}; expected one of: ${known.join(', ') || '(none)'}` }],
  )
}
