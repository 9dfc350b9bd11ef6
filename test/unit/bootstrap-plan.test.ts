// bootstrap's decisions (lib/bootstrap-plan.ts): report, ready, refuse, or which steps to install.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decideBootstrap } from '../../lib/bootstrap-plan.ts'
import type { Need } from '../../lib/host.ts'

const needs = (...missing: string[]): Need[] =>
  ['docker CLI', 'Docker Engine (dockerd)', 'Compose v2', 'live-restore', 'Docker Engine running', 'wrk', 'nginx'].map(
    (name) => ({ name, ok: !missing.includes(name), detail: '' }),
  )
const o = { check: false, dryRun: false, noBuild: false, forTests: false, debianLike: true, root: true }

test('--check and --dry-run only report what is missing', () => {
  assert.equal(decideBootstrap(needs('Compose v2'), { ...o, check: true }), { kind: 'report', missing: ['Compose v2'] })
  assert.equal(decideBootstrap(needs(), { ...o, dryRun: true }), { kind: 'report', missing: [] })
})

test('nothing missing and --no-build is the quick path; nothing missing with a build still builds', () => {
  assert.equal(decideBootstrap(needs(), { ...o, noBuild: true }), { kind: 'ready' })
  assert.equal(decideBootstrap(needs(), o), {
    kind: 'install',
    packages: [],
    compose: false,
    liveRestore: false,
    startDocker: false,
    build: true,
  })
})

test('something missing off Debian or without root is refused, naming what', () => {
  assert.equal(decideBootstrap(needs('wrk'), { ...o, debianLike: false }), { kind: 'refuse', missing: ['wrk'] })
  assert.equal(decideBootstrap(needs('docker CLI'), { ...o, root: false }), { kind: 'refuse', missing: ['docker CLI'] })
})

test('docker.io once for the CLI and the engine; test tools only with --for-tests; compose, live-restore, start', () => {
  const all = needs(
    'docker CLI',
    'Docker Engine (dockerd)',
    'Compose v2',
    'live-restore',
    'Docker Engine running',
    'wrk',
  )
  const d = decideBootstrap(all, { ...o, noBuild: true })
  assert.equal(d, {
    kind: 'install',
    packages: ['docker.io'],
    compose: true,
    liveRestore: true,
    startDocker: true,
    build: false,
  })
  const t = decideBootstrap(all, { ...o, forTests: true })
  assert.ok(t.kind === 'install' && t.packages.includes('wrk') && t.packages[0] === 'docker.io')
})

test.run()
