// Pure: the compose file of one slot (every service x replica at its static address, readiness as the
// healthcheck, the release command as a one-off service) and of the accessories, from a manifest. Values from
// the manifest are escaped for compose ($ -> $$); the run-time ones (${VAR_DIR}, ${NETWORK_NAME}) come from the
// compose environment (lib/compose.ts composeEnv).
import path from 'node:path'
import { yamlLib } from './yaml-lib.ts'
import { accessoryOctets, slotInstances, toolkitVariables, type AppSlot, type Instance } from './allocate.ts'
import type { Accessory, Manifest, Resources } from './types.ts'

export type SlotRender = {
  slot: AppSlot
  version: string
  netPrefix: string
  /** toolkit variables that replace the one-host ones (several hosts: where each accessory is published) */
  vars?: Record<string, string>
  /**
   * the release left to compose's ${VERSION} (one file serves every release of the slot; `version` unused), and
   * the images of the repository `pinImage` replaceable by ${APP_IMAGE_REF} (a release pinned by its digest) and
   * taken from `repository` (the same image in a registry, APP_IMAGE) when given
   */
  versionFromEnv?: { pinImage?: string; repository?: string }
  /** environment every service gets besides its own (the toolkit's passthrough of APP_<NAME> settings) */
  env?: Record<string, string>
}

type Yaml = Record<string, unknown>

const LOGGING = { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '5' } }

/** ${NAME} of the toolkit's variables resolved, every other $ escaped for compose. */
export function resolveValue(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z0-9_]+)\}|\$/g, (m, name: string | undefined) => {
    if (m === '$$') return '$$'
    if (name !== undefined && vars[name] !== undefined) return composeLiteral(vars[name])
    return `$${m}`
  })
}

/** a literal value for compose: every $ doubled (compose would interpolate it) */
export const composeLiteral = (v: string): string => v.split('$').join('$$')
const limits = (r: Resources) => ({ resources: { limits: { cpus: String(r.cpus), memory: r.memory } } })

/** a marker for the release in a file left to compose's ${VERSION}: resolved values are escaped around it */
const VERSION_MARK = '\u0001VERSION\u0001'
// biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolates it, not JavaScript
const VERSION_VAR = '${VERSION:?VERSION is required}'

/** The image of a service: its repository and the release (or the pinned digest compose is given). */
function imageOf(s: Instance['service'], o: SlotRender): string {
  if (!o.versionFromEnv) return composeLiteral(`${s.image}:${o.version}`)
  if (o.versionFromEnv.pinImage !== s.image) return `${composeLiteral(s.image)}:${VERSION_VAR}`
  return `\${APP_IMAGE_REF:-${composeLiteral(o.versionFromEnv.repository ?? s.image)}:${VERSION_VAR}}`
}

function instanceService(m: Manifest, x: Instance, o: SlotRender): Yaml {
  const s = x.service
  const version = o.versionFromEnv ? VERSION_MARK : o.version
  const vars: Record<string, string> = {
    ...toolkitVariables(m, o.netPrefix),
    ...o.vars,
    SLOT: o.slot,
    VERSION: version,
    SERVICE: s.name,
    REPLICA: String(x.replica),
  }
  const ver = (v: string) => v.split(VERSION_MARK).join(VERSION_VAR)
  const env = Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, ver(resolveValue(v, vars))]))
  const extra = Object.fromEntries(Object.entries(o.env ?? {}).map(([k, v]) => [k, composeLiteral(v)]))
  return {
    image: imageOf(s, o),
    ...(s.command ? { command: s.command.map(composeLiteral) } : {}),
    restart: 'unless-stopped',
    stop_grace_period: s.stopGrace,
    environment: {
      ...extra,
      ...env,
      SLOT: o.slot,
      VERSION: ver(composeLiteral(version)),
      SERVICE: s.name,
      REPLICA: String(x.replica),
    },
    ...(s.secrets.length ? { secrets: s.secrets } : {}),
    labels: {
      'dms.slot': o.slot,
      'dms.version': ver(composeLiteral(version)),
      'dms.role': s.name,
      'dms.replica': String(x.replica),
    },
    networks: { app: { ipv4_address: `${o.netPrefix}.${x.octet}` } },
    logging: LOGGING,
    deploy: limits(s.resources),
    healthcheck: {
      test: ['CMD', 'curl', '-fsS', '-o', '/dev/null', composeLiteral(`http://127.0.0.1:${s.port}${s.readiness}`)],
      interval: '2s',
      timeout: '3s',
      retries: 3,
      start_period: '30s',
    },
  }
}

function secretsBlock(names: string[]): Yaml {
  return Object.fromEntries(names.map((n) => [n, { file: `\${VAR_DIR}/secrets/${n}` }]))
}

const NETWORK = { app: { name: `\${NETWORK_NAME:?NETWORK_NAME is required}`, external: true } }

/** The compose file of one slot's project. */
export function renderSlotCompose(m: Manifest, o: SlotRender): string {
  const services: Yaml = {}
  for (const x of slotInstances(m, o.slot)) services[x.name] = instanceService(m, x, o)
  if (m.release) {
    const owner = m.services.find((s) => s.name === m.release!.service)!
    const first = slotInstances(m, o.slot).find((x) => x.service === owner)!
    const base = instanceService(m, first, o)
    services.release = {
      ...base,
      profiles: ['release'],
      restart: 'no',
      command: m.release.command.map(composeLiteral),
      healthcheck: { disable: true },
      labels: { ...(base.labels as Yaml), 'dms.role': 'release' },
      networks: { app: {} },
    }
  }
  const used = [...new Set(m.services.flatMap((s) => s.secrets))]
  return (
    header(m, `slot ${o.slot}, version ${o.versionFromEnv ? 'VERSION of its environment' : o.version}`) +
    yamlLib().stringify(
      { services, networks: NETWORK, ...(used.length ? { secrets: secretsBlock(used) } : {}) },
      { lineWidth: 0, aliasDuplicateObjects: false },
    )
  )
}

/** Where an accessory is published on the host's loopback: a port, or the target's setting (compose's ${NAME}). */
function publishSpec(a: Accessory): string {
  const p = a.publish!
  const host = /^[0-9]+$/.test(p)
    ? p
    : `\${${p}:?${p} is not set: the port ${a.name} is published on (manifest publish:)}`
  return `127.0.0.1:${host}:${a.port}`
}

/**
 * The accessories this machine's core project runs: every one, or with hosts (#16) the balancer's, each also
 * published on the balancer's address at its port (where the app hosts reach it: <NAME>_HOST:<NAME>_PORT).
 */
export function localAccessories(m: Manifest): { accessories: Accessory[]; address?: string } {
  if (!m.hosts) return { accessories: m.accessories }
  const balancer = m.hosts.find((h) => h.role === 'balancer')
  return {
    accessories: m.accessories.filter((a) => balancer?.accessories.includes(a.name)),
    ...(balancer ? { address: balancer.address } : {}),
  }
}

function accessoryService(m: Manifest, a: Accessory, octet: number, netPrefix: string, address?: string): Yaml {
  const vars = toolkitVariables(m, netPrefix)
  const ports = [...(a.publish ? [publishSpec(a)] : []), ...(address ? [`${address}:${a.port}:${a.port}`] : [])]
  return {
    image: composeLiteral(a.image),
    ...(a.build
      ? {
          build: {
            context: composeLiteral(path.resolve(path.dirname(m.file), a.build)),
            network: 'host',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolates it, not JavaScript
            args: { BASE_IMAGE: '${BASE_IMAGE:-debian:bookworm-slim}' },
          },
        }
      : {}),
    ...(a.command ? { command: a.command.map(composeLiteral) } : {}),
    restart: 'unless-stopped',
    stop_grace_period: a.stopGrace,
    environment: Object.fromEntries(Object.entries(a.env).map(([k, v]) => [k, resolveValue(v, vars)])),
    ...(a.secrets.length ? { secrets: a.secrets } : {}),
    ...(a.volumes.length ? { volumes: a.volumes } : {}),
    labels: { 'dms.component': a.name },
    networks: { app: { ipv4_address: `${netPrefix}.${octet}` } },
    ...(ports.length ? { ports } : {}),
    logging: LOGGING,
    deploy: limits(a.resources),
  }
}

/** The compose file of the accessories this machine runs (empty `services` for an app without any). */
export function renderAccessoriesCompose(m: Manifest, netPrefix: string): string {
  const octets = accessoryOctets(m)
  const { accessories, address } = localAccessories(m)
  const services = Object.fromEntries(
    accessories.map((a) => [a.name, accessoryService(m, a, octets[a.name]!, netPrefix, address)]),
  )
  const volumes = [...new Set(accessories.flatMap((a) => a.volumes.map((v) => v.split(':')[0]!)))]
  const used = [...new Set(accessories.flatMap((a) => a.secrets))]
  return (
    header(m, 'accessories') +
    yamlLib().stringify(
      {
        services,
        networks: NETWORK,
        ...(volumes.length ? { volumes: Object.fromEntries(volumes.map((v) => [v, {}])) } : {}),
        ...(used.length ? { secrets: secretsBlock(used) } : {}),
      },
      { lineWidth: 0, aliasDuplicateObjects: false },
    )
  )
}

/** The first line of a file generated from the manifest: where from, for what, do not edit. */
export const header = (m: Manifest, what: string) =>
  `# Generated from ${m.file}${m.target ? ` (target ${m.target})` : ''} for ${m.name}: ${what}. Do not edit.\n`
