// test-lane: app3
// An accessory whose image is only in the target's registry (#14 with the registry): Debian's docker-registry
// with htpasswd auth on 127.0.0.1:38500, pyshop's release and an accessory image pushed into it and removed here.
// deploy-production's first core start logs in with the target's credentials (its own DOCKER_CONFIG) and pulls
// the accessory (`up --pull missing`); the release is pulled during planning as before. Nothing of the login in
// root's ~/.docker. Prefix dmst-racc, subnet 172.29.54, ports 38xxx.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { tempEnvDir, removeOnExit } from '../helpers/run.ts'
import { BASE_IMAGE, buildOne, removeProjects, REPO, request } from './harness.ts'
import { PYSHOP_TARGET_SETTINGS, PYSHOP_VERSIONS } from './pyshop-stack.ts'
import { forgetLocal, pushAs, removeRegistry, startRegistry, type TestRegistry } from './registry-helpers.ts'
import { script, toolkitTarget } from './toolkit-env.ts'

const PREFIX = 'dmst-racc'
const PORT = 38500
const REG = `127.0.0.1:${PORT}`
const [A1] = PYSHOP_VERSIONS
const KV = `${REG}/pyshop/kv:e2e-racc`
const PASSWORD = crypto.randomBytes(18).toString('base64url')
const dir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dmst-racc-app-')))
const t = toolkitTarget(PREFIX, '172.29.54', 38, {
  DMS_ENV_DIR: tempEnvDir({ '.env.production.local': `REGISTRY_PASSWORD=${PASSWORD}\n` }),
  REGISTRY: REG,
  REGISTRY_USER: 'ci',
  APP: dir,
  APP_IMAGE: `${REG}/pyshop/app`,
  ...PYSHOP_TARGET_SETTINGS,
})
const sh = $({ nothrow: true, quiet: true })
let reg: TestRegistry

/** pyshop with the accessory kv: image only, from the registry */
function writeManifest(): void {
  const pyshop = fs.readFileSync(path.join(REPO, 'examples/pyshop/app.yaml'), 'utf8').replaceAll('    build: .\n', '')
  const kv = `accessories:\n  kv:\n    image: ${KV}\n    port: 7000\n    publish: "38379"\n    env: { PORT: '7000', READY_PATH: /ready, SERVICE: kv }\n`
  fs.writeFileSync(path.join(dir, 'app.yaml'), `${pyshop}\n${kv}`)
}

test.before(async () => {
  await removeProjects(PREFIX)
  writeManifest()
  await buildOne(`pyshop/app:${A1}`, path.join(REPO, 'examples/pyshop'), { BASE_IMAGE })
  await buildOne('dms/nginx:local', path.join(REPO, 'compose/images/nginx'), { BASE_IMAGE })
  reg = await startRegistry(PORT, PASSWORD)
  await pushAs(reg, `pyshop/app:${A1}`, `pyshop/app:${A1}`)
  await pushAs(reg, `pyshop/app:${A1}`, 'pyshop/kv:e2e-racc')
  await forgetLocal(reg)
})

test.after(async () => {
  await removeProjects(PREFIX)
  if (reg) await removeRegistry(reg)
})

test("the first deploy's core start pulls the accessory from the target's registry with the target's login", async () => {
  assert.is((await sh`docker image inspect ${KV}`).exitCode, 1, 'the accessory image is not here before the deploy')
  const root = path.join(os.homedir(), '.docker', 'config.json')
  const rootBefore = fs.existsSync(root) ? fs.readFileSync(root, 'utf8') : ''
  const d = await script(t, 'deploy-production', ['--version', A1, '--yes'], {}, 300_000)
  assert.is(d.code, 0, d.stderr.slice(-3000))
  assert.match(d.stdout + d.stderr, /Starting the core services \(nginx, kv\)/)
  assert.is((await sh`docker image inspect ${KV}`).exitCode, 0, 'the core start pulled it')
  const image =
    await sh`docker ps --filter ${`label=com.docker.compose.project=${PREFIX}-prod`} --filter ${'label=com.docker.compose.service=kv'} --format ${'{{.Image}}'}`
  assert.is(image.stdout.trim(), KV)
  assert.is((await request('http://127.0.0.1:38379/ready')).status, 200, 'kv answers where it is published')
  const home = await request('https://127.0.0.1:38443/')
  assert.equal([home.status, home.headers['x-deploy-version']], [200, A1])
  const rootAfter = fs.existsSync(root) ? fs.readFileSync(root, 'utf8') : ''
  assert.is(rootAfter, rootBefore, "root's ~/.docker/config.json is unchanged")
  assert.not.match(rootAfter, new RegExp(REG.replace(/\./g, '\\.')), 'no login to the test registry in root config')
})

test.run()
