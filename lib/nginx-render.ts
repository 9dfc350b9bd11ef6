// Pure rendering of the generated nginx includes (mounted at /etc/nginx/dms).
// Every value is validated before it reaches nginx syntax: a bad value throws an
// Error naming it, so no setting can inject directives.

import { renderAppLocations, renderAppUpstreams, renderAppZones } from './manifest/render-nginx.ts'
import { renderHostUpstreams, type HostUpstreams } from './manifest/render-hosts.ts'
import type { Manifest } from './manifest/types.ts'
import { DEFAULT_HSTS, renderTlsIncludes, TLS_INCLUDE_FILES, type HstsSettings } from './nginx-render-tls.ts'
import { STICKY_MODES, type StickyMode } from './day2/settings.ts'

export interface NginxSettings {
  /** First three octets of the docker subnet, e.g. "172.29.10". */
  netPrefix: string
  /** Address nginx listens on, e.g. "127.0.0.1" or "0.0.0.0". */
  listenAddr: string
  httpsPort: number
  httpPort: number
  previewPort: number
  statusPort: number
  /** CIDRs (or single IPv4 addresses) allowed on the status listener's protected paths. */
  statusAllow: string[]
  /** Idle keep-alive connections per upstream (default 16). */
  keepalive?: number
  /** The names served (server_name); empty or missing: any host name. */
  domains?: string[]
  /** Strict-Transport-Security options (default: two years, includeSubDomains). */
  hsts?: HstsSettings
  /** how a gradual shift splits clients (GRADUAL_STICKY, default cookie) */
  sticky?: StickyMode
  /** The app whose upstreams, rate-limit zones and locations nginx serves (none: no app locations). */
  app?: Manifest
  /** when the app names hosts (#16): their published ports and the drained hosts (lib/multihost-platform.ts) */
  hosts?: HostUpstreams
}

export const INCLUDE_FILES = [
  'listen-public.conf',
  'listen-preview.conf',
  'listen-http.conf',
  'listen-status.conf',
  'upstreams.conf',
  'app-locations.conf',
  'status-allow.conf',
  'gradual-split.conf',
  ...TLS_INCLUDE_FILES,
] as const

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
const PREFIX_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}$`)
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`)

const show = (v: unknown): string => JSON.stringify(v) ?? String(v)

function fail(name: string, value: unknown, expected: string): never {
  throw new Error(`Invalid nginx setting ${name}=${show(value)}: expected ${expected}`)
}

export function checkNetPrefix(value: unknown, name = 'netPrefix'): string {
  if (typeof value !== 'string' || !PREFIX_RE.test(value)) fail(name, value, 'three IPv4 octets like "172.29.10"')
  return value
}

export function checkIpv4(value: unknown, name = 'listenAddr'): string {
  if (typeof value !== 'string' || !IPV4_RE.test(value)) fail(name, value, 'an IPv4 address like "127.0.0.1"')
  return value
}

export function checkPort(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    fail(name, value, 'an integer port from 1 to 65535')
  }
  return value
}

/** "10.0.0.0/8", "127.0.0.1/32" or a bare address (taken as /32); host bits must be zero. */
export function checkCidr(value: unknown, name = 'statusAllow'): string {
  if (typeof value !== 'string') fail(name, value, 'an IPv4 CIDR like "127.0.0.1/32"')
  const [addr, bits, extra] = value.split('/')
  const len = bits === undefined ? 32 : /^(3[0-2]|[12]?[0-9])$/.test(bits) ? Number(bits) : NaN
  if (extra !== undefined || !IPV4_RE.test(addr) || Number.isNaN(len))
    fail(name, value, 'an IPv4 CIDR like "127.0.0.1/32"')
  const n = addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0)
  const hostBits = 2 ** (32 - len)
  if (n % hostBits !== 0) fail(name, value, `a network address (host bits zero) for /${len}`)
  return `${addr}/${len}`
}

function checkKeepalive(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1024) {
    fail('keepalive', value, 'an integer from 1 to 1024')
  }
  return value
}

/** Validates every field and returns a normalised copy. */
export function validateNginxSettings(
  s: NginxSettings,
): Required<Omit<NginxSettings, 'app' | 'hosts'>> & Pick<NginxSettings, 'app' | 'hosts'> {
  if (s === null || typeof s !== 'object') throw new Error(`Invalid nginx settings: expected an object, got ${show(s)}`)
  const ports = {
    httpsPort: checkPort(s.httpsPort, 'httpsPort'),
    httpPort: checkPort(s.httpPort, 'httpPort'),
    previewPort: checkPort(s.previewPort, 'previewPort'),
    statusPort: checkPort(s.statusPort, 'statusPort'),
  }
  const seen = new Map<number, string>()
  for (const [name, port] of Object.entries(ports)) {
    const other = seen.get(port)
    if (other)
      throw new Error(`Invalid nginx settings: ${other} and ${name} are both ${port}; each listener needs its own port`)
    seen.set(port, name)
  }
  if (!Array.isArray(s.statusAllow)) fail('statusAllow', s.statusAllow, 'an array of IPv4 CIDRs')
  return {
    netPrefix: checkNetPrefix(s.netPrefix),
    listenAddr: checkIpv4(s.listenAddr),
    ...ports,
    statusAllow: s.statusAllow.map((c, i) => checkCidr(c, `statusAllow[${i}]`)),
    keepalive: s.keepalive === undefined ? 16 : checkKeepalive(s.keepalive),
    app: s.app,
    ...(s.hosts ? { hosts: s.hosts } : {}),
    domains: s.domains ?? [],
    hsts: s.hsts ?? DEFAULT_HSTS,
    sticky: s.sticky === undefined ? 'cookie' : checkSticky(s.sticky),
  }
}

function checkSticky(value: unknown): StickyMode {
  if (!(STICKY_MODES as readonly unknown[]).includes(value)) fail('sticky', value, STICKY_MODES.join(', '))
  return value as StickyMode
}

const HEADER = '# Generated by lib/nginx-render.ts from the target config. Do not edit.\n'

/** The app's upstreams (one per service and slot, a server per replica) and its rate-limit zones (http context). */
export function renderUpstreams(
  netPrefix: string,
  app: Manifest | undefined,
  keepalive = 16,
  hosts: HostUpstreams = {},
): string {
  if (!app) return `${HEADER}# no app\n`
  // an app on several hosts (#16): a server per host and container, on the hosts' published addresses
  if (app.hosts)
    return `${renderHostUpstreams(app, { ...hosts, keepalive: checkKeepalive(keepalive) })}${renderAppZones(app)}`
  return `${renderAppUpstreams(app, checkNetPrefix(netPrefix), checkKeepalive(keepalive))}${renderAppZones(app)}`
}

export function renderListen(addr: string, port: number, tls: boolean): string {
  return `${HEADER}listen ${checkIpv4(addr)}:${checkPort(port, 'port')}${tls ? ' ssl http2' : ''};\n`
}

export function renderStatusAllow(cidrs: string[]): string {
  const lines = cidrs.map((c, i) => `allow ${checkCidr(c, `statusAllow[${i}]`)};\n`)
  return `${HEADER}# followed by "deny all;" in the location\n${lines.join('')}`
}

/** The cookie that keeps a client's gradual-shift bucket (GRADUAL_STICKY=cookie). */
export const BUCKET_COOKIE = 'dms_bucket'
const BUCKET_RE = 'b(100|[1-9][0-9]?)'

/** split_clients giving each key one of the buckets b1..b100 (1% each) in `variable` */
function splitClients(key: string, variable: string): string {
  const rows = Array.from({ length: 10 }, (_, r) =>
    Array.from({ length: 10 }, (_, c) => `1% b${r * 10 + c + 1};`).join(' '),
  )
  return `split_clients "${key}" ${variable} {\n${rows.map((l) => `    ${l}\n`).join('')}}\n`
}

/**
 * The gradual-shift split (http context): $bucket (b1..b100) of each request, whose marker
 * live/to-<slot>-bN sends it to that slot, and $dms_bucket_cookie, the Set-Cookie value the public
 * server adds (empty: no header). cookie: a client's first request gets the bucket of its address and
 * keeps it in the dms_bucket cookie, so the first and every later request land in the same bucket;
 * address: the address alone; request: each request on its own (one client sees both slots).
 */
export function renderGradualSplit(mode: StickyMode): string {
  const head = `${HEADER}# GRADUAL_STICKY=${checkSticky(mode)}: 100 buckets b1..b100; a marker live/to-<slot>-bN sends bucket N to <slot>.\n`
  if (mode !== 'cookie') {
    const key = mode === 'address' ? '$remote_addr' : '$request_id'
    return `${head}${splitClients(key, '$bucket')}map $cookie_${BUCKET_COOKIE} $dms_bucket_cookie {\n    default "";\n}\n`
  }
  return (
    head +
    splitClients('$remote_addr', '$dms_address_bucket') +
    `map $cookie_${BUCKET_COOKIE} $bucket {\n    "~^(?<dms_b>${BUCKET_RE})$" $dms_b;\n    default $dms_address_bucket;\n}\n` +
    `map $cookie_${BUCKET_COOKIE} $dms_bucket_cookie {\n    "~^${BUCKET_RE}$" "";\n` +
    `    default "${BUCKET_COOKIE}=$bucket; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax";\n}\n`
  )
}

/** What a plan says about the split of a gradual shift. */
export function describeSticky(mode: StickyMode): string {
  if (mode === 'cookie') return `sticky per client: the ${BUCKET_COOKIE} cookie, else the client address`
  return mode === 'address' ? 'sticky per client address' : 'per request (not sticky)'
}

/** The generated includes: file name -> content. */
export function renderNginxIncludes(settings: NginxSettings): Record<string, string> {
  const s = validateNginxSettings(settings)
  const suffix = s.httpsPort === 443 ? '' : `:${s.httpsPort}`
  return {
    'listen-public.conf': renderListen(s.listenAddr, s.httpsPort, true),
    'listen-preview.conf': renderListen(s.listenAddr, s.previewPort, true),
    'listen-http.conf': `${renderListen(s.listenAddr, s.httpPort, false)}set $https_port_suffix "${suffix}";\n`,
    'listen-status.conf': renderListen(s.listenAddr, s.statusPort, false),
    'upstreams.conf': renderUpstreams(s.netPrefix, settings.app, s.keepalive, settings.hosts),
    'app-locations.conf': settings.app ? renderAppLocations(settings.app) : `${HEADER}# no app\n`,
    'status-allow.conf': renderStatusAllow(s.statusAllow),
    'gradual-split.conf': renderGradualSplit(s.sticky),
    ...renderTlsIncludes(s),
  }
}
