// config.app: which manifest a target deploys (APP, --app, the default), its JSON cache keyed by the text
// and the target (a warm cache never loads the YAML parser), and a broken manifest refused with every line.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { REPO_ROOT, loadConfig } from '../../../lib/config.ts'
import { APP_CACHE_FILE, appModelKey, withApp } from '../../../lib/manifest/app-model.ts'
import { ManifestError } from '../../../lib/manifest/load.ts'
import { removeOnExit, runTs, tempEnvDir } from '../../helpers/run.ts'

const tempDir = (name: string) => removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), `dms-${name}-`)))
const load = (env: Record<string, string>, app?: string) =>
  loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir(), ...env }, generateSecrets: false, app })
const pyshop = fs.readFileSync(path.join(REPO_ROOT, 'examples/pyshop/app.yaml'), 'utf8')

test('APP defaults to examples/dms, relative to the repo root', () => {
  const c = withApp(load({ VAR_DIR: tempDir('var') }))
  assert.is(c.appPath, path.join(REPO_ROOT, 'examples/dms'))
  assert.is(c.sources.APP, 'default')
  assert.is(c.app.name, 'dms')
  assert.is(c.app.target, 'production')
})

test("APP_IMAGE: when the env file names none, the manifest's image; when it names one, that one", () => {
  const envDir = tempEnvDir()
  const file = path.join(envDir, '.env.production')
  fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8').replace(/^APP_IMAGE=.*$/m, '')}\nAPP=examples/pyshop\n`)
  const c = loadConfig({
    target: 'production',
    env: { DMS_ENV_DIR: envDir, VAR_DIR: tempDir('var') },
    generateSecrets: false,
  })
  assert.is(c.appImage, '', 'no default naming an app in lib/')
  assert.is(c.sources.APP_IMAGE, 'default')
  assert.is(withApp(c).appImage, 'pyshop/app')
  assert.is(
    withApp(load({ VAR_DIR: tempDir('var'), APP_IMAGE: 'registry.example.com/team/web' })).appImage,
    'registry.example.com/team/web',
  )
  try {
    load({ APP_IMAGE: 'Bad Image' })
    assert.unreachable('a bad APP_IMAGE was accepted')
  } catch (e) {
    assert.match((e as Error).message, /APP_IMAGE="Bad Image" is not valid: write an image reference like team\/web/)
  }
})

test('APP in the env file names another app; --app (from the working directory) wins over it', () => {
  const envDir = tempEnvDir()
  fs.appendFileSync(path.join(envDir, '.env.production'), '\nAPP=examples/pyshop\n')
  const fromFile = withApp(
    loadConfig({ target: 'production', env: { DMS_ENV_DIR: envDir, VAR_DIR: tempDir('var') }, generateSecrets: false }),
  )
  assert.is(fromFile.app.name, 'pyshop')
  assert.match(fromFile.sources.APP!, /\.env\.production:\d+$/)
  const dir = tempDir('app')
  fs.writeFileSync(path.join(dir, 'app.yaml'), pyshop.replace(/^name: pyshop$/m, 'name: shop2'))
  const fromFlag = withApp(
    loadConfig({
      target: 'production',
      env: { DMS_ENV_DIR: envDir, VAR_DIR: tempDir('var') },
      generateSecrets: false,
      app: path.relative(process.cwd(), dir),
    }),
  )
  assert.is(fromFlag.app.name, 'shop2')
  assert.is(fromFlag.sources.APP, '--app')
  assert.is(fromFlag.appPath, dir)
})

test('the model is cached in VAR_DIR by the sha256 of target, file and text; an edit is parsed again', () => {
  const varDir = tempDir('var')
  const appDir = tempDir('app')
  const file = path.join(appDir, 'app.yaml')
  fs.writeFileSync(file, pyshop)
  const c = load({ VAR_DIR: varDir, APP: appDir })
  assert.is(withApp(c).app.name, 'pyshop')
  const cacheFile = path.join(varDir, APP_CACHE_FILE)
  const record = JSON.parse(fs.readFileSync(cacheFile, 'utf8'))
  assert.is(record.key, appModelKey('production', file, pyshop))
  assert.is.not(record.key, appModelKey('staging', file, pyshop))
  // a matching key is read back as is: plant a recognisable model to prove no parse happened
  fs.writeFileSync(cacheFile, JSON.stringify({ key: record.key, manifest: { ...record.manifest, name: 'from-cache' } }))
  assert.is(withApp(c).app.name, 'from-cache')
  fs.writeFileSync(file, pyshop.replace(/^name: pyshop$/m, 'name: edited'))
  assert.is(withApp(c).app.name, 'edited')
  assert.is(JSON.parse(fs.readFileSync(cacheFile, 'utf8')).manifest.name, 'edited')
})

test('another app than the last script used, not by --app: a warning naming both and the fix', () => {
  const varDir = tempDir('var')
  const shop = withApp(load({ VAR_DIR: varDir, APP: 'examples/pyshop' }))
  assert.equal(shop.warnings, [])
  const dms = withApp(load({ VAR_DIR: varDir }))
  assert.is(dms.app.name, 'dms')
  const warning = dms.warnings.find((w) => w.includes('the last script of this target used'))
  assert.ok(warning, dms.warnings.join('\n'))
  assert.match(warning!, `used ${path.join(REPO_ROOT, 'examples/pyshop/app.yaml')}`)
  assert.match(warning!, 'set APP to its directory in env/.env.production')
  // the same app again (now cached), or an explicit --app: no warning
  assert.equal(withApp(load({ VAR_DIR: varDir })).warnings, [])
  const flag = withApp(load({ VAR_DIR: varDir }, path.join(REPO_ROOT, 'examples/pyshop')))
  assert.equal(flag.warnings, [])
})

test('write: false (--dry-run) leaves VAR_DIR as it was', () => {
  const varDir = tempDir('var')
  assert.is(withApp(load({ VAR_DIR: varDir }), { write: false }).app.name, 'dms')
  assert.equal(fs.readdirSync(varDir), [])
})

test('a broken manifest: ManifestError (exit 2) with every located problem, nothing cached', () => {
  const varDir = tempDir('var')
  const appDir = tempDir('app')
  fs.writeFileSync(
    path.join(appDir, 'app.yaml'),
    pyshop.replace(/^name: pyshop$/m, 'name: pyshop\ncolour: blue').replace(/port: (\d+)/, 'port: 99999'),
  )
  try {
    withApp(load({ VAR_DIR: varDir, APP: appDir }))
    assert.unreachable('a broken manifest was accepted')
  } catch (err) {
    assert.instance(err, ManifestError)
    assert.is((err as ManifestError).exitCode, 2)
    assert.is((err as ManifestError).problems.length, 2)
    for (const p of (err as ManifestError).problems) assert.match(p, /app\.yaml:\d+:\d+: /)
  }
  assert.equal(fs.readdirSync(varDir), [])
})

test('a warm cache never loads the YAML parser (a cold one does)', async () => {
  const env = { DMS_ENV_DIR: tempEnvDir(), VAR_DIR: tempDir('var'), APP: 'examples/pyshop' }
  const cold = await runTs('test/fixtures/app-model-load.ts', [], { env })
  assert.is(cold.code, 0, cold.stderr)
  assert.equal(JSON.parse(cold.stdout), { name: 'pyshop', yamlLoaded: true })
  const warm = await runTs('test/fixtures/app-model-load.ts', [], { env })
  assert.is(warm.code, 0, warm.stderr)
  assert.equal(JSON.parse(warm.stdout), { name: 'pyshop', yamlLoaded: false })
})

test.run()
