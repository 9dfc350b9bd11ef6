// Builders return argv arrays and environments: compared as values. The marker files are
// tested on a temp directory.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parse } from 'yaml'
import { REPO_ROOT, loadConfig } from '../../lib/config.ts'
import { coreServices } from '../../lib/core-stack.ts'
import { RefusedError } from '../../lib/errors.ts'
import { pinnedRepository, serviceBuilds } from '../../lib/manifest/app-model.ts'
import { loadManifest } from '../../lib/manifest/load.ts'
import {
  accessoriesComposeFile,
  renderAccessoriesFile,
  renderSlotFile,
  slotComposeFile,
} from '../../lib/generated-compose.ts'
import {
  appAddress,
  oneOffTarget,
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
import { removeOnExit, tempEnvDir } from '../helpers/run.ts'

const varDir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dms-compose-var-')))
const config = loadConfig({
  target: 'production',
  env: { DMS_ENV_DIR: tempEnvDir(), APP_FAIL_HEALTH: '1', VAR_DIR: varDir },
  generateSecrets: true,
})
const shop = { ...config, app: loadManifest(path.join(REPO_ROOT, 'examples/pyshop')) }
const staging = loadConfig({
  target: 'staging',
  env: { DMS_ENV_DIR: tempEnvDir(), VAR_DIR: removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dms-compose-st-'))) },
  generateSecrets: true,
})

test('slot targets: one compose project per slot, slot variables in the environment', () => {
  const t = slotTarget(config, 'green', 'v2.1')
  assert.is(t.project, 'dms-prod-green')
  assert.equal(t.profiles, [])
  assert.is(t.file, path.join(varDir, 'compose', 'app-green.yml'), "the app's generated file, under VAR_DIR")
  assert.ok(fs.existsSync(t.file), 'written when missing, for the commands that read a slot')
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
  const base = ['compose', '-f', slotComposeFile(config, 'blue'), '-p', 'dms-prod-blue']
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
    '-f',
    accessoriesComposeFile(config),
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

test('the generated slot file: the release from ${VERSION}, a pinned digest for APP_IMAGE, APP_* settings passed', () => {
  const y = parse(renderSlotFile(config, 'green'))
  assert.equal(Object.keys(y.services), ['frontend', 'api', 'docs', 'main', 'release'])
  const api = y.services.api
  assert.is(api.image, '${APP_IMAGE_REF:-dms/app:${VERSION:?VERSION is required}}')
  assert.is(api.environment.VERSION, '${VERSION:?VERSION is required}')
  assert.is(api.labels['dms.version'], '${VERSION:?VERSION is required}')
  assert.equal([api.environment.FAIL_HEALTH, api.environment.ROLE, api.environment.SLOT], ['1', 'api', 'green'])
  assert.is(api.networks.app.ipv4_address, `${config.netPrefix}.22`)
  // another repository than APP_IMAGE: no pinned digest replaces it
  const web = parse(renderSlotFile(shop, 'blue')).services['web-2']
  assert.is(web.image, 'pyshop/app:${VERSION:?VERSION is required}')
  assert.is(web.networks.app.ipv4_address, `${config.netPrefix}.12`)
})

test('APP_IMAGE in a registry (<registry>/<the manifest image>): the services of that image run it from there', () => {
  const inRegistry = { ...config, appImage: '127.0.0.1:32500/dms/app' }
  assert.equal(pinnedRepository(inRegistry), { pinImage: 'dms/app', repository: '127.0.0.1:32500/dms/app' })
  const api = parse(renderSlotFile(inRegistry, 'blue')).services.api
  assert.is(api.image, '${APP_IMAGE_REF:-127.0.0.1:32500/dms/app:${VERSION:?VERSION is required}}')
  const release = parse(renderSlotFile(inRegistry, 'blue')).services.release
  assert.is(release.image, api.image, "the release command's one-off runs the same image")
  // an APP_IMAGE of another app (left in an env file) is not taken for this one's image
  assert.equal(pinnedRepository({ ...config, appImage: 'pyshop/app' }), {})
  assert.is(
    parse(renderSlotFile({ ...config, appImage: 'pyshop/app' }, 'blue')).services.api.image,
    'dms/app:${VERSION:?VERSION is required}',
  )
})

test('one-off containers: the generated release service; --build builds each service image from its build directory', () => {
  const { target, service } = oneOffTarget(config, 'blue', 'v1')
  assert.equal([service, target.profiles, target.file], ['release', ['release'], slotComposeFile(config, 'blue')])
  const s = oneOffTarget(staging, 'blue', 'v1')
  assert.equal(
    [s.service, s.target.profiles, s.target.project, s.target.also],
    ['release', ['release'], 'dms-staging', [accessoriesComposeFile(staging), slotComposeFile(staging, 'blue')]],
    "staging's one-off runs the generated release service in the stack's one project",
  )
  assert.equal(serviceBuilds(config, 'v1'), [{ tag: 'dms/app:v1', dir: path.join(REPO_ROOT, 'compose/images/app') }])
  assert.equal(serviceBuilds(shop, 'v2'), [{ tag: 'pyshop/app:v2', dir: path.join(REPO_ROOT, 'examples/pyshop') }])
  const inRegistry = { ...shop, appImage: 'registry.example:5000/pyshop/app' }
  assert.equal(serviceBuilds(inRegistry, 'v2')[0]?.tag, 'registry.example:5000/pyshop/app:v2', "APP_IMAGE's repository")
  try {
    oneOffTarget(shop, 'blue', 'v1')
    assert.unreachable('an app without a release command has no one-off service')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /the app pyshop has no release command/)
  }
})

test('core services: nginx and the manifest accessories (an app without any: nginx alone)', () => {
  assert.equal(coreServices(config), ['nginx', 'postgres', 'redis'])
  assert.equal(coreServices(shop), ['nginx'])
})

test("the core project: the static file's nginx with the accessories' generated file merged over it (production)", () => {
  const t = coreTarget(config)
  assert.is(t.file, config.composeFile)
  assert.equal(t.also, [accessoriesComposeFile(config)])
  assert.ok(fs.existsSync(accessoriesComposeFile(config)), 'written when missing, for the commands that read the core')
  assert.is(fs.readFileSync(accessoriesComposeFile(config), 'utf8'), renderAccessoriesFile(config))
  const up = upArgs(t, { services: ['nginx', 'postgres'], pull: 'missing' })
  assert.equal(up.slice(1, 5), ['-f', config.composeFile, '-f', accessoriesComposeFile(config)])
  assert.equal(up.slice(-4), ['--pull', 'missing', 'nginx', 'postgres'])
})

test("staging is one project: the static file's nginx, the accessories and the blue slot's generated files", () => {
  const files = [accessoriesComposeFile(staging), slotComposeFile(staging, 'blue')]
  const core = coreTarget(staging)
  assert.equal([core.file, core.also, core.project, core.profiles], [staging.composeFile, files, 'dms-staging', []])
  for (const f of files) assert.ok(fs.existsSync(f), `${f} written when missing`)
  const slot = slotTarget(staging, 'blue', 'v7')
  assert.equal(
    [slot.file, slot.also, slot.project, slot.env.VERSION],
    [staging.composeFile, files, 'dms-staging', 'v7'],
  )
  assert.is(parse(fs.readFileSync(files[1]!, 'utf8')).services.api.networks.app.ipv4_address, `${staging.netPrefix}.12`)
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
