// Probes: the adapter that asks the world "are you alive?".
// A probe never throws for an expected failure (refused, timed out, wrong status):
// it returns a ProbeResult with ok=false and a detail that says what happened.
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { TLSSocket } from 'node:tls'
import { performance } from 'node:perf_hooks'
import { RedisClient } from './redis-client.ts'

export type ProbeResult = {
  name: string
  ok: boolean
  latencyMs: number
  detail: string
  /** HTTP status code, when an HTTP answer arrived */
  status?: number
  /** HTTP response headers (lower-case names; multi-valued joined with ", ") */
  headers?: Record<string, string>
  /** the response body (first 256 KiB), only with keepBody */
  body?: string
  /** HTTPS: the peer certificate's expiry */
  tls?: { validTo: string; daysLeft: number; subject: string }
  /** PostgreSQL: client connections in use and max_connections */
  connections?: { used: number; max: number }
  /** Redis: used_memory and maxmemory in bytes (max 0 = no limit) */
  memory?: { used: number; max: number }
}

/** A named probe for runProbes; run receives a signal that aborts at the deadline. */
export type Probe = { name: string; run: (signal: AbortSignal) => Promise<ProbeResult> }

export type StatusExpectation = number | readonly [number, number]

export type HttpProbeOptions = {
  name?: string
  url: string
  expectStatus?: StatusExpectation
  bodyPattern?: RegExp
  header?: readonly [string, string | RegExp]
  timeoutMs: number
  /** skip TLS certificate verification (self-signed certificates) */
  insecure?: boolean
  headers?: Record<string, string>
  method?: string
  body?: string
  signal?: AbortSignal
  /** TLS server name (SNI) when the URL host is an address */
  servername?: string
  /** return the body in the result */
  keepBody?: boolean
}

const MAX_BODY = 256 * 1024

const elapsed = (start: number) => Math.round((performance.now() - start) * 10) / 10

export function statusMatches(status: number, expect: StatusExpectation): boolean {
  return typeof expect === 'number' ? status === expect : status >= expect[0] && status <= expect[1]
}

function describeExpect(expect: StatusExpectation): string {
  return typeof expect === 'number' ? String(expect) : `${expect[0]}-${expect[1]}`
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  if (e?.code && e.message && !e.message.includes(e.code)) return `${e.code}: ${e.message}`
  return e?.message ?? String(err)
}

function flattenHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  }
  return out
}

/** Days from now until a certificate's valid_to date (may be negative). */
export function daysUntil(validTo: string, now: number = Date.now()): number {
  const t = Date.parse(validTo)
  return Number.isNaN(t) ? NaN : Math.floor((t - now) / 86_400_000)
}

/**
 * One HTTP(S) request with its own timeout; checks status, an optional body pattern
 * and an optional header. Reads at most 256 KiB of the body.
 */
export function probeHttp(opts: HttpProbeOptions): Promise<ProbeResult> {
  const name = opts.name ?? `${opts.method ?? 'GET'} ${opts.url}`
  const expect = opts.expectStatus ?? ([200, 299] as const)
  const start = performance.now()
  return new Promise<ProbeResult>((resolve) => {
    let settled = false
    let req: http.ClientRequest | undefined
    let tls: ProbeResult['tls']
    const finish = (r: Omit<ProbeResult, 'name' | 'latencyMs'>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      req?.destroy()
      resolve({ name, latencyMs: elapsed(start), ...r, ...(tls ? { tls } : {}) })
    }
    const onAbort = () => finish({ ok: false, detail: 'aborted (overall deadline reached)' })
    const timer = setTimeout(
      () => finish({ ok: false, detail: `timed out after ${opts.timeoutMs} ms` }),
      opts.timeoutMs,
    )
    if (opts.signal?.aborted) return onAbort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })

    let url: URL
    try {
      url = new URL(opts.url)
    } catch {
      return finish({ ok: false, detail: `invalid URL ${opts.url}` })
    }
    const isHttps = url.protocol === 'https:'
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(opts.body))
    const reqOpts: https.RequestOptions = {
      method: opts.method ?? 'GET',
      headers,
      agent: false, // no pooling: a probe must not keep the process alive
    }
    if (isHttps) {
      reqOpts.rejectUnauthorized = !opts.insecure
      if (opts.servername) reqOpts.servername = opts.servername
    }
    try {
      req = (isHttps ? https : http).request(url, reqOpts, (res) => {
        const status = res.statusCode ?? 0
        const resHeaders = flattenHeaders(res.headers)
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          if (size < MAX_BODY) chunks.push(c)
          size += c.length
        })
        res.on('error', (err) => finish({ ok: false, status, headers: resHeaders, detail: errorText(err) }))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          const problems: string[] = []
          if (!statusMatches(status, expect)) problems.push(`status ${status}, expected ${describeExpect(expect)}`)
          if (opts.bodyPattern && !opts.bodyPattern.test(body)) {
            problems.push(`body does not match ${opts.bodyPattern}`)
          }
          if (opts.header) {
            const [hn, want] = opts.header
            const got = resHeaders[hn.toLowerCase()]
            const good = got !== undefined && (typeof want === 'string' ? got === want : want.test(got))
            if (!good)
              problems.push(`header ${hn}: ${got === undefined ? 'missing' : JSON.stringify(got)}, expected ${want}`)
          }
          finish({
            ok: problems.length === 0,
            status,
            headers: resHeaders,
            detail: problems.length ? problems.join('; ') : `${status}`,
            ...(opts.keepBody ? { body } : {}),
          })
        })
      })
    } catch (err) {
      return finish({ ok: false, detail: errorText(err) })
    }
    if (isHttps) {
      req.on('socket', (socket) => {
        socket.once('secureConnect', () => {
          const cert = (socket as TLSSocket).getPeerCertificate()
          if (cert?.valid_to) {
            tls = {
              validTo: cert.valid_to,
              daysLeft: daysUntil(cert.valid_to),
              subject: [cert.subject?.CN ?? ''].flat().join(', '),
            }
          }
        })
      })
    }
    req.on('error', (err) => finish({ ok: false, detail: errorText(err) }))
    req.end(opts.body)
  })
}

/** Open a TCP connection and close it again. */
export function probeTcp(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const name = `tcp ${host}:${port}`
  const start = performance.now()
  return new Promise<ProbeResult>((resolve) => {
    const socket = net.connect({ host, port })
    let settled = false
    const finish = (ok: boolean, detail: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      resolve({ name, ok, latencyMs: elapsed(start), detail })
    }
    const onAbort = () => finish(false, 'aborted (overall deadline reached)')
    const timer = setTimeout(() => finish(false, `timed out after ${timeoutMs} ms`), timeoutMs)
    socket.once('connect', () => finish(true, 'connected'))
    socket.once('error', (err) => finish(false, errorText(err)))
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Race a promise against a timeout and an abort signal; cleanup runs when time runs out. */
function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  cleanup: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false
    const end = (fn: () => void) => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      fn()
    }
    const onAbort = () =>
      end(() => {
        cleanup()
        reject(new Error('aborted (overall deadline reached)'))
      })
    const timer = setTimeout(
      () =>
        end(() => {
          cleanup()
          reject(new Error(`timed out after ${timeoutMs} ms`))
        }),
      timeoutMs,
    )
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    work.then(
      (v) => end(() => resolve(v)),
      (e) => end(() => reject(e)),
    )
  })
}

export type PostgresProbeOptions = {
  name?: string
  host: string
  port: number
  user: string
  password: string
  database: string
  timeoutMs: number
  signal?: AbortSignal
}

/** Connect, SELECT 1, and read client connections in use against max_connections. */
export async function probePostgres(opts: PostgresProbeOptions): Promise<ProbeResult> {
  const name = opts.name ?? `postgres ${opts.host}:${opts.port}`
  // loaded on first use: most runs of most scripts never talk to PostgreSQL
  const pg = (await import('pg')).default
  const start = performance.now()
  const client = new pg.Client({
    host: opts.host,
    port: opts.port,
    user: opts.user,
    password: opts.password,
    database: opts.database,
    connectionTimeoutMillis: opts.timeoutMs,
    query_timeout: opts.timeoutMs,
    application_name: 'dms-health-probe',
  })
  client.on('error', () => {}) // a late socket error after we gave up must not crash the process
  const work = (async () => {
    await client.connect()
    await client.query('SELECT 1')
    const r = await client.query<{ used: number; max: number }>(
      `SELECT count(*) FILTER (WHERE backend_type = 'client backend')::int AS used,
              current_setting('max_connections')::int AS max
         FROM pg_stat_activity`,
    )
    return r.rows[0]!
  })()
  try {
    const row = await withTimeout(work, opts.timeoutMs, opts.signal, () => {
      client.end().catch(() => {})
    })
    const connections = { used: Number(row.used), max: Number(row.max) }
    return {
      name,
      ok: true,
      latencyMs: elapsed(start),
      detail: `SELECT 1 ok; ${connections.used}/${connections.max} connections`,
      connections,
    }
  } catch (err) {
    work.catch(() => {})
    return { name, ok: false, latencyMs: elapsed(start), detail: errorText(err) }
  } finally {
    client.end().catch(() => {})
  }
}

export type RedisProbeOptions = {
  name?: string
  host: string
  port: number
  password?: string
  timeoutMs: number
  signal?: AbortSignal
}

/** PING, then INFO memory: used_memory against maxmemory. */
export async function probeRedis(opts: RedisProbeOptions): Promise<ProbeResult> {
  const name = opts.name ?? `redis ${opts.host}:${opts.port}`
  const start = performance.now()
  let client: RedisClient | undefined
  const work = (async () => {
    client = await RedisClient.connect(opts.host, opts.port, opts.timeoutMs, opts.signal)
    if (opts.password) await client.auth(opts.password)
    const pong = await client.ping()
    if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}`)
    const info = await client.info('memory')
    return { used: Number(info.used_memory ?? NaN), max: Number(info.maxmemory ?? 0) }
  })()
  try {
    const memory = await withTimeout(work, opts.timeoutMs, opts.signal, () => client?.close())
    const maxText = memory.max > 0 ? `${memory.max} bytes` : 'no limit'
    return { name, ok: true, latencyMs: elapsed(start), detail: `PONG; memory ${memory.used} of ${maxText}`, memory }
  } catch (err) {
    work.catch(() => {})
    return { name, ok: false, latencyMs: elapsed(start), detail: errorText(err) }
  } finally {
    client?.close()
  }
}

/**
 * Run all probes in parallel under one deadline. A probe still running at the deadline
 * is reported as failed ("timed out after N ms") and its signal is aborted; the call
 * returns by the deadline. Results keep the order of the probes.
 */
export function runProbes(probes: readonly Probe[], { deadlineMs }: { deadlineMs: number }): Promise<ProbeResult[]> {
  const controller = new AbortController()
  const start = performance.now()
  const results: (ProbeResult | undefined)[] = probes.map(() => undefined)
  return new Promise<ProbeResult[]>((resolve) => {
    let remaining = probes.length
    let finished = false
    const complete = () => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      const out = probes.map(
        (p, i) =>
          results[i] ?? {
            name: p.name,
            ok: false,
            latencyMs: elapsed(start),
            detail: `timed out after ${deadlineMs} ms`,
          },
      )
      controller.abort()
      resolve(out)
    }
    const timer = setTimeout(complete, deadlineMs)
    if (remaining === 0) return complete()
    probes.forEach((p, i) => {
      let running: Promise<ProbeResult>
      try {
        running = p.run(controller.signal)
      } catch (err) {
        running = Promise.reject(err)
      }
      running
        .catch((err): ProbeResult => ({ name: p.name, ok: false, latencyMs: elapsed(start), detail: errorText(err) }))
        .then((r) => {
          if (finished) return
          results[i] = { ...r, name: p.name }
          if (--remaining === 0) complete()
        })
    })
  })
}

/** Waits ms, or less when the signal aborts first; never throws. */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

export type WaitHealthyOptions = { consecutive: number; intervalMs: number; deadlineMs: number; signal?: AbortSignal }
export type WaitHealthyResult = {
  ok: boolean
  attempts: number
  elapsedMs: number
  /** the last probe result: on failure, the reason it gave up */
  last: ProbeResult | undefined
  detail: string
}

/**
 * Poll probeFn until it succeeds `consecutive` times in a row or the deadline passes.
 * Each attempt is cut off at the deadline; on giving up, `last` is the last failure.
 */
export async function waitHealthy(
  probeFn: (signal: AbortSignal) => Promise<ProbeResult>,
  { consecutive, intervalMs, deadlineMs, signal }: WaitHealthyOptions,
): Promise<WaitHealthyResult> {
  const start = performance.now()
  const deadline = start + deadlineMs
  let streak = 0
  let attempts = 0
  let last: ProbeResult | undefined
  let lastFailure: ProbeResult | undefined
  let cutOff = false
  while (!signal?.aborted) {
    const left = deadline - performance.now()
    if (left <= 0) break
    attempts++
    const attempt = await attemptUntil(probeFn, left)
    if (attempt.cutOff) {
      // a real failure says more than "still running at the deadline"
      cutOff = true
      last = lastFailure ?? attempt.result
      break
    }
    last = attempt.result
    if (last.ok) {
      streak++
      if (streak >= consecutive) {
        return {
          ok: true,
          attempts,
          elapsedMs: elapsed(start),
          last,
          detail: `healthy: ${streak} consecutive successes after ${attempts} attempts`,
        }
      }
    } else {
      streak = 0
      lastFailure = last
    }
    const wait = Math.min(intervalMs, deadline - performance.now())
    if (wait <= 0) break
    await sleepUnlessAborted(wait, signal)
  }
  const why = lastFailure ?? last
  return {
    ok: false,
    attempts,
    elapsedMs: elapsed(start),
    last: why,
    detail:
      `not healthy after ${attempts} attempts in ${deadlineMs} ms` +
      (why ? `; last failure: ${why.detail}` : '') +
      (cutOff && why !== undefined && lastFailure !== undefined
        ? '; the last attempt was still running at the deadline'
        : '') +
      (streak > 0 ? ` (${streak} of ${consecutive} consecutive successes)` : ''),
  }
}

/** One attempt, cut off (and its signal aborted) when timeMs runs out. */
function attemptUntil(
  probeFn: (signal: AbortSignal) => Promise<ProbeResult>,
  timeMs: number,
): Promise<{ result: ProbeResult; cutOff: boolean }> {
  const controller = new AbortController()
  const start = performance.now()
  return new Promise((resolve) => {
    let done = false
    const end = (result: ProbeResult, cutOff: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (cutOff) controller.abort()
      resolve({ result, cutOff })
    }
    const timer = setTimeout(
      () =>
        end(
          { name: 'attempt', ok: false, latencyMs: elapsed(start), detail: `timed out after ${Math.round(timeMs)} ms` },
          true,
        ),
      timeMs,
    )
    let running: Promise<ProbeResult>
    try {
      running = probeFn(controller.signal)
    } catch (err) {
      running = Promise.reject(err)
    }
    running.then(
      (r) => end(r, false),
      (err) => end({ name: 'attempt', ok: false, latencyMs: elapsed(start), detail: errorText(err) }, false),
    )
  })
}

export type Analysis = {
  total: number
  failures: number
  successRate: number
  p50: number
  p95: number
  p99: number
  ok: boolean
  reasons: string[]
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/**
 * Summarise many probe results (a smoke or load run). Latency percentiles are over all
 * results, failures included (a timeout's latency is the time it wasted).
 */
export function analyze(
  results: readonly Pick<ProbeResult, 'ok' | 'latencyMs'>[],
  { minSuccessRate, maxP95Ms }: { minSuccessRate: number; maxP95Ms: number },
): Analysis {
  const total = results.length
  const failures = results.filter((r) => !r.ok).length
  const successRate = total === 0 ? 0 : (total - failures) / total
  const sorted = results.map((r) => r.latencyMs).sort((a, b) => a - b)
  const p50 = percentile(sorted, 50)
  const p95 = percentile(sorted, 95)
  const p99 = percentile(sorted, 99)
  const reasons: string[] = []
  if (total === 0) reasons.push('no results')
  else if (successRate < minSuccessRate) {
    reasons.push(
      `success rate ${(successRate * 100).toFixed(1)}% below ${(minSuccessRate * 100).toFixed(1)}% (${failures} of ${total} failed)`,
    )
  }
  if (total > 0 && p95 > maxP95Ms) reasons.push(`p95 latency ${p95} ms above ${maxP95Ms} ms`)
  return { total, failures, successRate, p50, p95, p99, ok: reasons.length === 0, reasons }
}
