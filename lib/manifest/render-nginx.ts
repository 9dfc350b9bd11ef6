// Pure: the nginx text of an app from its manifest. Upstreams (one per service and slot, one server per
// replica), rate-limit zones (http context) and the locations of the public and preview listeners (longest
// prefix wins, as nginx does for prefix locations; a host route picks its service by $host). The servers add
// X-Deploy-Slot and X-Deploy-Version themselves (nginx/snippets/security-headers-tls.conf), so no app header is
// needed to confirm a switch, and /__deploy/ready/<service> reaches each service's readiness path on either
// listener. Each part is its own function and file, so more includes (maintenance mode) slot in beside them.
import { SLOTS, slotInstances } from './allocate.ts'
import { zoneName } from './rules.ts'
import type { Manifest, Route } from './types.ts'

export type AppNginxFiles = { 'upstreams.conf': string; 'app-zones.conf': string; 'app-locations.conf': string }

/** where the nginx container mounts the repo's snippets */
export const SNIPPETS = '/etc/nginx/repo/snippets'
/** where it mounts the generated includes (status-allow.conf: who may reach /__deploy/) */
export const INCLUDES = '/etc/nginx/dms'

const HEADER = (m: Manifest) =>
  `# Generated from ${m.file} for ${m.name} by lib/manifest/render-nginx.ts. Do not edit.\n`

/** upstream <service>_<slot> { server <address>:<port> ...; } for every service, slot and replica */
export function renderAppUpstreams(m: Manifest, netPrefix: string, keepalive = 16): string {
  const blocks: string[] = []
  for (const slot of SLOTS) {
    const instances = slotInstances(m, slot)
    for (const s of m.services) {
      const servers = instances
        .filter((x) => x.service === s)
        .map((x) => `    server ${netPrefix}.${x.octet}:${s.port} max_fails=0;\n`)
      blocks.push(
        `upstream ${s.name}_${slot} {\n${servers.join('')}    keepalive ${keepalive};\n    keepalive_timeout 60s;\n}\n`,
      )
    }
  }
  return HEADER(m) + blocks.join('')
}

/** limit_req_zone per rate-limited route (per client address), and which zone a URI is in for the 429 page */
export function renderAppZones(m: Manifest): string {
  const limited = m.routes.flatMap((r, i) => (r.rateLimit ? [{ r, zone: zoneName(r.rateLimit.zone, i) }] : []))
  const lines = limited.map(
    ({ r, zone }) => `limit_req_zone $binary_remote_addr zone=${zone}:10m rate=${r.rateLimit!.rate};\n`,
  )
  if (m.rateLimitPage) {
    // $uri is unchanged inside the named location; the longest prefix first, as the locations match
    const byLength = [...limited].sort((a, b) => b.r.path.length - a.r.path.length)
    const entries = byLength.map(({ r, zone }) => `    ~^${regexText(r.path)} ${zone};\n`)
    lines.push(`map $uri $app_ratelimit_zone {\n${entries.join('')}    default other;\n}\n`)
  }
  return `${HEADER(m)}# limit_req_status 429 is set once by the stack (nginx/conf.d/00-maps.conf)\n${lines.join('')}${renderCacheZone(m)}`
}

/** where nginx keeps the app's cache, in its container (purge: empty it, or wait for a switch) */
export const cacheDir = (m: Manifest) => `/var/cache/nginx/${m.name}`
/** the live dir as nginx sees it; live/.release-<slot> links to .releases/<version> (lib/nginx.ts setReleaseMarker) */
const LIVE = '/etc/nginx/live'

/** proxy_cache_path of the app's cache zone (http context), when a route is cached */
export function renderCacheZone(m: Manifest): string {
  if (!m.routes.some((r) => r.cache)) return ''
  return (
    '# cached routes: one zone for the app, each entry keyed per slot and release (see the locations)\n' +
    `proxy_cache_path ${cacheDir(m)} levels=1:2 keys_zone=${m.name}_cache:10m max_size=256m inactive=1d use_temp_path=off;\n`
  )
}

/**
 * Server-level lines before the locations, when a route is cached: $dms_release_dir is live/.release-<slot>
 * when that link exists, so a cached location's $realpath_root names the slot's release directory
 * (.releases/<version>) per request, without a reload; without the link it is the live dir itself.
 */
function releaseDir(m: Manifest): string {
  if (!m.routes.some((r) => r.cache)) return ''
  return (
    `# the release of $slot, for the cache key of cached routes (lib/nginx.ts setReleaseMarker writes the link)\n` +
    `set $dms_release_dir ${LIVE};\n` +
    `if (-d ${LIVE}/.release-$slot) { set $dms_release_dir ${LIVE}/.release-$slot; }\n`
  )
}

/** The caching lines of a cached location: the key holds slot and release, so a switch never serves the other's answers. */
function cacheLines(m: Manifest, ttl: string): string[] {
  return [
    `    proxy_cache ${m.name}_cache;`,
    '    root $dms_release_dir; # only for $realpath_root: the release directory of $slot',
    '    proxy_cache_key "$slot $realpath_root $scheme://$host$request_uri";',
    `    proxy_cache_valid 200 301 302 ${ttl};`,
    '    proxy_cache_lock on;',
    '    proxy_cache_use_stale updating;',
  ]
}

/** a manifest path (letters, digits, . _ ~ / % -) as regex text: only "." is special there */
const regexText = (p: string) => p.replaceAll('.', '\\.')

/** The hostless route serving `path` when no host route matches: the longest hostless prefix of it. */
function fallback(routes: Route[], path: string): Route {
  return routes
    .filter((r) => r.host === undefined && path.startsWith(r.path))
    .sort((a, b) => b.path.length - a.path.length)[0]!
}

function location(m: Manifest, path: string): string {
  const here = m.routes.filter((r) => r.path === path)
  const main = here.find((r) => r.host === undefined) ?? fallback(m.routes, path)
  const settings = here.find((r) => r.host === undefined) ?? here[0]!
  const i = m.routes.indexOf(settings)
  const lines = [`location ${path} {`, `    set $app_service ${main.service};`]
  for (const r of here.filter((x) => x.host !== undefined))
    lines.push(`    if ($host = "${r.host}") { set $app_service ${r.service}; }`)
  if (settings.rateLimit) {
    const burst = settings.rateLimit.burst ? ` burst=${settings.rateLimit.burst} nodelay` : '' // nginx refuses burst=0
    lines.push(`    limit_req zone=${zoneName(settings.rateLimit.zone, i)}${burst};`)
    lines.push('    error_page 429 = @app_ratelimited;')
  }
  if (settings.allow) {
    for (const a of settings.allow) lines.push(`    allow ${a};`)
    lines.push('    deny all;')
  }
  if (settings.cache) lines.push(...cacheLines(m, settings.cache))
  lines.push(`    proxy_pass http://\${app_service}_$slot;`, '}')
  return `${lines.join('\n')}\n`
}

/** The app's locations for the public and preview servers ($slot is set by the server). */
export function renderAppLocations(m: Manifest, snippets = SNIPPETS, includes = INCLUDES): string {
  const paths = [...new Set(m.routes.map((r) => r.path))].sort((a, b) => b.length - a.length || a.localeCompare(b))
  return (
    HEADER(m) +
    [
      releaseDir(m),
      ...hiddenPaths(m),
      ...readinessLocations(m, includes),
      ...paths.map((p) => location(m, p)),
      ...rateLimited(m, snippets),
    ].join('')
  )
}

/** The toolkit's own path prefix on the listeners (never an app route: the manifest's routes can't start with it). */
export const DEPLOY_PREFIX = '/__deploy/'
/** where a service's readiness answers through a listener, for the slot the listener routes to */
export const readinessPath = (service: string) => `${DEPLOY_PREFIX}ready/${service}`

/**
 * /__deploy/ready/<service> for every service: its readiness path on its upstream of $slot, so the toolkit probes
 * each service through the preview (candidate) and public (live) listeners whatever the app's routes are. Only the
 * status allow-list reaches them; no retry on another replica (the container healthchecks watch each replica).
 */
function readinessLocations(m: Manifest, includes: string): string[] {
  return m.services.map((s) =>
    [
      `location = ${readinessPath(s.name)} {`,
      `    include ${includes}/status-allow.conf;`,
      '    deny all;',
      '    proxy_next_upstream off;',
      `    proxy_pass http://${s.name}_$slot${s.readiness};`,
      '}\n',
    ].join('\n'),
  )
}

/** 404 on the public listeners: each metrics path under every route prefix (scraped by address), the 429 page */
function hiddenPaths(m: Manifest): string[] {
  const metrics = [...new Set(m.services.flatMap((s) => (s.metrics ? [s.metrics] : [])))]
  const prefixes = [...new Set(m.routes.map((r) => r.path))]
  const under = [...new Set(metrics.flatMap((p) => prefixes.map((r) => regexText(r.replace(/\/$/, '') + p))))]
  const out = under.length
    ? [
        `# metrics are scraped by address, never through a public listener\nlocation ~ ^(${under.join('|')})/?$ {\n    return 404;\n}\n`,
      ]
    : []
  if (m.rateLimitPage)
    out.push(
      `# the 429 page is only reached through error_page\nlocation = ${m.rateLimitPage.path} {\n    return 404;\n}\n`,
    )
  return out
}

/** 429: the app's rate_limit_page (told the zone) when it has one, falling back to nginx's own JSON answer */
function rateLimited(m: Manifest, snippets: string): string[] {
  const own =
    `    include ${snippets}/security-headers-tls.conf;\n    add_header Retry-After 1 always;\n` +
    '    default_type application/json;\n    return 429 "{\\"error\\":\\"too many requests\\"}\\n";\n}\n'
  const page = m.rateLimitPage
  if (!page) return [`location @app_ratelimited {\n${own}`]
  const proxied = [
    'location @app_ratelimited {',
    `    include ${snippets}/proxy-headers.conf;`,
    '    proxy_set_header X-DMS-RateLimit-Zone $app_ratelimit_zone;',
    '    proxy_set_header Content-Length "";',
    '    proxy_method GET;',
    '    proxy_pass_request_body off;',
    '    proxy_connect_timeout 1s;',
    '    proxy_read_timeout 2s;',
    '    proxy_next_upstream off;',
    '    proxy_intercept_errors on;',
    '    recursive_error_pages on;',
    '    error_page 400 404 405 500 502 503 504 = @app_ratelimited_own;',
    `    proxy_pass http://${page.service}_$slot${page.path};`,
    '}',
  ]
  return [`${proxied.join('\n')}\n`, `location @app_ratelimited_own {\n${own}`]
}

export function renderAppNginx(
  m: Manifest,
  netPrefix: string,
  keepalive = 16,
  snippets = SNIPPETS,
  includes = INCLUDES,
): AppNginxFiles {
  return {
    'upstreams.conf': renderAppUpstreams(m, netPrefix, keepalive),
    'app-zones.conf': renderAppZones(m),
    'app-locations.conf': renderAppLocations(m, snippets, includes),
  }
}
