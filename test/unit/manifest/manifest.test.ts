// The manifest language: the DMS example reads into the expected model, a manifest with twelve distinct
// mistakes gets twelve messages located at the marked lines, overrides merge per target, and refusals exit 2.
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT } from '../../../lib/errors.ts'
import {
  loadManifest,
  ManifestError,
  manifestFile,
  manifestProblems,
  parseManifest,
} from '../../../lib/manifest/load.ts'
import { ROOT } from '../../helpers/run.ts'

const DMS = path.join(ROOT, 'examples/dms')
const TWELVE = path.join(ROOT, 'test/fixtures/manifests/twelve-mistakes.yaml')

/** line numbers (1-based) of the lines carrying a "# N" marker comment */
function markedLines(text: string): number[] {
  return text
    .split('\n')
    .map((l, i) => (/#\s*\d+\s/.test(l) ? i + 1 : 0))
    .filter((n) => n > 0)
}

test('the DMS example reads into the model: four services, five routes, two accessories, a release command', () => {
  const m = loadManifest(DMS)
  assert.is(m.name, 'dms')
  assert.equal(
    m.services.map((s) => s.name),
    ['frontend', 'api', 'docs', 'main'],
  )
  assert.ok(m.services.every((s) => s.port === 8080 && s.readiness === '/ready' && s.replicas === 1))
  assert.equal(
    m.routes.map((r) => [r.path, r.service]),
    [
      ['/api/auth/', 'api'],
      ['/api/', 'api'],
      ['/docs/', 'docs'],
      ['/app/', 'main'],
      ['/', 'frontend'],
    ],
  )
  assert.equal(m.routes[0]!.rateLimit, { rate: '5r/s', burst: 5, zone: 'auth' })
  assert.equal(m.rateLimitPage, { service: 'frontend', path: '/__ratelimited' })
  assert.equal(
    m.accessories.map((a) => [a.name, a.port]),
    [
      ['postgres', 5432],
      ['redis', 6379],
    ],
  )
  assert.match(m.accessories[0]!.backup?.command.join(' ') ?? '', /^sh -c .*exec pg_dump /)
  assert.is(m.accessories[1]!.backup, undefined, 'redis has no backup recipe')
  assert.is(m.release?.service, 'api')
  assert.is(m.smoke.load?.requests, 300)
  assert.is(manifestFile('examples/dms', ROOT), path.join(DMS, 'app.yaml'))
})

test('a target override merges over the file: lists replace, mappings merge, the rest stays', () => {
  const staging = loadManifest(DMS, { target: 'staging' })
  const production = loadManifest(DMS, { target: 'production' })
  assert.equal(staging.smoke.load?.paths, ['/', '/api/version'])
  assert.is(staging.smoke.load?.requests, 100)
  assert.is(staging.smoke.load?.concurrency, 4, 'keys the override does not name stay')
  assert.is(production.smoke.load?.requests, 300)
  assert.is(staging.target, 'staging')
})

test('pyshop: a target override changes one key of one service (web replicas 2 in production, 1 in staging)', () => {
  const pyshop = path.join(ROOT, 'examples/pyshop')
  const replicas = (target: string) =>
    loadManifest(pyshop, { target }).services.map((s) => [s.name, s.replicas, s.port, s.readiness])
  assert.equal(replicas('production'), [
    ['web', 2, 8000, '/healthz'],
    ['api', 1, 9000, '/ready'],
  ])
  assert.equal(replicas('staging'), [
    ['web', 1, 8000, '/healthz'],
    ['api', 1, 9000, '/ready'],
  ])
  assert.equal(loadManifest(pyshop).accessories, [], 'no database')
})

test('twelve distinct mistakes: twelve messages, each at its marked line with file:line:col', () => {
  const text = fs.readFileSync(TWELVE, 'utf8')
  const problems = manifestProblems(text, 'shop.yaml')
  assert.is(problems.length, 12, problems.join('\n'))
  const lines = problems.map((p) => {
    const m = /^shop\.yaml:(\d+):(\d+): \S/.exec(p)
    assert.ok(m, `not located: ${p}`)
    return Number(m![1])
  })
  assert.equal(lines, markedLines(text))
  for (const word of [
    'unknown key "owner"',
    'did you mean "replicas"',
    'out of range',
    'not defined',
    'duplicate route',
  ])
    assert.ok(
      problems.some((p) => p.includes(word)),
      `no message says ${word}`,
    )
  assert.ok(problems.some((p) => p.includes('no service "billing" serves this route')))
})

test('a refused manifest is a ManifestError: exit 2, every problem in the message, the fix in the hint', () => {
  try {
    loadManifest(TWELVE)
    assert.unreachable('a broken manifest was accepted')
  } catch (err) {
    assert.instance(err, ManifestError)
    const e = err as ManifestError
    assert.is(e.exitCode, EXIT.REFUSED)
    assert.match(e.message, /^Can't use the manifest .*twelve-mistakes\.yaml: 12 problems/)
    assert.is(e.message.split('\n').length, 13)
    assert.match(e.hint, /nothing was changed/)
  }
})

test('a missing manifest names the flag to pass', () => {
  try {
    loadManifest('no/such/app', { cwd: ROOT })
    assert.unreachable('a missing manifest was accepted')
  } catch (err) {
    assert.is((err as ManifestError).exitCode, EXIT.REFUSED)
    assert.match((err as Error).message, /Can't read the manifest .*no\/such\/app: ENOENT/)
    assert.match((err as ManifestError).hint, /--app/)
  }
})

test('YAML syntax errors are located too', () => {
  const problems = manifestProblems('name: a\nservices:\n  web: {port: 1\n', 'x.yaml')
  assert.ok(problems.length >= 1)
  assert.match(problems[0]!, /^x\.yaml:\d+:\d+: /)
  const dup = manifestProblems('name: a\nname: b\n', 'd.yaml')
  assert.match(dup[0]!, /^d\.yaml:2:1: .*[Uu]nique/)
})

const base = `name: app
secrets: [token]
services:
  web: { image: acme/web, port: 8000, readiness: /health }
routes:
  - { path: /, service: web }
`

test('an override that breaks a rule is reported at the override', () => {
  const text = `${base}targets:\n  staging:\n    routes:\n      - { path: /x/, service: nope }\n`
  const problems = manifestProblems(text, 'o.yaml')
  assert.equal(problems, [
    'o.yaml:10:7: targets.staging.routes: no default route; expected exactly one route with path "/" and no host',
    'o.yaml:10:31: targets.staging.routes.0.service: no service "nope" serves this route; expected one of: web',
  ])
})

test('accessories: a name shared with a service, an undefined secret and a bad volume are refused', () => {
  const text = `${base}accessories:\n  web: { image: 'redis:7', port: 6379, secrets: [pw], volumes: ['data:relative'] }\n`
  const problems = manifestProblems(text, 'a.yaml')
  assert.is(problems.length, 3, problems.join('\n'))
  assert.match(problems.join('\n'), /both a service and an accessory/)
  assert.match(problems.join('\n'), /secret "pw" is not defined/)
  assert.match(problems.join('\n'), /accessories\.web\.volumes\.0: "data:relative" is not allowed/)
})

test('defaults: replicas 1, stop grace 30s, half a CPU, GET 200 checks', () => {
  const m = parseManifest(`${base}smoke:\n  checks:\n    - { name: home, path: / }\n`, 'd.yaml')
  const web = m.services[0]!
  assert.equal(
    [web.replicas, web.stopGrace, web.resources, web.env, web.secrets],
    [1, '30s', { cpus: 0.5, memory: '256m' }, {}, []],
  )
  assert.equal(m.smoke.checks[0], {
    name: 'home',
    method: 'GET',
    path: '/',
    headers: {},
    status: 200,
    body: undefined,
    bodyContains: undefined,
    jsonField: undefined,
  })
  assert.equal(m.accessories, [])
  assert.is(m.release, undefined)
})

test.run()
