// The deploy scripts' --app and APP as users run them: a manifest with twelve mistakes is refused before
// anything happens (twelve located lines, exit 2, VAR_DIR untouched); APP in the environment is used.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { removeOnExit, runTs, tempEnvDir } from '../helpers/run.ts'

const BAD = 'test/fixtures/manifests/twelve-mistakes.yaml'
const target = () => ({
  DMS_ENV_DIR: tempEnvDir(),
  VAR_DIR: removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dms-appcfg-var-'))),
})

for (const script of ['create-green-environment', 'deploy-production', 'deploy-staging']) {
  test(`${script} --app <broken>: twelve located lines, exit 2, nothing changed`, async () => {
    const env = target()
    const r = await runTs(`scripts/${script}.ts`, ['--app', BAD, '--version', 'v1', '--yes'], { env })
    assert.is(r.code, 2, r.stderr)
    const located = r.stderr.split('\n').filter((l) => /twelve-mistakes\.yaml:\d+:\d+: /.test(l))
    assert.is(located.length, 12, r.stderr)
    assert.equal(fs.readdirSync(env.VAR_DIR), [])
  })
}

test('APP in the environment: a broken one refuses rollback-production too (exit 2, nothing changed)', async () => {
  const env = { ...target(), APP: BAD }
  const r = await runTs('scripts/rollback-production.ts', ['--yes'], { env })
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, /Can't use the manifest .*twelve-mistakes\.yaml: 12 problems/)
  assert.equal(fs.readdirSync(env.VAR_DIR), [])
})

test.run()
