// The manifest's shape as data: one description read by the validator (lib/manifest/check-shape.ts) and by
// the JSON Schema generator (lib/manifest/schema.ts), so the published schema and the validator agree.

import { HOST_NAME_RE, HOST_USER_RE, HOST_ROLES } from '../hosts.ts'
import { DEFAULTS } from './model.ts'

/** A value's shape. `doc` says what is expected, in words, for error messages and the schema. */
export type Shape =
  | { kind: 'string'; pattern?: string; doc: string; example?: string }
  | { kind: 'int'; min: number; max: number; doc: string }
  | { kind: 'number'; min: number; max: number; doc: string }
  | { kind: 'bool'; doc: string }
  | { kind: 'enum'; values: string[]; doc: string }
  | { kind: 'array'; items: Shape; minItems?: number; doc: string }
  | { kind: 'object'; props: Record<string, Prop>; doc: string }
  | { kind: 'map'; keyPattern: string; keyDoc: string; values: Shape; doc: string }

export type Prop = { shape: Shape; required?: boolean; default?: unknown }

// ---------------------------------------------------------------- the words (patterns safe for nginx, YAML, compose)

/** service, accessory, secret and app names: become nginx upstream names, compose services and file names */
export const NAME_RE = '^[a-z][a-z0-9_]{0,30}$'
const NAME_DOC = 'a name of lowercase letters, digits and "_" starting with a letter (at most 31)'
/** a URL path prefix: no spaces, quotes, braces, ";" or "$" (they would end or extend an nginx directive) */
export const PATH_RE = '^/[A-Za-z0-9._~/%-]*$'
const PATH_DOC = 'a path starting with "/" of letters, digits and . _ ~ / % -'
export const HOST_RE = '^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
const REPO = '([a-z0-9.-]+(:[0-9]{1,5})?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*'
/** a repository without a tag (a service's: the release version is the tag) */
export const REPO_RE = `^${REPO}$`
/** a repository with an optional tag (an accessory's) */
const TAG = '(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?'
export const IMAGE_RE = `^${REPO}${TAG}$`
export const ENV_KEY_RE = '^[A-Za-z_][A-Za-z0-9_]*$'
/** env values and argv words: printable, no control characters (a newline would break the generated files) */
export const TEXT_RE = '^[^\\u0000-\\u001f\\u007f]*$'
export const DURATION_RE = '^[0-9]{1,6}(ms|s|m)$'
export const MEMORY_RE = '^[0-9]{1,6}[kmg]?$'
export const RATE_RE = '^[0-9]{1,6}r/[sm]$'
/** how long a cached answer is fresh: nginx time units s, m, h, d */
export const CACHE_TTL_RE = '^[1-9][0-9]{0,5}(s|m|h|d)$'
/** a build directory relative to the manifest (or absolute): no spaces, quotes or "$" */
export const BUILD_DIR_RE = '^[A-Za-z0-9._/-]{1,200}$'
/** a host port as a quoted number, or the name of the target's port setting that holds it */
export const PUBLISH_RE = '^([1-9][0-9]{0,4}|POSTGRES_PORT|REDIS_PORT)$'
export const CIDR_RE = '^([0-9]{1,3}\\.){3}[0-9]{1,3}(/[0-9]{1,2})?$'

const str = (doc: string, pattern?: string, example?: string): Shape => ({ kind: 'string', doc, pattern, example })
const int = (min: number, max: number, doc: string): Shape => ({ kind: 'int', min, max, doc })
const obj = (doc: string, props: Record<string, Prop>): Shape => ({ kind: 'object', doc, props })
const req = (shape: Shape): Prop => ({ shape, required: true })
const opt = (shape: Shape, def?: unknown): Prop => (def === undefined ? { shape } : { shape, default: def })
const arr = (items: Shape, doc: string, minItems?: number): Shape => ({ kind: 'array', items, doc, minItems })

const port = int(1, 65535, 'a TCP port from 1 to 65535')
const path = str(PATH_DOC, PATH_RE, '/shop/')
const argv = arr(str('a word of the command (printable text)', TEXT_RE), 'a command as a list of words', 1)
const env: Shape = {
  kind: 'map',
  keyPattern: ENV_KEY_RE,
  keyDoc: 'an environment variable name (letters, digits, "_")',
  values: str('a plain value (printable text; secrets go under secrets:)', TEXT_RE),
  doc: 'environment variables: NAME: value',
}
const headers: Shape = {
  kind: 'map',
  keyPattern: '^[A-Za-z0-9-]{1,64}$',
  keyDoc: 'a header name (letters, digits, "-")',
  values: str('a header value (printable text)', TEXT_RE),
  doc: 'request headers: Name: value',
}
const secretNames = arr(str(NAME_DOC, NAME_RE), 'secret names defined under the top-level secrets:')
const grace = str('a duration like "30s", "500ms" or "2m"', DURATION_RE, '30s')

const resources = obj('container limits', {
  cpus: opt({ kind: 'number', min: 0.01, max: 256, doc: 'CPUs, a number from 0.01 to 256' }, DEFAULTS.cpus),
  memory: opt(str('memory like "256m", "1g" or bytes', MEMORY_RE, '256m'), DEFAULTS.memory),
})

const service = obj('a service of a release: runs in each slot', {
  image: req(str('an image repository without a tag (the release version is the tag)', REPO_RE, 'acme/web')),
  build: opt(
    str(
      'a directory with a Dockerfile, relative to the manifest, that builds `image` tagged with the release (--build; BASE_IMAGE is passed as a build argument)',
      BUILD_DIR_RE,
      '.',
    ),
  ),
  command: opt(argv),
  port: req(port),
  readiness: req(path),
  metrics: opt(path),
  env: opt(env, {}),
  secrets: opt(secretNames, []),
  resources: opt(resources),
  stop_grace: opt(grace, DEFAULTS.stopGrace),
  replicas: opt(int(1, 16, 'a number of containers from 1 to 16'), DEFAULTS.replicas),
})

const rateLimit = obj('a request rate limit per client address', {
  rate: req(str('requests per second or minute like "5r/s"', RATE_RE, '10r/s')),
  burst: opt(int(0, 100000, 'an integer from 0 to 100000'), 0),
  zone: opt(str(`the limit's name, sent to rate_limit_page as X-DMS-RateLimit-Zone: ${NAME_DOC}`, NAME_RE, 'login')),
})

const rateLimitPage = obj('who answers a rate-limited request (else nginx answers 429 JSON itself)', {
  service: req(str(NAME_DOC, NAME_RE)),
  path: req(path),
})

const route = obj('where public requests go: the longest matching path prefix wins', {
  path: req(path),
  host: opt(str('a host name like "api.example.com" (or "*.example.com")', HOST_RE)),
  service: req(str(NAME_DOC, NAME_RE)),
  rate_limit: opt(rateLimit),
  allow: opt(arr(str('an IPv4 address or CIDR like "10.0.0.0/8"', CIDR_RE), 'client addresses allowed (others: 403)')),
  cache: opt(
    str(
      'nginx caches the answers (200, 301, 302) this long, per slot and release: a duration like "10m", "30s", "1h" or "1d"',
      CACHE_TTL_RE,
      '10m',
    ),
  ),
})

const accessory = obj('a long-lived service outside the slots (a database, a cache)', {
  image: req(str('an image reference (repository and tag)', IMAGE_RE, 'postgres:16')),
  build: opt(
    str(
      'a directory with a Dockerfile, relative to the manifest, that builds `image` (bootstrap and --build; BASE_IMAGE is passed as a build argument)',
      BUILD_DIR_RE,
      'images/postgres',
    ),
  ),
  command: opt(argv),
  port: req(port),
  publish: opt(
    str(
      'the host port on 127.0.0.1 that `port` is published on, for tools on the host: a quoted number like "15432", or POSTGRES_PORT or REDIS_PORT: the env/.env.<target> setting that holds it (a port per target and stack)',
      PUBLISH_RE,
      'POSTGRES_PORT',
    ),
  ),
  env: opt(env, {}),
  secrets: opt(secretNames, []),
  volumes: opt(
    arr(str('"volume:/path/in/container"', '^[a-z][a-z0-9_]{0,30}:/[A-Za-z0-9._/-]*$'), 'named volumes to mount'),
    [],
  ),
  resources: opt(resources),
  stop_grace: opt(grace, DEFAULTS.stopGrace),
  backup: opt(
    obj('how to back it up and restore it (commands run in the accessory container)', {
      command: req(argv),
      restore: req(argv),
      verify: opt(argv),
      check: opt(
        str(
          "the restore drill's integrity check: a shell command run in the scratch copy (DRILL_CHECK overrides it)",
          TEXT_RE,
        ),
      ),
    }),
  ),
})

const release = obj('the release command: migrations, run once in a one-off container of the release', {
  service: req(str(NAME_DOC, NAME_RE)),
  command: req(argv),
  pending: opt(argv),
  contract_marker: opt(str('a text that marks a contracting migration in the pending list', TEXT_RE)),
  allow_contract: opt(
    arr(
      str('an argument (printable text)', TEXT_RE),
      'arguments added to the command when contracting is allowed (deploy --allow-contract)',
    ),
  ),
})

const check = obj('one request through the preview listener', {
  name: req(str('a short name (printable text)', TEXT_RE)),
  method: opt(
    { kind: 'enum', values: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], doc: 'an HTTP method' },
    DEFAULTS.method,
  ),
  path: req(str('a path with an optional query, starting with "/"', '^/[^\\s\\u0000-\\u001f]*$')),
  headers: opt(headers, {}),
  body: opt(str('a request body (text)')),
  status: opt(int(100, 599, 'an HTTP status from 100 to 599'), DEFAULTS.checkStatus),
  body_contains: opt(str('a text the answer must contain')),
  json_field: opt(str('a top-level JSON field the answer must carry', '^[A-Za-z0-9_.-]+$')),
})

const smoke = obj('checks of a release before it takes traffic', {
  checks: opt(arr(check, 'requests with their expected answers'), []),
  load: opt(
    obj('a short bounded load', {
      paths: req(arr(str('a path with an optional query', '^/[^\\s\\u0000-\\u001f]*$'), 'paths to request', 1)),
      requests: opt(int(1, 100000, 'an integer from 1 to 100000'), DEFAULTS.load.requests),
      concurrency: opt(int(1, 256, 'an integer from 1 to 256'), DEFAULTS.load.concurrency),
      max_error_rate: opt(
        { kind: 'number', min: 0, max: 1, doc: 'a fraction from 0 to 1' },
        DEFAULTS.load.maxErrorRate,
      ),
      max_p95_ms: opt(int(1, 600000, 'milliseconds from 1 to 600000'), DEFAULTS.load.maxP95Ms),
    }),
  ),
})

// ---------------------------------------------------------------- hosts (#16): where the slots and accessories run

/** a first check of an address (no option, no user, no space); lib/hosts.ts validAddress is the exact one */
export const HOST_ADDRESS_RE = '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$'
const names = (doc: string) => arr(str(NAME_DOC, NAME_RE), doc)
const host = obj('a machine: the balancer (nginx, markers, state, lock) or an app host (slot containers)', {
  name: req(str('a host name of lowercase letters, digits and "-" starting with a letter (at most 31)', HOST_NAME_RE)),
  address: req(
    str('an IPv4 address or a DNS name (its private address: containers are published there)', HOST_ADDRESS_RE),
  ),
  user: opt(str('an SSH user name', HOST_USER_RE), 'root'),
  port: opt(port, 22),
  role: opt({ kind: 'enum', values: [...HOST_ROLES], doc: 'balancer or app' }, 'app'),
  services: opt(names('the slot services this app host runs (default: every one)')),
  accessories: opt(
    names(
      'the accessories this host runs (default: the balancer runs those no host names); on an app host image-only (no build, secrets or backup)',
    ),
  ),
})
const hosts = arr(host, 'the machines: one balancer and the app hosts (none: everything on this machine)', 2)

/** The top-level keys every manifest and every override share. */
function topProps(required: boolean): Record<string, Prop> {
  const r = (s: Shape): Prop => (required ? req(s) : opt(s))
  return {
    name: r(str(NAME_DOC, NAME_RE, 'shop')),
    secrets: opt(secretNames, []),
    services: r({
      kind: 'map',
      keyPattern: NAME_RE,
      keyDoc: NAME_DOC,
      values: required ? service : partial(service),
      doc: 'services by name',
    }),
    routes: r(arr(route, 'the public routes', 1)),
    rate_limit_page: opt(rateLimitPage),
    accessories: opt({ kind: 'map', keyPattern: NAME_RE, keyDoc: NAME_DOC, values: accessory, doc: 'by name' }, {}),
    release: opt(release),
    smoke: opt(smoke),
    hosts: opt(hosts),
  }
}

/** An override: the same keys, none required (services merge by name; lists replace). */
function partial(s: Shape): Shape {
  if (s.kind !== 'object') return s
  return { ...s, props: Object.fromEntries(Object.entries(s.props).map(([k, p]) => [k, { shape: p.shape }])) }
}

const override = obj('what differs for this target (merged over the file)', topProps(false))

export const MANIFEST: Shape = obj('an application manifest', {
  ...topProps(true),
  targets: opt(obj('per-target differences', { staging: opt(override), production: opt(override) })),
})
