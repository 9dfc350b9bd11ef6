// The published JSON Schema (docs/manifest.schema.json) is the generated one, and a real JSON Schema validator
// (ajv, draft 2020-12) accepts and rejects the same manifests as the toolkit's validator does for shape. The
// rules across keys (duplicate routes, undefined secrets, a route nobody serves) are beyond JSON Schema: the
// schema accepts them and the toolkit refuses them, shown here too.
import fs from 'node:fs'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parse } from 'yaml'
import { checkShape } from '../../../lib/manifest/check-shape.ts'
import { manifestProblems } from '../../../lib/manifest/load.ts'
import { manifestSchema, schemaText } from '../../../lib/manifest/schema.ts'
import { MANIFEST } from '../../../lib/manifest/shape.ts'
import { ROOT } from '../../helpers/run.ts'

const ajv = new Ajv2020({ allErrors: true, strict: true })
const schemaAccepts = ajv.compile(manifestSchema())
// biome-ignore lint/suspicious/noExplicitAny: test data is mutated freely by path; the validators check its shape
type Doc = Record<string, any>
const dms = parse(fs.readFileSync(path.join(ROOT, 'examples/dms/app.yaml'), 'utf8'), { merge: true }) as Doc

/** one change to a copy of the DMS example */
function mutate(change: (m: Doc) => void): Doc {
  const copy = structuredClone(dms)
  change(copy)
  return copy
}

/** a balancer with the accessories and two app hosts, the second running api only, on its own SSH port */
const HOSTS = () => [
  { name: 'lb', address: '10.0.0.10', role: 'balancer', accessories: ['postgres', 'redis'] },
  { name: 'app-1', address: '10.0.0.11' },
  { name: 'app-2', address: 'app2.internal', user: 'deploy', port: 2222, services: ['api'] },
]

const GOOD: Array<[string, unknown]> = [
  ['the DMS example', dms],
  [
    'replicas 3, no accessories, no release',
    mutate((m) => {
      m.services.api.replicas = 3
      delete m.accessories
      delete m.release
    }),
  ],
  ['a host route', mutate((m) => m.routes.unshift({ path: '/', host: 'admin.example.com', service: 'main' }))],
  ['an allow list', mutate((m) => (m.routes[0].allow = ['10.0.0.0/8', '127.0.0.1']))],
  ['a cached route', mutate((m) => m.routes.push({ path: '/static/', service: 'frontend', cache: '10m' }))],
  ['hosts: a balancer and two app hosts, one restricted', mutate((m) => (m.hosts = HOSTS()))],
]

const BAD: Array<[string, unknown]> = [
  ['not a mapping', ['a list']],
  ['no name', mutate((m) => delete m.name)],
  ['an unknown top-level key', mutate((m) => (m.owner = 'x'))],
  ['an unknown service key', mutate((m) => (m.services.api.replica = 2))],
  ['a port out of range', mutate((m) => (m.services.api.port = 0))],
  ['a fractional port', mutate((m) => (m.services.api.port = 80.5))],
  ['replicas as text', mutate((m) => (m.services.api.replicas = 'two'))],
  ['a service name with a brace', mutate((m) => (m.services['api{'] = m.services.api))],
  ['a path with a semicolon', mutate((m) => (m.routes[0].path = '/a;b'))],
  ['a host with a space', mutate((m) => (m.routes[0].host = 'a b'))],
  ['an env value with a newline', mutate((m) => (m.services.api.env.X = 'a\nb'))],
  ['an env name with a dash', mutate((m) => (m.services.api.env['A-B'] = '1'))],
  ['a bad duration', mutate((m) => (m.services.api.stop_grace = '30 seconds'))],
  ['no routes', mutate((m) => (m.routes = []))],
  ['an empty command', mutate((m) => (m.release.command = []))],
  ['a bad method', mutate((m) => (m.smoke.checks[0].method = 'FETCH'))],
  ['a bad rate', mutate((m) => (m.routes[0].rate_limit.rate = 'fast'))],
  ['a cache ttl without a unit', mutate((m) => m.routes.push({ path: '/static/', service: 'frontend', cache: '10' }))],
  ['a cache ttl of zero', mutate((m) => m.routes.push({ path: '/static/', service: 'frontend', cache: '0m' }))],
  ['a zone name with a dash', mutate((m) => (m.routes[0].rate_limit.zone = 'log-in'))],
  ['a 429 page path with a brace', mutate((m) => (m.rate_limit_page.path = '/x{'))],
  ['an unknown target', mutate((m) => (m.targets.qa = {}))],
  ['an override with a wrong type', mutate((m) => (m.targets.staging.services = { api: { replicas: 0 } }))],
  ['an image tag on a service', mutate((m) => (m.services.api.image = 'dms/app:v1'))],
  ['an image with a space', mutate((m) => (m.accessories.redis.image = 'redis:7 '))],
  [
    'a host address that ssh reads as an option',
    mutate((m) => (m.hosts = [...HOSTS(), { name: 'x', address: '-oProxyCommand=sh' }])),
  ],
  [
    'a host with an unknown key',
    mutate((m) => (m.hosts = [...HOSTS(), { name: 'x', address: '10.0.0.9', colour: 'red' }])),
  ],
  [
    'a host role that does not exist',
    mutate((m) => (m.hosts = [...HOSTS(), { name: 'x', address: '10.0.0.9', role: 'db' }])),
  ],
  ['a host name with a capital', mutate((m) => (m.hosts = [...HOSTS(), { name: 'App', address: '10.0.0.9' }]))],
  [
    'a host port out of range',
    mutate((m) => (m.hosts = [...HOSTS(), { name: 'x', address: '10.0.0.9', port: 70000 }])),
  ],
]

const RULES_ONLY: Array<[string, unknown]> = [
  ['a duplicate route', mutate((m) => m.routes.push({ path: '/docs/', service: 'docs' }))],
  ['a route nobody serves', mutate((m) => (m.routes[2].service = 'billing'))],
  ['an undefined secret', mutate((m) => m.services.api.secrets.push('stripe'))],
  ['no default route', mutate((m) => m.routes.pop())],
  ['a release service that does not exist', mutate((m) => (m.release.service = 'worker'))],
  [
    'a cached route in front of a readiness path',
    mutate((m) => (m.routes.find((r: Doc) => r.path === '/').cache = '1m')),
  ],
  ['two balancers', mutate((m) => (m.hosts = [...HOSTS(), { name: 'lb2', address: '10.0.0.9', role: 'balancer' }]))],
  ['a host address 10.0.0.300', mutate((m) => (m.hosts = [...HOSTS(), { name: 'x', address: '10.0.0.300' }]))],
  ['two hosts on one address and port', mutate((m) => (m.hosts = [...HOSTS(), { name: 'x', address: '10.0.0.11' }]))],
  [
    'a host running a service that does not exist',
    mutate((m) => (m.hosts = [...HOSTS(), { name: 'x', address: '10.0.0.9', services: ['billing'] }])),
  ],
  [
    'an accessory on two hosts',
    mutate((m) => (m.hosts = [...HOSTS(), { name: 'x', address: '10.0.0.9', accessories: ['redis'] }])),
  ],
  ['one zone name on two routes', mutate((m) => (m.routes[1].rate_limit.zone = 'auth'))],
  ['a 429 page of no service', mutate((m) => (m.rate_limit_page.service = 'billing'))],
]

test('docs/manifest.schema.json is the schema generated from the shape (regenerate: render --schema)', () => {
  assert.fixture(fs.readFileSync(path.join(ROOT, 'docs/manifest.schema.json'), 'utf8'), schemaText())
})

test('ajv and the validator agree on good manifests: both accept', () => {
  for (const [name, m] of GOOD) {
    assert.ok(schemaAccepts(m), `schema refused ${name}: ${JSON.stringify(schemaAccepts.errors)}`)
    assert.equal(checkShape(m, MANIFEST), [], `validator refused ${name}`)
  }
})

test('ajv and the validator agree on bad manifests: both refuse', () => {
  for (const [name, m] of BAD) {
    assert.not.ok(schemaAccepts(m), `schema accepted ${name}`)
    assert.ok(checkShape(m, MANIFEST).length > 0, `validator accepted ${name}`)
  }
})

test('rules beyond JSON Schema: the schema accepts, the toolkit refuses with a located message', () => {
  for (const [name, m] of RULES_ONLY) {
    assert.ok(schemaAccepts(m), `schema refused ${name}: ${JSON.stringify(schemaAccepts.errors)}`)
    const problems = manifestProblems(JSON.stringify(m, null, 1), 'm.json')
    assert.is(problems.length, 1, `${name}: ${problems.join('\n')}`)
    assert.match(problems[0]!, /^m\.json:\d+:\d+: /)
  }
})

test.run()
