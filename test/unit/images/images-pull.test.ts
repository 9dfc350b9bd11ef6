// The registry runner against a recorded gateway (no process starts): login puts the password on
// stdin only; a pull is retried on network errors with backoff and stops at an answer (missing
// tag, refused login); a local image is used without a pull; a pinned digest is asked for as such.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { RegistrySettings } from '../../../lib/config-registry.ts'
import { OperationError, RefusedError } from '../../../lib/errors.ts'
import { createGateway, recordCalls, stopRecording } from '../../../lib/gateway.ts'
import { loginRegistry, pullImage, resolveImage } from '../../../lib/images/registry.ts'
import { Printer } from '../../../lib/ui.ts'
import { memoryStream } from '../../helpers/streams.ts'

const D1 = `sha256:${'c'.repeat(64)}`
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-images-unit-'))
const settings = (o: Partial<RegistrySettings> = {}): RegistrySettings => ({
  server: 'reg.test:5000',
  username: 'ci',
  password: 'pw-unit-7d1e0c55',
  pullTimeoutMs: 60_000,
  pullAttempts: 3,
  keepImages: 5,
  dockerConfig: path.join(dir, `cfg-${Math.random()}`),
  ...o,
})
const printer = () => {
  const out = memoryStream()
  const err = memoryStream()
  return { ui: new Printer({ out, err, env: { NO_COLOR: '1' } }), out, err }
}
const noSleep = async () => undefined

test.after(() => {
  stopRecording()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('login: the password never on argv; DOCKER_CONFIG is the target dir (0700); a refusal is exit 2 naming the registry', async () => {
  const s = settings({ server: 'reg-login.test:5000' })
  const calls = recordCalls(() => ({
    code: 1,
    stderr: 'Error response from daemon: Get "http://x/v2/": unauthorized: authentication required',
  }))
  try {
    await loginRegistry(createGateway(), s)
    assert.unreachable('a refused login throws')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match(
      (e as Error).message,
      /Can't log in to registry reg-login\.test:5000 as ci: the registry refused the credentials/,
    )
    assert.not.match((e as Error).message, /pw-unit/)
  }
  assert.equal(calls[0]!.args, ['login', '--username', 'ci', '--password-stdin', 'reg-login.test:5000'])
  assert.equal(calls[0]!.env, { DOCKER_CONFIG: s.dockerConfig })
  assert.is(fs.statSync(s.dockerConfig).mode & 0o777, 0o700)
})

test('pull: network errors retried with doubling waits, then a clear failure after the tries', async () => {
  const calls = recordCalls(() => ({ code: 1, stderr: 'dial tcp 127.0.0.1:5000: connect: connection refused' }))
  const waits: number[] = []
  const { ui, err } = printer()
  try {
    await pullImage(createGateway(), ui, settings(), 'reg.test:5000/app:v1', Date.now() + 60_000, async (ms) => {
      waits.push(ms)
    })
    assert.unreachable('the pull fails')
  } catch (e) {
    assert.instance(e, OperationError)
    assert.match(
      (e as Error).message,
      /Can't pull reg\.test:5000\/app:v1 from registry reg\.test:5000: .*connection refused \(after 3 tries\)\. Nothing was changed/,
    )
  }
  assert.is(calls.length, 3)
  assert.equal(waits, [1000, 2000])
  assert.match(err.text(), /try 2 of 3/)
})

test('pull: a network error then success; a missing tag is not retried (exit 2)', async () => {
  let n = 0
  recordCalls(() =>
    n++ === 0 ? { code: 1, stderr: 'unexpected EOF' } : { stdout: 'a: Pull complete\nb: Already exists\n' },
  )
  const { ui } = printer()
  const got = await pullImage(createGateway(), ui, settings(), 'reg.test:5000/app:v1', Date.now() + 60_000, noSleep)
  assert.equal(got, { newLayers: 1, presentLayers: 1 })
  const calls = recordCalls(() => ({
    code: 1,
    stderr: 'manifest for reg.test:5000/app:v9 not found: manifest unknown',
  }))
  try {
    await pullImage(createGateway(), ui, settings(), 'reg.test:5000/app:v9', Date.now() + 60_000, noSleep)
    assert.unreachable('a missing tag is refused')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /registry reg\.test:5000 has no such image/)
  }
  assert.is(calls.length, 1)
})

test('resolveImage: a local image is used without login or pull; a pinned digest is inspected and pulled as such', async () => {
  const { ui } = printer()
  let calls = recordCalls((c) => (c.args[0] === 'image' ? { stdout: `["reg.test:5000/app@${D1}"]` } : undefined))
  const local = await resolveImage(createGateway(), ui, {
    appImage: 'reg.test:5000/app',
    registry: settings(),
    version: 'v1',
  })
  assert.equal(local, { tag: 'reg.test:5000/app:v1', digest: D1, source: 'local', ref: `reg.test:5000/app@${D1}` })
  assert.equal(
    calls.map((c) => c.args[0]),
    ['image'],
    'no login, no pull',
  )

  let pulled = false
  calls = recordCalls((c) => {
    if (c.args[0] === 'pull') pulled = true
    if (c.args[0] === 'image') return pulled ? { stdout: `["reg.test:5000/app@${D1}"]` } : { code: 1 }
    return undefined
  })
  const pinned = `reg.test:5000/app@${D1}`
  const got = await resolveImage(createGateway(), ui, {
    appImage: 'reg.test:5000/app',
    registry: settings({ server: 'reg-pin.test:5000' }),
    version: 'v1',
    pinned,
  })
  assert.is(got?.ref, pinned)
  assert.is(got?.source, 'pulled')
  assert.equal(calls.find((c) => c.args[0] === 'pull')?.args, ['pull', pinned])

  recordCalls(() => ({ code: 1 }))
  const nowhere = await resolveImage(createGateway(), ui, {
    appImage: 'dms/app',
    registry: settings({ server: '' }),
    version: 'v1',
  })
  assert.is(nowhere, null, 'not on the host and no registry: null (the caller refuses)')
})

test.run()
