// The smoke's bounded load requests the manifest's smoke.load.paths (round robin), or the default route "/"
// when the app names none: against a real HTTP server that counts what it was asked.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { shortLoad } from '../../lib/smoke.ts'

const seen: string[] = []
const server = http.createServer((req, res) => {
  seen.push(req.url ?? '')
  res.end('ok')
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

test.run()
