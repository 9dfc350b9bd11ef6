// Builders return argv arrays and environments: compared as values. The marker files are
// tested on a temp directory.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { REPO_ROOT, loadConfig } from '../../lib/config.ts'
import { loadManifest } from '../../lib/manifest/load.ts'
import {
  appAddress,
  composeEnv,
  coreTarget,
  downArgs,
  execArgs,
  parseDockerPs,
  parsePs,
  quoteArgv,
  slotProject,
  slotTarget,
  upArgs,
  monitoringTarget,
} from '../../lib/compose.ts'
import { clearGradual, readLive, setGradual, setLive } from '../../lib/nginx.ts'
import { tempEnvDir } from '../helpers/run.ts'

const config = loadConfig({
  target: 'production',
  env: { DMS_ENV_DIR: tempEnvDir(), APP_FAIL_HEALTH: '1' },
  generateSecrets: true,
})

test('slot targets: one compose project per slot, slot variables in the environment', () => {
  const t = slotTarget(config, 'green', 'v2.1')
  assert.is(t.project, 'dms-prod-green')
  assert.equal(t.profiles, ['slot'])
  assert.is(t.env.SLOT, 'green')
  assert.is(t.env.SLOT_NUM, '2')
  assert.is(t.env.VERSION, 'v2.1')
  assert.is(t.env.FAIL_HEALTH, '1', 'APP_* knobs reach the app')
  assert.is(slotProject(config, 'blue'), 'dms-prod-blue')
  assert.is(coreTarget(config).project, 'dms-prod')
  assert.equal(coreTarget(config).profiles, ['core'])
  assert.is(monitoringTarget(config).project, 'dms-prod-monitoring')
  assert.is(appAddress(config, 'green', 'api'), '172.29.10.22')
  assert.is(appAddress(config, 'blue', 'main'), '172.29.10.14')
  // any app: its manifest's services and replicas (pyshop: web x2, then api)
  const shop = { ...config, app: loadManifest(path.join(REPO_ROOT, 'examples/pyshop')) }
  assert.is(appAddress(shop, 'green', 'web-2'), '172.29.10.22')
  assert.is(appAddress(shop, 'blue', 'api'), '172.29.10.13')
  try {
    appAddress(shop, 'blue', 'frontend')
    assert.unreachable('a service the app does not have')
  } catch (e) {
    assert.match((e as Error).message, 'frontend is not a service of the app pyshop')
  }
})

test('no secret reaches argv or the compose environment', () => {
  const t = slotTarget(config, 'blue', 'v1')
  const everything = [
    ...upArgs(t, { waitTimeoutS: 60 }),
    ...Object.values(t.env),
    ...Object.values(coreTarget(config).env),
  ].join(' ')
  for (const secret of config.secrets)
    assert.not.ok(everything.includes(secret), 'a secret leaked into the compose call')
})

test('argv builders', () => {
  const t = slotTarget(config, 'blue', 'v1')
  const base = ['compose', '-f', config.composeFile, '-p', 'dms-prod-blue', '--profile', 'slot']
  assert.equal(upArgs(t, { waitTimeoutS: 90, forceRecreate: true }), [
    ...base,
    'up',
    '--detach',
    '--wait',
    '--wait-timeout',
    '90',
    '--no-build',
    '--force-recreate',
    '--pull',
    'never',
  ])
  assert.equal(upArgs(t, { build: true }), [...base, 'up', '--detach', '--build', '--pull', 'never'])
  assert.equal(downArgs(t, { timeoutS: 30 }), [...base, 'down', '--remove-orphans', '--timeout', '30'])
  assert.equal(execArgs(coreTarget(config), 'nginx', ['nginx', '-t']), [
    'compose',
    '-f',
    config.composeFile,
    '-p',
    'dms-prod',
    '--profile',
    'core',
    'exec',
    '-T',
    'nginx',
    'nginx',
    '-t',
  ])
  assert.is(quoteArgv(['docker', 'run', "it's", 'a b', 'ok=1']), `docker run 'it'\\''s' 'a b' ok=1`)
})

test('parsePs reads both the JSON-lines and the array formats, with labels', () => {
  const line = {
    Service: 'api',
    Name: 'dms-prod-blue-api-1',
    State: 'running',
    Health: 'healthy',
    ExitCode: 0,
    Image: 'sha256:abc',
    Labels: 'dms.slot=blue,dms.version=v1.2,com.docker.compose.oneoff=False',
  }
  const a = parsePs(
    `${JSON.stringify(line)}\n${JSON.stringify({ ...line, Service: 'docs', State: 'exited', ExitCode: 137 })}`,
  )
  const b = parsePs(JSON.stringify([line]))
  assert.is(a.length, 2)
  assert.is(a[0]!.labels?.['dms.version'], 'v1.2')
  assert.is(a[1]!.exitCode, 137)
  assert.equal(b[0], a[0])
  assert.equal(parsePs(''), [])
})

test('parseDockerPs: service from the compose label, health from the status, one-off containers left out', () => {
  const row = (service: string, status: string, extra = '') =>
    JSON.stringify({
      Names: `p-${service}-1`,
      State: status.startsWith('Up') ? 'running' : 'exited',
      Status: status,
      Image: 'dms/app:v3',
      Labels: `com.docker.compose.project=p,com.docker.compose.service=${service},dms.version=v3${extra}`,
    })
  const out = parseDockerPs(
    [
      row('api', 'Up 3 minutes (healthy)'),
      row('docs', 'Up 2 seconds (health: starting)'),
      row('main', 'Up 1 minute (unhealthy)'),
      row('frontend', 'Exited (137) 5 seconds ago'),
      row('migrate', 'Exited (0) 1 minute ago', ',com.docker.compose.oneoff=True'),
    ].join('\n'),
  )
  assert.equal(
    out.map((s) => [s.service, s.state, s.health, s.exitCode]),
    [
      ['api', 'running', 'healthy', 0],
      ['docs', 'running', 'starting', 0],
      ['main', 'running', 'unhealthy', 0],
      ['frontend', 'exited', '', 137],
    ],
  )
  assert.is(out[0]!.labels?.['dms.version'], 'v3')
})

test('markers: live slot, gradual buckets, read back exactly as nginx evaluates them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-live-'))
  assert.is(readLive(dir).live, 'blue', 'no marker: nginx defaults to blue')
  setLive(dir, 'green')
  assert.equal(readLive(dir), { live: 'green', markers: ['green'], gradual: null })
  setGradual(dir, 'blue', 25)
  assert.equal(readLive(dir).gradual, { to: 'blue', percent: 25 })
  setGradual(dir, 'blue', 10)
  assert.equal(readLive(dir).gradual, { to: 'blue', percent: 10 }, 'a smaller step removes buckets')
  setLive(dir, 'blue')
  assert.equal(
    readLive(dir),
    { live: 'blue', markers: ['blue'], gradual: null },
    'a switch clears the buckets and the other marker',
  )
  setGradual(dir, 'green', 50)
  clearGradual(dir)
  assert.equal(fs.readdirSync(dir), ['blue'])
})

test('composeEnv carries what the compose files interpolate', () => {
  const env = composeEnv(config)
  for (const k of [
    'NETWORK_NAME',
    'NET_PREFIX',
    'VAR_DIR',
    'STATUS_PORT',
    'POSTGRES_PORT',
    'REDIS_PORT',
    'BASE_IMAGE',
    'APP_IMAGE',
    'PROMETHEUS_PORT',
    'ALERTMANAGER_PORT',
    'HTTPS_PORT',
  ])
    assert.ok(env[k], k)
  assert.ok(path.isAbsolute(env.VAR_DIR!))
})

test.run()
