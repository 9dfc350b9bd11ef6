// The smoke's bounded load requests the manifest's smoke.load.paths (round robin), or the default route "/"
// when the app names none; its checks and readiness probes judge the slot and release nginx's headers name:
// against a real HTTP server that counts what it was asked and answers like nginx in front of slot green, 2.0.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkReadiness, runSmoke, shortLoad } from '../../lib/smoke.ts'

const seen: string[] = []
const server = http.createServer((req, res) => {
  seen.push(req.url ?? '')
  res.setHeader('x-deploy-slot', 'green')
  res.setHeader('x-deploy-version', '2.0')
  res.statusCode = req.url === '/__deploy/ready/broken' ? 503 : 200
  res.end(req.url === '/item' ? '{"id": 7}' : 'ok')
})
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const settings = { requests: 6, durationMs: 10_000, concurrency: 2, maxErrorRate: 0, maxP95Ms: 5000 }

test.after(() => new Promise<void>((r) => server.close(() => r())))

test("the manifest's load paths, each in turn", async () => {
  seen.length = 0
  const results = await shortLoad({ baseUrl, headers: {}, loadPaths: ['/a', '/b?x=1'] }, settings)
  assert.is(results.filter((r) => r.ok).length, 6)
  assert.equal([...seen].sort(), ['/a', '/a', '/a', '/b?x=1', '/b?x=1', '/b?x=1'])
})

test('no load paths: the default route', async () => {
  seen.length = 0
  await shortLoad({ baseUrl, headers: {} }, { ...settings, requests: 3 })
  assert.equal(seen, ['/', '/', '/'])
})

test('readiness: each service at /__deploy/ready/<service>, from the slot and release named', async () => {
  seen.length = 0
  const t = { baseUrl, headers: {}, services: ['web', 'api'], slot: 'green', version: '2.0' }
  const ok = await checkReadiness(t)
  assert.equal(
    ok.map((r) => [r.name, r.ok]),
    [
      ['web ready', true],
      ['api ready', true],
    ],
  )
  assert.equal([...seen].sort(), ['/__deploy/ready/api', '/__deploy/ready/web'])
  const other = await checkReadiness({ ...t, slot: 'blue' })
  assert.equal(other[0]!.detail, 'answered by slot green, expected blue')
  const old = await checkReadiness({ ...t, version: '1.0' })
  assert.equal(old[0]!.detail, 'X-Deploy-Version is 2.0, expected 1.0')
  const broken = await checkReadiness({ ...t, services: ['broken'] })
  assert.equal([broken[0]!.ok, broken[0]!.status], [false, 503])
})

test("smoke: the manifest's checks then the load; a check answered by another release fails it", async () => {
  const check = { name: 'item', method: 'GET', path: '/item', headers: {}, status: 200, jsonField: 'id' }
  const byId = { ...check, name: 'item by id', path: '/item/{json:id}', jsonField: undefined }
  const t = { baseUrl, headers: {}, slot: 'green', version: '2.0', checks: [check, byId], loadPaths: ['/'] }
  seen.length = 0
  const good = await runSmoke(t, { ...settings, requests: 2 })
  assert.equal([good.ok, good.checks.map((c) => c.name), good.load.total], [true, ['item', 'item by id'], 2])
  assert.equal(seen.slice(0, 2), ['/item', '/item/7'], "the second check names the id of the first one's answer")
  const bad = await runSmoke({ ...t, version: '3.0' }, { ...settings, requests: 2 })
  assert.equal(bad.reasons, [
    'item: X-Deploy-Version is 2.0, expected 3.0',
    'item by id: X-Deploy-Version is 2.0, expected 3.0',
  ])
})

test.run()
