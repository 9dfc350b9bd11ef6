// Probes against real servers: node http/https/tcp servers started here, and
// PostgreSQL and Redis containers from dms/postgres:local and dms/redis:local.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { $ } from 'zx'
import { probeHttp, probeTcp } from '../../lib/probe.ts'
import { probePostgres, probeRedis } from '../../lib/probe-stores.ts'
import { runProbes, waitHealthy } from '../../lib/wait.ts'
import { buildImages } from '../e2e/harness.ts'

$.verbose = false
$.quiet = true

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dmst-probe-'))
const PG = 'dmst-probe-pg'
const REDIS = 'dmst-probe-redis'
const PG_PASSWORD = `pg-${Math.random().toString(36).slice(2)}`
const REDIS_PASSWORD = `rd-${Math.random().toString(36).slice(2)}`

const hung = new Set<http.ServerResponse>()
const handler: http.RequestListener = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  if (url.pathname === '/ok') {
    res.writeHead(200, { 'x-slot': 'blue', 'content-type': 'text/plain' })
    res.end('status: ready')
  } else if (url.pathname === '/not-ready') {
    res.writeHead(503, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ready: false, reason: `redis: no answer within 2500 ms ${'x'.repeat(300)}` }))
  } else if (url.pathname === '/html-error') {
    res.writeHead(502, { 'content-type': 'text/html' })
    res.end('<html><body><h1>502 Bad Gateway</h1></body></html>')
  } else if (url.pathname === '/fail') {
    res.writeHead(500)
    res.end('broken')
  } else if (url.pathname === '/echo') {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      res.writeHead(201, { 'x-method': req.method ?? '', 'x-dms-slot-seen': String(req.headers['x-dms-slot'] ?? '') })
      res.end(body)
    })
  } else if (url.pathname === '/hang') {
    hung.add(res) // never answers
  } else {
    res.writeHead(404)
    res.end()
  }
}

let httpServer: http.Server
let httpsServer: https.Server
let tcpServer: net.Server
let httpBase = ''
let httpsBase = ''
let tcpPort = 0
let closedPort = 0
let pgPort = 0
let redisPort = 0

const listen = (s: net.Server) =>
  new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)))

async function freePort(): Promise<number> {
  const s = net.createServer()
  const port = await listen(s)
  await new Promise((r) => s.close(r))
  return port
}

async function publishedPort(name: string, inner: string): Promise<number> {
  const out = (await $`docker port ${name} ${inner}`).stdout.trim().split('\n')[0] ?? ''
  return Number(out.slice(out.lastIndexOf(':') + 1))
}

test.before(async () => {
  await $`openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost -keyout ${tmp}/tls.key -out ${tmp}/tls.crt`
  httpServer = http.createServer(handler)
  httpsServer = https.createServer(
    { key: fs.readFileSync(`${tmp}/tls.key`), cert: fs.readFileSync(`${tmp}/tls.crt`) },
    handler,
  )
  tcpServer = net.createServer((sock) => sock.end())
  httpBase = `http://127.0.0.1:${await listen(httpServer)}`
  httpsBase = `https://127.0.0.1:${await listen(httpsServer)}`
  tcpPort = await listen(tcpServer)
  closedPort = await freePort()

  // Containers: clean slate, then start both in parallel.
  // -v: the images declare VOLUMEs; without it every run left two anonymous volumes behind
  await $`docker rm -f -v ${PG} ${REDIS}`.nothrow()
  // the images these tests need, built when missing or out of date (cached by a hash of their source)
  await buildImages([])
  const secrets = path.join(tmp, 'secrets')
  fs.mkdirSync(secrets, { mode: 0o700 })
  fs.writeFileSync(path.join(secrets, 'postgres_password'), PG_PASSWORD, { mode: 0o644 })
  fs.writeFileSync(path.join(secrets, 'redis_password'), REDIS_PASSWORD, { mode: 0o644 })
  await Promise.all([
    $`docker run -d --name ${PG} -p 127.0.0.1::5432 -v ${secrets}:/run/secrets:ro -e POSTGRES_USER=dms -e POSTGRES_DB=dms -e POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password dms/postgres:local postgres -c max_connections=40`,
    $`docker run -d --name ${REDIS} -p 127.0.0.1::6379 -v ${secrets}:/run/secrets:ro -e REDIS_MAXMEMORY=64mb dms/redis:local`,
  ])
  pgPort = await publishedPort(PG, '5432/tcp')
  redisPort = await publishedPort(REDIS, '6379/tcp')
  const [pgUp, redisUp] = await Promise.all([
    waitHealthy(
      (signal) =>
        probePostgres({
          host: '127.0.0.1',
          port: pgPort,
          user: 'dms',
          password: PG_PASSWORD,
          database: 'dms',
          timeoutMs: 2000,
          signal,
        }),
      { consecutive: 1, intervalMs: 250, deadlineMs: 60_000 },
    ),
    waitHealthy(
      (signal) => probeRedis({ host: '127.0.0.1', port: redisPort, password: REDIS_PASSWORD, timeoutMs: 2000, signal }),
      { consecutive: 1, intervalMs: 100, deadlineMs: 30_000 },
    ),
  ])
  // uvu does not print a failing hook's error: say it ourselves
  if (!pgUp.ok || !redisUp.ok) {
    const logs = (await $`docker logs --tail 20 ${PG}`.nothrow()).stderr
    console.error(`containers not ready: postgres: ${pgUp.detail}; redis: ${redisUp.detail}\n${logs}`)
  }
  assert.ok(pgUp.ok, `postgres container never became ready: ${pgUp.detail}`)
  assert.ok(redisUp.ok, `redis container never became ready: ${redisUp.detail}`)
})

test.after(async () => {
  for (const res of hung) res.destroy()
  httpServer?.closeAllConnections()
  httpsServer?.closeAllConnections()
  await Promise.all([httpServer, httpsServer, tcpServer].map((s) => new Promise((r) => s?.close(r))))
  await $`docker rm -f -v ${PG} ${REDIS}`.nothrow()
  fs.rmSync(tmp, { recursive: true, force: true })
})

test('http: status, body pattern and header (regex) all match', async () => {
  const r = await probeHttp({
    url: `${httpBase}/ok`,
    expectStatus: 200,
    bodyPattern: /ready/,
    header: ['X-Slot', /^(blue|green)$/],
    timeoutMs: 2000,
  })
  assert.is(r.ok, true, r.detail)
  assert.is(r.status, 200)
  assert.is(r.headers?.['x-slot'], 'blue')
  assert.ok(r.latencyMs >= 0 && r.latencyMs < 2000)
})

test('http: wrong status, body and header are all named', async () => {
  const r = await probeHttp({
    url: `${httpBase}/fail`,
    expectStatus: [200, 299],
    bodyPattern: /ready/,
    header: ['X-Slot', 'green'],
    timeoutMs: 2000,
  })
  assert.is(r.ok, false)
  assert.is(r.status, 500)
  assert.match(r.detail, /status 500, expected 200-299/)
  assert.match(r.detail, /body does not match/)
  assert.match(r.detail, /header X-Slot: missing/)
})

test("http: a wrong status quotes the start of a JSON body (the server's reason), not an HTML page", async () => {
  const json = await probeHttp({ url: `${httpBase}/not-ready`, expectStatus: 200, timeoutMs: 2000 })
  assert.is(json.ok, false)
  assert.match(json.detail, /^status 503, expected 200: \{"ready":false,"reason":"redis: no answer within 2500 ms x+…$/)
  assert.ok(json.detail.length < 200, json.detail)
  const html = await probeHttp({ url: `${httpBase}/html-error`, expectStatus: 200, timeoutMs: 2000 })
  assert.is(html.detail, 'status 502, expected 200')
})

test('http: method, body and request headers are sent', async () => {
  const r = await probeHttp({
    url: `${httpBase}/echo`,
    method: 'POST',
    body: 'hello probe',
    headers: { 'X-DMS-Slot': 'green' },
    expectStatus: 201,
    bodyPattern: /^hello probe$/,
    header: ['x-dms-slot-seen', 'green'],
    timeoutMs: 2000,
  })
  assert.is(r.ok, true, r.detail)
  assert.is(r.headers?.['x-method'], 'POST')
})

test('http: a hung endpoint fails at the per-probe timeout', async () => {
  const t0 = Date.now()
  const r = await probeHttp({ url: `${httpBase}/hang`, timeoutMs: 300 })
  const took = Date.now() - t0
  assert.is(r.ok, false)
  assert.is(r.detail, 'timed out after 300 ms')
  assert.ok(took >= 290 && took < 1000, `took ${took} ms`)
})

test('http: connection refused is a failed result, not a throw', async () => {
  const r = await probeHttp({ url: `http://127.0.0.1:${closedPort}/`, timeoutMs: 1000 })
  assert.is(r.ok, false)
  assert.match(r.detail, /ECONNREFUSED/)
})

test('https: self-signed fails verification unless insecure; reports days left', async () => {
  const strict = await probeHttp({ url: `${httpsBase}/ok`, timeoutMs: 2000 })
  assert.is(strict.ok, false)
  assert.match(strict.detail, /self.signed|certificate/i)
  const loose = await probeHttp({ url: `${httpsBase}/ok`, timeoutMs: 2000, insecure: true, header: ['x-slot', 'blue'] })
  assert.is(loose.ok, true, loose.detail)
  assert.ok(loose.tls, 'tls info present')
  assert.ok(loose.tls!.daysLeft >= 28 && loose.tls!.daysLeft <= 30, `daysLeft ${loose.tls!.daysLeft}`)
  assert.is(loose.tls!.subject, 'localhost')
})

test('tcp: connect and refuse', async () => {
  const up = await probeTcp('127.0.0.1', tcpPort, 1000)
  assert.is(up.ok, true, up.detail)
  const down = await probeTcp('127.0.0.1', closedPort, 1000)
  assert.is(down.ok, false)
  assert.match(down.detail, /ECONNREFUSED/)
})

test('runProbes: a hung endpoint does not hold the run past the deadline', async () => {
  const t0 = Date.now()
  const results = await runProbes(
    [
      { name: 'ok', run: (signal) => probeHttp({ url: `${httpBase}/ok`, timeoutMs: 5000, signal }) },
      { name: 'hung', run: (signal) => probeHttp({ url: `${httpBase}/hang`, timeoutMs: 5000, signal }) },
      {
        name: 'tls',
        run: (signal) => probeHttp({ url: `${httpsBase}/hang`, timeoutMs: 5000, insecure: true, signal }),
      },
      { name: 'tcp', run: (signal) => probeTcp('127.0.0.1', tcpPort, 5000, signal) },
    ],
    { deadlineMs: 400 },
  )
  const took = Date.now() - t0
  assert.ok(took < 700, `runProbes took ${took} ms`)
  assert.equal(
    results.map((r) => [r.name, r.ok]),
    [
      ['ok', true],
      ['hung', false],
      ['tls', false],
      ['tcp', true],
    ],
  )
  assert.is(results[1]!.detail, 'timed out after 400 ms')
})

test('waitHealthy: reports the last failure of a failing endpoint', async () => {
  const res = await waitHealthy((signal) => probeHttp({ url: `${httpBase}/fail`, timeoutMs: 500, signal }), {
    consecutive: 2,
    intervalMs: 50,
    deadlineMs: 300,
  })
  assert.is(res.ok, false)
  assert.match(res.detail, /last failure: status 500/)
})

test('postgres: SELECT 1 and connections against max_connections', async () => {
  const r = await probePostgres({
    host: '127.0.0.1',
    port: pgPort,
    user: 'dms',
    password: PG_PASSWORD,
    database: 'dms',
    timeoutMs: 3000,
  })
  assert.is(r.ok, true, r.detail)
  assert.is(r.connections?.max, 40)
  assert.ok(r.connections!.used >= 1 && r.connections!.used < 40, `used ${r.connections!.used}`)
  assert.not.match(r.detail, PG_PASSWORD)
})

test('postgres: a wrong password is a failed result and leaks no secret', async () => {
  const r = await probePostgres({
    host: '127.0.0.1',
    port: pgPort,
    user: 'dms',
    password: 'wrong-secret',
    database: 'dms',
    timeoutMs: 3000,
  })
  assert.is(r.ok, false)
  assert.match(r.detail, /password authentication failed/)
  assert.not.match(r.detail, 'wrong-secret')
})

test('postgres: nothing listening fails fast', async () => {
  const r = await probePostgres({
    host: '127.0.0.1',
    port: closedPort,
    user: 'dms',
    password: 'x',
    database: 'dms',
    timeoutMs: 1000,
  })
  assert.is(r.ok, false)
  assert.match(r.detail, /ECONNREFUSED/)
})

test('postgres: a server that never answers is cut off at the timeout', async () => {
  // the TCP server accepts and says nothing: like a hung PostgreSQL
  const silent = net.createServer(() => {})
  const port = await listen(silent)
  const t0 = Date.now()
  const r = await probePostgres({
    host: '127.0.0.1',
    port,
    user: 'dms',
    password: 'x',
    database: 'dms',
    timeoutMs: 300,
  })
  assert.is(r.ok, false)
  assert.ok(Date.now() - t0 < 1000)
  silent.close()
})

test('redis: PING and memory against maxmemory', async () => {
  const r = await probeRedis({ host: '127.0.0.1', port: redisPort, password: REDIS_PASSWORD, timeoutMs: 2000 })
  assert.is(r.ok, true, r.detail)
  assert.is(r.memory?.max, 64 * 1024 * 1024)
  assert.ok(r.memory!.used > 0 && r.memory!.used < r.memory!.max)
})

test('redis: without or with a wrong password it fails and says why', async () => {
  const none = await probeRedis({ host: '127.0.0.1', port: redisPort, timeoutMs: 2000 })
  assert.is(none.ok, false)
  assert.match(none.detail, /NOAUTH/)
  const wrong = await probeRedis({ host: '127.0.0.1', port: redisPort, password: 'nope-secret', timeoutMs: 2000 })
  assert.is(wrong.ok, false)
  assert.match(wrong.detail, /WRONGPASS|invalid password/i)
  assert.not.match(wrong.detail, 'nope-secret')
})

test('redis: a silent server is cut off at the timeout', async () => {
  const silent = net.createServer(() => {})
  const port = await listen(silent)
  const t0 = Date.now()
  const r = await probeRedis({ host: '127.0.0.1', port, timeoutMs: 300 })
  assert.is(r.ok, false)
  assert.is(r.detail, 'timed out after 300 ms')
  assert.ok(Date.now() - t0 < 1000)
  silent.close()
})

test('redis: a stopped container is a failed probe', async () => {
  await $`docker stop -t 1 ${REDIS}`
  const r = await probeRedis({ host: '127.0.0.1', port: redisPort, password: REDIS_PASSWORD, timeoutMs: 1000 })
  assert.is(r.ok, false)
})

test.run()
