// applyIncludes: a change is a new complete set, checked with nginx -t (a config that includes
// that set) before it is swapped in and nginx reloaded; a rejected set never goes live; reload only
// when something changed. A fake shell plays nginx here; test/e2e/files.test.ts kills a change
// between every two steps on the real nginx.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../lib/config.ts'
import { OperationError } from '../../lib/errors.ts'
import { applyIncludes, nginxSettings } from '../../lib/nginx.ts'
import { checkTree } from '../../lib/nginx-files.ts'
import { renderNginxIncludes } from '../../lib/nginx-render.ts'
import { fakeNginx } from '../helpers/fake-nginx.ts'
import { tempEnvDir } from '../helpers/run.ts'

const env = (extra: Record<string, string> = {}) =>
  loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir(), ...extra }, generateSecrets: true })

function liveDir(config: ReturnType<typeof env>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-nginx-'))
  for (const [name, text] of Object.entries(renderNginxIncludes(nginxSettings(config))))
    fs.writeFileSync(path.join(dir, name), text)
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
  assert.is(calls.length, 2)
  const id = fs.readlinkSync(path.join(dir, 'current')).replace(/^sets\//, '')
  assert.is(
    calls[0],
    `nginx -t -q -c /etc/nginx/dms/checks/${id}/nginx.conf`,
    'nginx -t checks the new set before it goes live',
  )
  assert.is(calls[1], 'nginx -s reload')
  assert.match(fs.readFileSync(path.join(dir, 'status-allow.conf'), 'utf8'), /allow 10\.0\.0\.0\/8;/)
  for (const name of Object.keys(renderNginxIncludes(nginxSettings(env()))))
    assert.is(fs.readlinkSync(path.join(dir, name)), `current/${name}`)
  assert.equal(fs.readdirSync(path.join(dir, 'sets')), [id], 'only the live set is kept')
  assert.equal(fs.readdirSync(path.join(dir, 'checks')), [], 'the check tree is removed')
  assert.not.ok(fs.existsSync(path.join(dir, '.reload-pending')))
})

test('while nginx -t checks a change, the live includes are still the last good ones (nothing unchecked is live)', async () => {
  const dir = liveDir(env())
  const before = fs.readFileSync(path.join(dir, 'status-allow.conf'), 'utf8')
  const seen: string[] = []
  const { sh } = fakeNginx(true)
  const docker = sh.docker
  sh.docker = async (args, opts) => {
    if (args.includes('-t')) seen.push(fs.readFileSync(path.join(dir, 'status-allow.conf'), 'utf8'))
    return docker(args, opts)
  }
  await applyIncludes(sh, env({ STATUS_ALLOW: '10.0.0.0/8' }), dir, { nginxRunning: true })
  assert.equal(seen, [before], 'nginx -t ran once, with the old file still live')
  assert.match(
    fs.readFileSync(path.join(dir, 'status-allow.conf'), 'utf8'),
    /allow 10\.0\.0\.0\/8;/,
    'then the new one went live',
  )
})

test('a reload cut short (a kill after the swap) is done by the next call, though nothing changed', async () => {
  const config = env()
  const dir = liveDir(config)
  fs.writeFileSync(path.join(dir, '.reload-pending'), 'x\n')
  const { sh, calls } = fakeNginx(true)
  assert.equal(await applyIncludes(sh, config, dir, { nginxRunning: true }), [])
  assert.equal(calls, ['nginx -s reload'])
  assert.not.ok(fs.existsSync(path.join(dir, '.reload-pending')))
})

test('checkTree: the repo config pointed at the staged set and at itself, nothing else changed', () => {
  const out = checkTree(
    {
      'nginx.conf':
        'include /etc/nginx/mime.types;\ninclude /etc/nginx/repo/conf.d/*.conf;\n# lives in /etc/nginx/dms, markers in /etc/nginx/live\n',
      'conf.d/10-upstreams.conf': 'include /etc/nginx/dms/upstreams.conf;\nif (-f /etc/nginx/live/green) { }\n',
    },
    'abc-1',
  )
  assert.equal(out, {
    'nginx.conf':
      'include /etc/nginx/mime.types;\ninclude /etc/nginx/dms/checks/abc-1/conf.d/*.conf;\n# lives in /etc/nginx/dms, markers in /etc/nginx/live\n',
    'conf.d/10-upstreams.conf':
      'include /etc/nginx/dms/sets/abc-1/upstreams.conf;\nif (-f /etc/nginx/live/green) { }\n',
  })
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
    assert.match(
      (e as Error).message,
      /nginx -t rejected it .*The live configuration was not touched; nginx was not reloaded/,
    )
  }
  assert.is(calls.length, 1)
  assert.match(calls[0]!, /^nginx -t -q -c \/etc\/nginx\/dms\/checks\/[\w-]+\/nginx\.conf$/)
  assert.is(fs.readFileSync(path.join(dir, 'status-allow.conf'), 'utf8'), before)
  assert.equal(
    fs.readdirSync(path.join(dir, 'sets')).map((id) => `sets/${id}`),
    [fs.readlinkSync(path.join(dir, 'current'))],
    'the rejected set is gone',
  )
})

test.run()
