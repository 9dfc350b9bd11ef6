// Probes and traffic analysis: status matching, percentiles, analyze, dates, waits for health, the RESP codec.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { daysUntil } from '../../lib/dates.ts'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { probeHttp, statusMatches } from '../../lib/probe.ts'
import { analyze, percentile, probeTimeoutMs } from '../../lib/traffic.ts'
import { watchWindow } from '../../lib/watch.ts'
import { runProbes, waitHealthy } from '../../lib/wait.ts'
import type { ProbeResult } from '../../lib/probe.ts'
import { encodeCommand, parseInfo, parseReply, RespError } from '../../lib/redis-client.ts'

const r = (ok: boolean, latencyMs: number) => ({ ok, latencyMs })

test('statusMatches: exact number and inclusive range', () => {
  assert.ok(statusMatches(200, 200))
  assert.not.ok(statusMatches(201, 200))
  assert.ok(statusMatches(204, [200, 299]))
  assert.ok(statusMatches(299, [200, 299]))
  assert.not.ok(statusMatches(301, [200, 299]))
})

test('percentile: nearest rank', () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  assert.is(percentile(xs, 50), 5)
  assert.is(percentile(xs, 95), 10)
  assert.is(percentile(xs, 10), 1)
  assert.is(percentile([], 50), 0)
  assert.is(percentile([7], 99), 7)
})

test('analyze: all good', () => {
  const results = Array.from({ length: 100 }, (_, i) => r(true, i + 1))
  const a = analyze(results, { minSuccessRate: 0.99, maxP95Ms: 200 })
  assert.equal(
    { total: a.total, failures: a.failures, successRate: a.successRate, p50: a.p50, p95: a.p95, p99: a.p99, ok: a.ok },
    { total: 100, failures: 0, successRate: 1, p50: 50, p95: 95, p99: 99, ok: true },
  )
  assert.equal(a.reasons, [])
})

test('analyze: success rate and p95 both reported as reasons', () => {
  const results = [
    ...Array.from({ length: 90 }, () => r(true, 10)),
    ...Array.from({ length: 10 }, () => r(false, 5000)),
  ]
  const a = analyze(results, { minSuccessRate: 0.95, maxP95Ms: 100 })
  assert.is(a.ok, false)
  assert.is(a.failures, 10)
  assert.is(a.successRate, 0.9)
  assert.is(a.reasons.length, 2)
  assert.match(a.reasons[0]!, /success rate 90\.0% below 95\.0% \(10 of 100 failed\)/)
  assert.match(a.reasons[1]!, /p95 latency 5000 ms above 100 ms/)
})

test('analyze: a failed success rate names what failed (distinct, 3 at most)', () => {
  const fail = (name: string, detail: string) => ({ ok: false, latencyMs: 3000, name, detail })
  const one = analyze([r(true, 10), r(true, 10), r(true, 10), fail('docs', 'timed out after 3000 ms')], {
    minSuccessRate: 0.99,
    maxP95Ms: 5000,
  })
  assert.equal(one.reasons, ['success rate 75.0% below 99.0% (1 of 4 failed: docs: timed out after 3000 ms)'])
  const many = analyze(
    [fail('a', 'x'), fail('a', 'x'), fail('b', 'HTTP 502'), fail('c', 'reset'), fail('d', 'refused'), r(true, 1)],
    { minSuccessRate: 0.99, maxP95Ms: 5000 },
  )
  assert.match(many.reasons[0]!, /\(5 of 6 failed: a: x; b: HTTP 502; c: reset; 1 more\)$/)
})

test('analyze: no results is not ok', () => {
  const a = analyze([], { minSuccessRate: 0.5, maxP95Ms: 100 })
  assert.is(a.ok, false)
  assert.equal(a.reasons, ['no results'])
})

test('probeTimeoutMs: 3 s, or the p95 limit when that is longer', () => {
  assert.is(probeTimeoutMs({ maxP95Ms: 500 }), 3000)
  assert.is(probeTimeoutMs({ maxP95Ms: 20_000 }), 20_000)
})

test('a window: an answer slower than 3 s but inside the p95 limit is slow, not failed', async () => {
  // a real server that answers after 3.3 s: with the limit at 5 s the window passes, with 500 ms it fails on p95
  const server = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 3300))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  try {
    const judge = (th: { minSuccessRate: number; maxP95Ms: number }) =>
      watchWindow(async () => [await probeHttp({ url, timeoutMs: probeTimeoutMs(th), expectStatus: 200 })], 100, th)
    const [slowAllowed, slowRefused] = await Promise.all([
      judge({ minSuccessRate: 0.99, maxP95Ms: 5000 }),
      judge({ minSuccessRate: 0.99, maxP95Ms: 500 }),
    ])
    assert.is(slowAllowed.failures, 0, slowAllowed.reasons.join('; '))
    assert.ok(slowAllowed.p95 >= 3300, `p95 ${slowAllowed.p95}`)
    assert.is(slowAllowed.ok, true)
    assert.is(slowRefused.ok, false)
    assert.is(slowRefused.failures, 1, 'the 3 s wait ran out')
  } finally {
    server.closeAllConnections()
    server.close()
  }
})

test('daysUntil: whole days, negative when expired', () => {
  const now = Date.parse('2030-01-01T00:00:00Z')
  assert.is(daysUntil('Jan 31 00:00:00 2030 GMT', now), 30)
  assert.is(daysUntil('Dec 31 12:00:00 2029 GMT', now), -1)
  assert.ok(Number.isNaN(daysUntil('garbage', now)))
})

const fake = (
  name: string,
  ms: number,
  ok = true,
): { name: string; run: (s: AbortSignal) => Promise<ProbeResult> } => ({
  name,
  run: (signal) =>
    new Promise((resolve) => {
      const t = setTimeout(() => resolve({ name, ok, latencyMs: ms, detail: ok ? 'fine' : 'bad' }), ms)
      signal.addEventListener('abort', () => clearTimeout(t))
    }),
})

test('runProbes: parallel, keeps order, a hung probe fails at the deadline', async () => {
  const t0 = Date.now()
  const results = await runProbes([fake('slow-ok', 50), fake('hung', 60_000), fake('fast-bad', 5, false)], {
    deadlineMs: 200,
  })
  const took = Date.now() - t0
  assert.ok(took < 400, `returned after ${took} ms`)
  assert.equal(
    results.map((x) => [x.name, x.ok]),
    [
      ['slow-ok', true],
      ['hung', false],
      ['fast-bad', false],
    ],
  )
  assert.is(results[1]!.detail, 'timed out after 200 ms')
})

test('runProbes: a probe that throws becomes a failure', async () => {
  const results = await runProbes(
    [
      {
        name: 'boom',
        run: async () => {
          throw new Error('kaboom')
        },
      },
    ],
    { deadlineMs: 100 },
  )
  assert.is(results[0]!.ok, false)
  assert.is(results[0]!.detail, 'kaboom')
})

test('runProbes: empty list resolves at once', async () => {
  assert.equal(await runProbes([], { deadlineMs: 1000 }), [])
})

test('waitHealthy: needs consecutive successes', async () => {
  const seq = [true, false, true, true, true]
  let i = 0
  const res = await waitHealthy(
    async () => ({ name: 'x', ok: seq[i++] ?? true, latencyMs: 1, detail: `attempt ${i}` }),
    { consecutive: 3, intervalMs: 1, deadlineMs: 2000 },
  )
  assert.is(res.ok, true)
  assert.is(res.attempts, 5)
})

test('waitHealthy: gives up at the deadline and names the last failure', async () => {
  let n = 0
  const t0 = Date.now()
  const res = await waitHealthy(
    async () => ({ name: 'api', ok: false, latencyMs: 1, detail: `/ready 503 (try ${++n})` }),
    { consecutive: 2, intervalMs: 20, deadlineMs: 150 },
  )
  assert.ok(Date.now() - t0 < 400)
  assert.is(res.ok, false)
  assert.ok(res.attempts >= 2)
  assert.match(res.detail, /last failure: \/ready 503/)
  assert.is(res.last?.ok, false)
})

test('waitHealthy: a hung attempt is cut off at the deadline', async () => {
  const t0 = Date.now()
  const res = await waitHealthy(() => new Promise<ProbeResult>(() => {}), {
    consecutive: 1,
    intervalMs: 10,
    deadlineMs: 120,
  })
  assert.ok(Date.now() - t0 < 400)
  assert.is(res.ok, false)
  assert.match(res.detail, /timed out/)
})

test('waitHealthy: a real failure beats a final attempt cut off at the deadline', async () => {
  let n = 0
  const res = await waitHealthy(
    (signal) =>
      n++ === 0
        ? Promise.resolve({ name: 'api', ok: false, latencyMs: 1, detail: 'status 500, expected 200' })
        : new Promise<ProbeResult>((resolve) =>
            signal.addEventListener('abort', () =>
              resolve({ name: 'api', ok: false, latencyMs: 0, detail: 'aborted' }),
            ),
          ),
    { consecutive: 1, intervalMs: 10, deadlineMs: 150 },
  )
  assert.is(res.ok, false)
  assert.is(res.last?.detail, 'status 500, expected 200')
  assert.match(res.detail, /last failure: status 500, expected 200; the last attempt was still running at the deadline/)
})

test('RESP: encodeCommand makes an array of bulk strings', () => {
  assert.is(encodeCommand(['AUTH', 'pässword']).toString(), '*2\r\n$4\r\nAUTH\r\n$9\r\npässword\r\n')
})

test('RESP: parseReply handles every type and partial input', () => {
  assert.equal(parseReply(Buffer.from('+PONG\r\n')), { value: 'PONG', next: 7 })
  assert.equal(parseReply(Buffer.from(':42\r\n'))?.value, 42)
  assert.equal(parseReply(Buffer.from('$-1\r\n'))?.value, null)
  assert.equal(parseReply(Buffer.from('$5\r\nhello\r\n'))?.value, 'hello')
  assert.equal(parseReply(Buffer.from('*2\r\n$1\r\na\r\n:1\r\n'))?.value, ['a', 1])
  assert.is(parseReply(Buffer.from('$5\r\nhel')), undefined)
  assert.is(parseReply(Buffer.from('*2\r\n$1\r\na\r\n')), undefined)
  assert.is(parseReply(Buffer.from('+PON')), undefined)
  const err = parseReply(Buffer.from('-NOAUTH Authentication required.\r\n'))?.value
  assert.instance(err, RespError)
  assert.is((err as RespError).message, 'NOAUTH Authentication required.')
})

test('RESP: parseInfo reads key:value lines', () => {
  const info = parseInfo('# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\nmaxmemory:0\r\n\r\n')
  assert.is(info.used_memory, '1024')
  assert.is(info.maxmemory, '0')
  assert.is(info['# Memory'], undefined)
})

test.run()
