// scripts/hosts.ts --drain/--undrain on the stack's own nginx (lib/multihost-balancer.ts drainOnStack): the
// drained list is recorded, the stack's generated upstreams are re-rendered with the host `down` and go live
// only after nginx -t, then nginx reloads; a refused set puts the recorded list back. Docker is answered by
// the gateway's recorder (the real nginx path is the e2e's); the files are real.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createShell } from '../../lib/compose.ts'
import { loadConfig } from '../../lib/config.ts'
import { configureGateway, recordCalls, stopRecording } from '../../lib/gateway.ts'
import { drainedFile, drainOnStack } from '../../lib/multihost-balancer.ts'
import { runtimePaths } from '../../lib/paths.ts'
import { Printer } from '../../lib/ui.ts'
import { memoryStream } from '../helpers/streams.ts'
import { ROOT, removeOnExit, tempEnvDir } from '../helpers/run.ts'

test.after.each(() => stopRecording())

const hostsYaml =
  '\nhosts:\n  - { name: lb, address: 10.0.0.10, role: balancer }\n  - { name: app-1, address: 10.0.0.11 }\n  - { name: app-2, address: 10.0.0.12 }\n'

function setUp() {
  const dir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'drain-stack-')))
  const app = path.join(dir, 'app.yaml')
  fs.writeFileSync(app, fs.readFileSync(path.join(ROOT, 'examples/pyshop/app.yaml'), 'utf8') + hostsYaml)
  const config = loadConfig({
    target: 'production',
    env: { DMS_ENV_DIR: tempEnvDir(), APP: app, VAR_DIR: path.join(dir, 'var') },
    generateSecrets: true,
  })
  const paths = runtimePaths(config.varDir)
  for (const d of [paths.nginx, paths.live]) fs.mkdirSync(d, { recursive: true })
  const out = memoryStream()
  const sh = createShell(new Printer({ out, err: out }))
  const upstreams = () => fs.readFileSync(path.join(paths.nginx, 'upstreams.conf'), 'utf8')
  return { config, paths, sh, upstreams }
}

test('drain: recorded, the upstreams re-rendered with the host down, nginx -t before the swap, then a reload', async () => {
  const { config, paths, sh, upstreams } = setUp()
  configureGateway({ timeoutMs: 10_000 })
  const calls = recordCalls(() => ({ stdout: '' }))
  const r = await drainOnStack(sh, config, paths, ['app-2'], { drainMs: 0 })
  assert.equal(r, { changed: true })
  assert.equal(JSON.parse(fs.readFileSync(drainedFile(paths), 'utf8')), ['app-2'])
  assert.match(upstreams(), /server 10\.0\.0\.12:\d+ max_fails=1 fail_timeout=5s down; # app-2 web-1/)
  assert.match(upstreams(), /server 10\.0\.0\.11:\d+ max_fails=1 fail_timeout=5s; # app-1 web-1/)
  const nginx = calls.map((c) => c.args.slice(c.args.indexOf('nginx') + 1).join(' ')).filter((a) => a)
  assert.ok(nginx.some((a) => a.startsWith('nginx -t')) && nginx.at(-1) === 'nginx -s reload', nginx.join(' | '))
  assert.not.ok(fs.existsSync(path.join(paths.live, '.drain')), 'the drain marker is gone after the reload')
  const again = await drainOnStack(sh, config, paths, ['app-2'], { drainMs: 0 })
  assert.equal(again, { changed: false }, 'the same list again changes nothing')
})

test('a set nginx refuses: the recorded list and the live upstreams stay as they were, the error says so', async () => {
  const { config, paths, sh, upstreams } = setUp()
  configureGateway({ timeoutMs: 10_000 })
  recordCalls(() => ({ stdout: '' }))
  await drainOnStack(sh, config, paths, [], { drainMs: 0 })
  const before = upstreams()
  recordCalls((c) =>
    c.args.includes('-t') ? { ok: false, code: 1, stderr: 'nginx: [emerg] refused for the test' } : undefined,
  )
  try {
    await drainOnStack(sh, config, paths, ['app-1'], { drainMs: 0 })
    assert.unreachable('nginx refused the set')
  } catch (e) {
    assert.match((e as Error).message, /nginx -t rejected it/, (e as Error).message)
  }
  assert.equal(JSON.parse(fs.readFileSync(drainedFile(paths), 'utf8')), [])
  assert.is(upstreams(), before)
})

test.run()
