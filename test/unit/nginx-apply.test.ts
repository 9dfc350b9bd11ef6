// applyIncludes: validate with nginx -t before any reload, restore the last good files when
// nginx rejects them, reload only when something changed. A fake shell plays nginx here; the
// e2e suite (bluegreen) changes a setting on the real nginx.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../lib/config.ts'
import { OperationError } from '../../lib/errors.ts'
import { applyIncludes, nginxSettings } from '../../lib/nginx.ts'
import { renderNginxIncludes } from '../../lib/nginx-render.ts'
import { fakeNginx } from '../helpers/fake-nginx.ts'
import { tempEnvDir } from '../helpers/run.ts'

const env = (extra: Record<string, string> = {}) => loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir(), ...extra }, generateSecrets: true })

function liveDir(config: ReturnType<typeof env>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-nginx-'))
  for (const [name, text] of Object.entries(renderNginxIncludes(nginxSettings(config)))) fs.writeFileSync(path.join(dir, name), text)
  return dir
}

test('nothing changed: no nginx -t, no reload', async () => {
  const config = env()
  const dir = liveDir(config)
  const { sh, calls } = fakeNginx(true)
  assert.equal(await applyIncludes(sh, config, dir, { nginxRunning: true }), [])
  assert.equal(calls, [])
})

test('a changed setting: written, validated, then reloaded', async () => {
  const dir = liveDir(env())
  const { sh, calls } = fakeNginx(true)
  const changed = await applyIncludes(sh, env({ STATUS_ALLOW: '10.0.0.0/8' }), dir, { nginxRunning: true })
  assert.equal(changed, ['status-allow.conf'])
  assert.equal(calls, ['nginx -t -q', 'nginx -s reload'])
  assert.match(fs.readFileSync(path.join(dir, 'status-allow.conf'), 'utf8'), /allow 10\.0\.0\.0\/8;/)
})

test('nginx -t rejects it: the last good files come back and nginx is not reloaded', async () => {
  const dir = liveDir(env())
  const before = fs.readFileSync(path.join(dir, 'status-allow.conf'), 'utf8')
  const { sh, calls } = fakeNginx(false)
  try {
    await applyIncludes(sh, env({ STATUS_ALLOW: '10.0.0.0/8' }), dir, { nginxRunning: true })
    assert.unreachable('nginx -t failed')
  } catch (e) {
    assert.instance(e, OperationError)
    assert.match((e as Error).message, /nginx -t rejected it .*The last good configuration was restored; nginx was not reloaded/)
  }
  assert.equal(calls, ['nginx -t -q'])
  assert.is(fs.readFileSync(path.join(dir, 'status-allow.conf'), 'utf8'), before)
})

test.run()
