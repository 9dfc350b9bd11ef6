// test-lane: app3
// Accessories from the manifest (issue #14): an app with an accessory no static file knows. pyshop plus `kv`
// (pyshop's own server on port 7000, built from examples/pyshop by bootstrap.ts as pyshop/kv), published on
// 127.0.0.1, its env using ${NETWORK_CIDR}, a service's env naming it with ${KV_HOST}:${KV_PORT}. Through the
// scripts: bootstrap builds it, deploy-production starts it in the core project (beside nginx, from the
// generated VAR_DIR/compose/accessories.yml), health-check asks it (accessory_kv), logs reads it, down removes it;
// then deploy-staging runs the same app (its staging target) as one project from the generated files.
// Prefix dmst-acc, subnet 172.29.52, ports 37xxx.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { BASE_IMAGE, buildOne, removeProjects, REPO, request } from './harness.ts'
import { PYSHOP_TARGET_SETTINGS, PYSHOP_VERSIONS } from './pyshop-stack.ts'
import { script, toolkitTarget } from './toolkit-env.ts'
import { removeOnExit } from '../helpers/run.ts'

const PREFIX = 'dmst-acc'
const NET = '172.29.52'
const [A1] = PYSHOP_VERSIONS
const KV_IMAGE = 'pyshop/kv:e2e-acc'
/** a release --build makes from examples/pyshop (removed after) */
const BUILT = 'e2e-acc-built'
const dir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dmst-acc-app-')))
writeManifest()
const t = toolkitTarget(PREFIX, NET, 37, {
  APP: dir,
  APP_IMAGE: 'pyshop/app',
  ...PYSHOP_TARGET_SETTINGS,
})
const sh = $({ nothrow: true, quiet: true })

/** pyshop's manifest with the accessory kv, and web's env naming it */
function writeManifest(): void {
  const pyshop = fs.readFileSync(path.join(REPO, 'examples/pyshop/app.yaml'), 'utf8')
  const withEnv = pyshop.replace(
    "env: { PORT: '8000', READY_PATH: /healthz }",
    "env: { PORT: '8000', READY_PATH: /healthz, KV: '${KV_HOST}:${KV_PORT}' }",
  )
  assert.not.equal(withEnv, pyshop, "pyshop's web env was found")
  assert.match(withEnv, /build: \.\n/)
  const kv = [
    'accessories:',
    '  kv:',
    `    image: ${KV_IMAGE}`,
    `    build: ${path.join(REPO, 'examples/pyshop')}`,
    '    port: 7000',
    '    publish: "37379"',
    "    env: { PORT: '7000', READY_PATH: /ready, SERVICE: kv, ALLOWED: '${NETWORK_CIDR}' }",
    '    resources: { cpus: 0.25, memory: 64m }',
    '',
  ].join('\n')
  // the services' build directory, pyshop's folder, from the fixture's own folder
  const built = withEnv.replaceAll('build: .\n', `build: ${path.join(REPO, 'examples/pyshop')}\n`)
  fs.writeFileSync(path.join(dir, 'app.yaml'), `${built}\n${kv}`)
}

/** the environment of a running container, as NAME=value lines */
async function envOf(container: string): Promise<string[]> {
  const r = await sh`docker inspect --format ${'{{json .Config.Env}}'} ${container}`
  assert.is(r.exitCode, 0, r.stderr)
  return JSON.parse(r.stdout) as string[]
}

test.before(async () => {
  await removeProjects(PREFIX)
  await sh`docker image rm ${KV_IMAGE}`
  await buildOne(`pyshop/app:${A1}`, path.join(REPO, 'examples/pyshop'), { BASE_IMAGE })
  await buildOne('dms/nginx:local', path.join(REPO, 'compose/images/nginx'), { BASE_IMAGE })
})

test.after(async () => {
  await removeProjects(PREFIX)
  await sh`docker image rm ${KV_IMAGE} ${`pyshop/app:${BUILT}`}`
})

test('an accessory of its own: built by bootstrap, started beside nginx, published, asked by health-check, removed by down', async () => {
  const render = await script(t, 'render', ['--app', dir])
  assert.is(render.code, 0, render.stderr)
  assert.match(render.stdout, /compose\/accessories\.yml/)

  // bootstrap builds the images the core needs: nginx and the accessory's build directory
  assert.is((await sh`docker image inspect ${KV_IMAGE}`).exitCode, 1, 'no kv image before bootstrap')
  const boot = await script(t, 'bootstrap', ['--yes'], { BASE_IMAGE }, 600_000)
  assert.is(boot.code, 0, boot.stderr.slice(-2000))
  assert.match(boot.stdout + boot.stderr, /Building the stack images \(nginx, kv\)/)
  assert.is((await sh`docker image inspect ${KV_IMAGE}`).exitCode, 0, 'bootstrap built the kv image')

  const deploy = await script(t, 'deploy-production', ['--version', A1, '--yes'])
  assert.is(deploy.code, 0, deploy.stderr.slice(-3000))
  assert.match(deploy.stdout + deploy.stderr, /Starting the core services \(nginx, kv\)/)

  // the core project runs kv at the first accessory address, from the generated file
  const ps =
    await sh`docker ps --filter ${`label=com.docker.compose.project=${PREFIX}-prod`} --format ${'{{.Label "com.docker.compose.service"}} {{.Names}}'}`
  const core = ps.stdout.trim().split('\n').sort()
  assert.equal(
    core.map((l) => l.split(' ')[0]),
    ['kv', 'nginx'],
  )
  const kvName = core.find((l) => l.startsWith('kv '))!.split(' ')[1]!
  const ip =
    await sh`docker inspect --format ${`{{(index .NetworkSettings.Networks "${PREFIX}-net").IPAddress}}`} ${kvName}`
  assert.is(ip.stdout.trim(), `${NET}.3`)
  const files =
    await sh`docker inspect --format ${'{{index .Config.Labels "com.docker.compose.project.config_files"}}'} ${kvName}`
  assert.match(files.stdout, /compose\/accessories\.yml/)
  assert.ok((await envOf(kvName)).includes(`ALLOWED=${NET}.0/24`), '${NETWORK_CIDR} resolved')

  // published on the host's loopback at the manifest's port; web reaches it by ${KV_HOST}:${KV_PORT}
  const direct = await request('http://127.0.0.1:37379/ready')
  assert.is(direct.status, 200)
  const web =
    await sh`docker ps --filter ${`label=com.docker.compose.project=${PREFIX}-prod-green`} --filter ${'label=com.docker.compose.service=web-1'} --format ${'{{.Names}}'}`
  assert.ok((await envOf(web.stdout.trim())).includes(`KV=${NET}.3:7000`), 'the service env names the accessory')
  const viaNet =
    await sh`docker exec ${web.stdout.trim()} python3 -c ${`import urllib.request;print(urllib.request.urlopen('http://${NET}.3:7000/ready').status)`}`
  assert.is(viaNet.stdout.trim(), '200', viaNet.stderr)

  // --build makes the release's image from the services' build directory, then runs it in the idle slot
  await sh`docker image rm ${`pyshop/app:${BUILT}`}`
  const create = await script(t, 'create-green-environment', ['--version', BUILT, '--build', '--yes'], {}, 600_000)
  assert.is(create.code, 0, create.stderr.slice(-3000))
  assert.is((await sh`docker image inspect ${`pyshop/app:${BUILT}`}`).exitCode, 0, '--build built the image')
  const blue = await request('https://127.0.0.1:37444/api/items', { headers: { 'X-DMS-Slot': 'blue' } })
  assert.equal([blue.status, blue.headers['x-deploy-version']], [200, BUILT], 'the built release answers in blue')

  // health-check asks it; logs reads it; down removes it with the rest
  const health = await script(t, 'health-check', ['--json'])
  const kvCheck = JSON.parse(health.stdout).checks.find((c: { name: string }) => c.name === 'accessory_kv')
  assert.is(kvCheck?.status, 'OK', health.stdout)
  const logs = await script(t, 'logs', ['--service', 'kv', '--tail', '5'])
  assert.is(logs.code, 0, logs.stderr)
  const down = await script(t, 'down', ['--volumes', '--yes'])
  assert.is(down.code, 0, down.stderr.slice(-2000))
  const left =
    await sh`docker ps -a --filter ${`label=com.docker.compose.project=${PREFIX}-prod`} --format ${'{{.Names}}'}`
  assert.is(left.stdout.trim(), '', 'down removed the accessory and nginx')
})

test('the same app in staging: one project of nginx, the accessory and the slot, all from the manifest', async () => {
  // a target of its own: its project, runtime dir and state
  const varDir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-staging-var-`)))
  const env = { COMPOSE_PROJECT: `${PREFIX}-staging`, VAR_DIR: varDir }
  const r = await script(t, 'deploy-staging', ['--version', A1, '--skip-checks', '--yes'], env)
  assert.is(r.code, 0, r.stderr.slice(-3000))
  const format = '{{.Label "com.docker.compose.service"}}'
  const ps = await sh`docker ps --filter ${`label=com.docker.compose.project=${PREFIX}-staging`} --format ${format}`
  // the staging target of pyshop's manifest runs web once
  assert.equal(ps.stdout.trim().split('\n').sort(), ['api', 'kv', 'nginx', 'web'])
  const home = await request('https://127.0.0.1:37443/')
  assert.equal([home.status, home.headers['x-deploy-slot'], home.headers['x-deploy-version']], [200, 'blue', A1])
  const direct = await request('http://127.0.0.1:37379/ready')
  assert.is(direct.status, 200, 'the accessory published in staging too')
  const down = await script(t, 'down', ['--target', 'staging', '--volumes', '--yes'], env)
  assert.is(down.code, 0, down.stderr.slice(-2000))
  const left =
    await sh`docker ps -a --filter ${`label=com.docker.compose.project=${PREFIX}-staging`} --format ${'{{.Names}}'}`
  assert.is(left.stdout.trim(), '')
})

test.run()
