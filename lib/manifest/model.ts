// From a validated manifest (plain YAML values) to the typed model, with every default applied in one place.
import type { Accessory, Manifest, ManifestHost, Resources, Route, Service, SmokeCheck } from './types.ts'

type Raw = Record<string, unknown>
const obj = (v: unknown): Raw => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {})
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [])
const argv = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map(String) : undefined)
const env = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(obj(v)).map(([k, x]) => [k, String(x)]))
const optStr = (v: unknown): string | undefined => (v === undefined ? undefined : String(v))

export const DEFAULTS = {
  cpus: 0.5,
  memory: '256m',
  stopGrace: '30s',
  replicas: 1,
  checkStatus: 200,
  method: 'GET',
  load: { requests: 300, concurrency: 4, maxErrorRate: 0.01, maxP95Ms: 1500 },
} as const

function resources(v: unknown): Resources {
  const r = obj(v)
  return { cpus: (r.cpus as number) ?? DEFAULTS.cpus, memory: optStr(r.memory) ?? DEFAULTS.memory }
}

function service(name: string, v: unknown): Service {
  const s = obj(v)
  return {
    name,
    image: String(s.image),
    ...(s.build === undefined ? {} : { build: String(s.build) }),
    command: argv(s.command),
    port: s.port as number,
    readiness: String(s.readiness),
    metrics: optStr(s.metrics),
    env: env(s.env),
    secrets: strs(s.secrets),
    resources: resources(s.resources),
    stopGrace: optStr(s.stop_grace) ?? DEFAULTS.stopGrace,
    replicas: (s.replicas as number) ?? DEFAULTS.replicas,
  }
}

function route(v: unknown): Route {
  const r = obj(v)
  const rl = r.rate_limit === undefined ? undefined : obj(r.rate_limit)
  return {
    path: String(r.path),
    host: optStr(r.host),
    service: String(r.service),
    rateLimit: rl && { rate: String(rl.rate), burst: (rl.burst as number) ?? 0, zone: optStr(rl.zone) },
    allow: r.allow === undefined ? undefined : strs(r.allow),
    cache: optStr(r.cache),
  }
}

function rateLimitPage(v: unknown): { service: string; path: string } {
  const p = obj(v)
  return { service: String(p.service), path: String(p.path) }
}

function accessory(name: string, v: unknown): Accessory {
  const a = obj(v)
  const b = a.backup === undefined ? undefined : obj(a.backup)
  return {
    name,
    image: String(a.image),
    ...(a.build === undefined ? {} : { build: String(a.build) }),
    command: argv(a.command),
    port: a.port as number,
    ...(a.publish === undefined ? {} : { publish: String(a.publish) }),
    env: env(a.env),
    secrets: strs(a.secrets),
    volumes: strs(a.volumes),
    resources: resources(a.resources),
    stopGrace: optStr(a.stop_grace) ?? DEFAULTS.stopGrace,
    backup: b && {
      command: strs(b.command),
      restore: strs(b.restore),
      ...(b.verify === undefined ? {} : { verify: strs(b.verify) }),
      ...(b.check === undefined ? {} : { check: String(b.check) }),
    },
  }
}

function check(v: unknown): SmokeCheck {
  const c = obj(v)
  return {
    name: String(c.name),
    method: optStr(c.method) ?? DEFAULTS.method,
    path: String(c.path),
    headers: env(c.headers),
    body: optStr(c.body),
    status: (c.status as number) ?? DEFAULTS.checkStatus,
    bodyContains: optStr(c.body_contains),
    jsonField: optStr(c.json_field),
  }
}

/** The hosts with their defaults: user root, port 22, role app; every slot service on each app host; the
 * accessories no host names on the balancer. */
export function hostsModel(raw: unknown[], services: string[], accessories: string[]): ManifestHost[] {
  const named = new Set(raw.flatMap((h) => strs(obj(h).accessories)))
  return raw.map((v) => {
    const h = obj(v)
    const role = h.role === 'balancer' ? 'balancer' : 'app'
    return {
      name: String(h.name),
      address: String(h.address),
      user: optStr(h.user) ?? 'root',
      port: (h.port as number) ?? 22,
      role,
      services: role === 'balancer' ? [] : (argv(h.services) ?? services),
      accessories: argv(h.accessories) ?? (role === 'balancer' ? accessories.filter((a) => !named.has(a)) : []),
    }
  })
}

export function toModel(raw: Raw, file: string, target?: string): Manifest {
  const rel = raw.release === undefined ? undefined : obj(raw.release)
  const smoke = obj(raw.smoke)
  const load = smoke.load === undefined ? undefined : obj(smoke.load)
  const d = DEFAULTS.load
  const services = Object.keys(obj(raw.services))
  const hosts = Array.isArray(raw.hosts)
    ? hostsModel(raw.hosts, services, Object.keys(obj(raw.accessories)))
    : undefined
  return {
    ...(hosts ? { hosts } : {}),
    name: String(raw.name),
    file,
    target,
    secrets: strs(raw.secrets),
    services: Object.entries(obj(raw.services)).map(([n, s]) => service(n, s)),
    routes: (Array.isArray(raw.routes) ? raw.routes : []).map(route),
    rateLimitPage: raw.rate_limit_page === undefined ? undefined : rateLimitPage(raw.rate_limit_page),
    accessories: Object.entries(obj(raw.accessories)).map(([n, a]) => accessory(n, a)),
    release: rel && {
      service: String(rel.service),
      command: strs(rel.command),
      pending: argv(rel.pending),
      contractMarker: optStr(rel.contract_marker),
      ...(rel.allow_contract === undefined ? {} : { allowContract: strs(rel.allow_contract) }),
    },
    smoke: {
      checks: (Array.isArray(smoke.checks) ? smoke.checks : []).map(check),
      load: load && {
        paths: strs(load.paths),
        requests: (load.requests as number) ?? d.requests,
        concurrency: (load.concurrency as number) ?? d.concurrency,
        maxErrorRate: (load.max_error_rate as number) ?? d.maxErrorRate,
        maxP95Ms: (load.max_p95_ms as number) ?? d.maxP95Ms,
      },
    },
  }
}
