// Pure: the compose file of one slot (every service x replica at its static address, readiness as the
// healthcheck, the release command as a one-off service) and of the accessories, from a manifest. Values from
// the manifest are escaped for compose ($ -> $$); the run-time ones (${VAR_DIR}, ${NETWORK_NAME}) come from the
// compose environment (lib/compose.ts composeEnv).
import { yamlLib } from './yaml-lib.ts'
import { accessoryOctets, slotInstances, toolkitVariables, type AppSlot, type Instance } from './allocate.ts'
import type { Accessory, Manifest, Resources } from './types.ts'

export type SlotRender = {
  slot: AppSlot
  version: string
  netPrefix: string
  /** toolkit variables that replace the one-host ones (several hosts: where each accessory is published) */
  vars?: Record<string, string>
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

function instanceService(m: Manifest, x: Instance, o: SlotRender): Yaml {
  const s = x.service
  const vars: Record<string, string> = {
    ...toolkitVariables(m, o.netPrefix),
    ...o.vars,
    SLOT: o.slot,
    VERSION: o.version,
    SERVICE: s.name,
    REPLICA: String(x.replica),
  }
  const env = Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, resolveValue(v, vars)]))
  return {
    image: composeLiteral(`${s.image}:${o.version}`),
    ...(s.command ? { command: s.command.map(composeLiteral) } : {}),
    restart: 'unless-stopped',
    stop_grace_period: s.stopGrace,
    environment: {
      ...env,
      SLOT: o.slot,
      VERSION: composeLiteral(o.version),
      SERVICE: s.name,
      REPLICA: String(x.replica),
    },
    ...(s.secrets.length ? { secrets: s.secrets } : {}),
    labels: {
      'dms.slot': o.slot,
      'dms.version': composeLiteral(o.version),
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
    header(m, `slot ${o.slot}, version ${o.version}`) +
    yamlLib().stringify(
      { services, networks: NETWORK, ...(used.length ? { secrets: secretsBlock(used) } : {}) },
      { lineWidth: 0, aliasDuplicateObjects: false },
    )
  )
}

function accessoryService(a: Accessory, octet: number, netPrefix: string): Yaml {
  return {
    image: composeLiteral(a.image),
    ...(a.command ? { command: a.command.map(composeLiteral) } : {}),
    restart: 'unless-stopped',
    stop_grace_period: a.stopGrace,
    environment: Object.fromEntries(Object.entries(a.env).map(([k, v]) => [k, composeLiteral(v)])),
    ...(a.secrets.length ? { secrets: a.secrets } : {}),
    ...(a.volumes.length ? { volumes: a.volumes } : {}),
    labels: { 'dms.component': a.name },
    networks: { app: { ipv4_address: `${netPrefix}.${octet}` } },
    logging: LOGGING,
    deploy: limits(a.resources),
  }
}

/** The compose file of the accessories (empty `services` for an app without any). */
export function renderAccessoriesCompose(m: Manifest, netPrefix: string): string {
  const octets = accessoryOctets(m)
  const services = Object.fromEntries(
    m.accessories.map((a) => [a.name, accessoryService(a, octets[a.name]!, netPrefix)]),
  )
  const volumes = [...new Set(m.accessories.flatMap((a) => a.volumes.map((v) => v.split(':')[0]!)))]
  const used = [...new Set(m.accessories.flatMap((a) => a.secrets))]
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

const header = (m: Manifest, what: string) =>
  `# Generated from ${m.file}${m.target ? ` (target ${m.target})` : ''} for ${m.name}: ${what}. Do not edit.\n`
