// The bench's load generator (bench/load.ts) against a real HTTPS server started here: a steady pace
// (`rate`) sends request i no earlier than i/rate s after the start, over keep-alive connections; without
// it every connection sends as soon as its last answer came back.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import https from 'node:https'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { $ } from 'zx'
import { startLoad, summarize, type LoadRecord } from '../../bench/load.ts'

$.verbose = false
$.quiet = true

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dmst-load-pace-'))
let server: https.Server
let base = ''
const sockets = new Set<unknown>()

test.before(async () => {
  await $`openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost -keyout ${tmp}/tls.key -out ${tmp}/tls.crt`
  server = https.createServer(
    { key: fs.readFileSync(`${tmp}/tls.key`), cert: fs.readFileSync(`${tmp}/tls.crt`) },
    (_req, res) => {
      res.writeHead(200, { 'x-slot': 'blue', 'content-type': 'text/plain' })
      res.end('ok')
    },
  )
  server.on('connection', (s) => sockets.add(s))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
})

test.after(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
  fs.rmSync(tmp, { recursive: true, force: true })
})

const RATE = 20 // requests per second: request i is due at i * 50 ms
const COUNT = 40

/** the records (sorted by start) that began before their slot in a pace of RATE per second */
const early = (records: LoadRecord[]) => records.filter((r, k) => r.start < (k * 1000) / RATE - 1)

test('a paced load sends no request before its time, and every one is answered', async () => {
  const run = startLoad({
    url: base,
    connections: 10,
    durationMs: 60_000,
    maxRequests: COUNT,
    rate: RATE,
    paths: ['/'],
  })
  const records = await run.done
  const s = summarize(records)
  assert.is(s.requests, COUNT)
  assert.is(s.failed, 0)
  assert.equal(s.bySlot, { blue: COUNT })
  assert.equal(early(records), [], 'a request began before its place in the pace')
  assert.ok(sockets.size <= 10, `${sockets.size} connections for 10 keep-alive workers`)
})

test('without a rate the same requests go out as fast as they are answered (the check above can fail)', async () => {
  const records = await startLoad({ url: base, connections: 10, durationMs: 60_000, maxRequests: COUNT, paths: ['/'] })
    .done
  assert.is(summarize(records).requests, COUNT)
  assert.ok(early(records).length > 0, 'an unpaced load kept the pace by chance')
})

test.run()
