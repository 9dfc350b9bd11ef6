// The manifest's hosts (#16): defaults (user root, port 22, role app, every service on each app host, the
// accessories on the balancer), restrictions, and every mistake refused with a located message; no hosts:
// the model has none (one machine, exactly as before).
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT } from '../../../lib/errors.ts'
import { ManifestError, parseManifest } from '../../../lib/manifest/load.ts'
import { ROOT } from '../../helpers/run.ts'

const PYSHOP = fs.readFileSync(path.join(ROOT, 'examples/pyshop/app.yaml'), 'utf8')
const DMS = fs.readFileSync(path.join(ROOT, 'examples/dms/app.yaml'), 'utf8')
const withHosts = (base: string, hosts: string) => `${base.replace(/\ntargets:[\s\S]*$/, '\n')}\nhosts:\n${hosts}`

function problems(text: string): string[] {
  try {
    parseManifest(text, 'app.yaml')
  } catch (e) {
    assert.instance(e, ManifestError)
    assert.is((e as ManifestError).exitCode, EXIT.REFUSED)
    return (e as ManifestError).problems
  }
  assert.unreachable('the manifest was accepted')
  return []
}

test('no hosts: the model names none (everything on this machine, as before)', () => {
  assert.is(parseManifest(PYSHOP, 'app.yaml').hosts, undefined)
  assert.not.ok('hosts' in parseManifest(PYSHOP, 'app.yaml'))
})

test('hosts with their defaults: every service on each app host, the accessories on the balancer', () => {
  const m = parseManifest(
    withHosts(
      DMS,
      [
        '  - { name: lb, address: 10.0.0.10, role: balancer }',
        '  - { name: app-1, address: 10.0.0.11 }',
        '  - { name: app-2, address: app2.internal, user: deploy, port: 2222, services: [api, main] }',
      ].join('\n'),
    ),
    'app.yaml',
  )
  assert.equal(m.hosts, [
    {
      name: 'lb',
      address: '10.0.0.10',
      user: 'root',
      port: 22,
      role: 'balancer',
      services: [],
      accessories: ['postgres', 'redis'],
    },
    {
      name: 'app-1',
      address: '10.0.0.11',
      user: 'root',
      port: 22,
      role: 'app',
      services: ['frontend', 'api', 'docs', 'main'],
      accessories: [],
    },
    {
      name: 'app-2',
      address: 'app2.internal',
      user: 'deploy',
      port: 2222,
      role: 'app',
      services: ['api', 'main'],
      accessories: [],
    },
  ])
})

/** pyshop with two image-only accessories (what an app host may run) */
const PYSHOP_KV = `${PYSHOP.replace(/\ntargets:[\s\S]*$/, '\n')}
accessories:
  kv: { image: pyshop/kv:1, port: 7000 }
  cache: { image: pyshop/cache:1, port: 7001 }
`

test('an accessory named on an app host runs there, the others stay on the balancer', () => {
  const m = parseManifest(
    withHosts(
      PYSHOP_KV,
      [
        '  - { name: lb, address: 10.0.0.10, role: balancer }',
        '  - { name: app-1, address: 10.0.0.11, accessories: [kv] }',
      ].join('\n'),
    ),
    'app.yaml',
  )
  assert.equal(
    m.hosts?.map((h) => [h.name, h.accessories]),
    [
      ['lb', ['cache']],
      ['app-1', ['kv']],
    ],
  )
})

test("an accessory on an app host with a build, secrets or a backup recipe is refused at its host's line", () => {
  const text = withHosts(
    DMS,
    '  - { name: lb, address: 10.0.0.10, role: balancer }\n  - { name: db, address: 10.0.0.20, accessories: [postgres] }',
  )
  const line = text.split('\n').indexOf('hosts:') + 3
  const got = problems(text)
  for (const [key, why] of [
    ['build', /build and push the image/],
    ['secrets', /secret files live on the balancer/],
    ['backup', /keep an accessory with a backup recipe on the balancer/],
  ] as const)
    assert.ok(
      got.some(
        (p) =>
          p.startsWith(`app.yaml:${line}:`) &&
          p.includes(`accessory "postgres" on app host "db" has ${key}:`) &&
          why.test(p),
      ),
      `expected ${key} at line ${line}; got\n${got.join('\n')}`,
    )
  assert.is(got.length, 3, got.join('\n'))
})

test('every host mistake is refused at its line: address, balancer count, unknown service, twice-placed accessory', () => {
  const text = withHosts(
    DMS,
    [
      '  - { name: lb, address: 10.0.0.10, role: balancer, services: [api] }', // line +1: services on the balancer
      '  - { name: app-1, address: 10.0.0.300 }', // +2: not an address
      '  - { name: app-2, address: 10.0.0.12, services: [billing] }', // +3: unknown service
      '  - { name: lb2, address: 10.0.0.13, role: balancer, accessories: [redis, cache] }', // +4: unknown accessory
      '  - { name: app-1, address: 10.0.0.14, accessories: [redis] }', // +5: name twice, redis twice
    ].join('\n'),
  )
  const first = text.split('\n').indexOf('hosts:') + 2
  const got = problems(text)
  const at = (line: number, re: RegExp) =>
    assert.ok(
      got.some((p) => p.startsWith(`app.yaml:${line}:`) && re.test(p)),
      `expected at line ${line} ${re}; got\n${got.join('\n')}`,
    )
  at(first, /the balancer runs no slot services/)
  at(first + 1, /"10\.0\.0\.300" is not an IPv4 address or a DNS name/)
  at(first + 2, /no service "billing"; expected one of: frontend, api, docs, main/)
  at(first + 3, /no accessory "cache"; expected one of: postgres, redis/)
  at(first + 4, /the name app-1 is used twice/)
  at(first + 4, /accessory "redis" is also on hosts\[3\]/)
  assert.ok(
    got.some((p) => /2 hosts have role balancer; exactly one must/.test(p)),
    got.join('\n'),
  )
})

test('hosts without an app host, or an app host list leaving a service on none, are refused', () => {
  const none = problems(
    withHosts(
      PYSHOP,
      '  - { name: lb, address: 10.0.0.10, role: balancer }\n  - { name: lb2, address: 10.0.0.11, role: balancer }',
    ),
  )
  assert.ok(
    none.some((p) => /no app host; expected at least one host with role app/.test(p)),
    none.join('\n'),
  )
  const orphan = problems(
    withHosts(
      PYSHOP,
      '  - { name: lb, address: 10.0.0.10, role: balancer }\n  - { name: a, address: 10.0.0.11, services: [web] }',
    ),
  )
  assert.equal(orphan.length, 1, orphan.join('\n'))
  assert.match(orphan[0]!, /no app host runs service "api"; add it to the services: of at least one app host/)
})

test('a target can bring its own hosts (lists replace)', () => {
  const text = `${PYSHOP}\n    hosts:\n      - { name: lb, address: 10.0.0.10, role: balancer }\n      - { name: s-1, address: 10.0.0.31 }\n`
  assert.is(parseManifest(text, 'app.yaml', 'production').hosts, undefined)
  assert.equal(
    parseManifest(text, 'app.yaml', 'staging').hosts?.map((h) => h.name),
    ['lb', 's-1'],
  )
})

test.run()
