// A bounded keep-alive HTTPS load generator that records every request: when it started and
// ended, its status and which slot answered (X-Slot). Tests assert on the records (zero failed
// requests, old slot before the switch, new slot after); the benchmark turns them into figures.
import https from 'node:https'
import { performance } from 'node:perf_hooks'

export type LoadRecord = {
  /** ms since the load started */
  start: number
  end: number
  method: 'GET' | 'POST'
  status: number
  slot: string
  error?: string
}

export type LoadOptions = {
  /** base URL, e.g. https://127.0.0.1:8443 */
  url: string
  connections?: number
  durationMs: number
  maxRequests?: number
  /** share of requests that are document POSTs (0..1) */
  postRatio?: number
  /** GET paths, picked round-robin */
  paths?: string[]
  /** a steady pace: at most this many requests per second over all connections (request i is not sent
   * before i/rate s); unset, every connection sends its next request as soon as the last one is answered */
  rate?: number
  signal?: AbortSignal
}

export type LoadRun = {
  /** performance.now() when the load started: convert other performance.now() times with (t - t0) */
  t0: number
  records: LoadRecord[]
  /** resolves when the load is over */
  done: Promise<LoadRecord[]>
  stop(): void
}

export const DEFAULT_PATHS = ['/', '/api/documents?limit=5', '/docs/', '/app/', '/api/version']

export function startLoad(o: LoadOptions): LoadRun {
  const agent = new https.Agent({ keepAlive: true, maxSockets: o.connections ?? 50, rejectUnauthorized: false })
  const t0 = performance.now()
  const records: LoadRecord[] = []
  const paths = o.paths ?? DEFAULT_PATHS
  const deadline = t0 + o.durationMs
  const max = o.maxRequests ?? Infinity
  let issued = 0
  let stopped = false
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const post = o.postRatio !== undefined && (i % 100) / 100 < o.postRatio
      const start = performance.now() - t0
      const body = post
        ? JSON.stringify({ title: `load ${i}`, body: `written during the load at ${start.toFixed(0)} ms` })
        : undefined
      const req = https.request(
        `${o.url}${post ? '/api/documents' : paths[i % paths.length]}`,
        {
          method: post ? 'POST' : 'GET',
          agent,
          headers: post ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body!) } : {},
          timeout: 15_000,
        },
        (res) => {
          res.resume()
          res.on('end', () => {
            records.push({
              start,
              end: performance.now() - t0,
              method: post ? 'POST' : 'GET',
              status: res.statusCode ?? 0,
              slot: String(res.headers['x-slot'] ?? ''),
            })
            resolve()
          })
          res.on('error', (e) => {
            records.push({
              start,
              end: performance.now() - t0,
              method: post ? 'POST' : 'GET',
              status: 0,
              slot: '',
              error: e.message,
            })
            resolve()
          })
        },
      )
      req.on('timeout', () => req.destroy(new Error('timed out after 15 s')))
      req.on('error', (e) => {
        records.push({
          start,
          end: performance.now() - t0,
          method: post ? 'POST' : 'GET',
          status: 0,
          slot: '',
          error: e.message,
        })
        resolve()
      })
      req.end(body)
    })
  // a timer can fire before its time by real clock (libuv measures it from the loop's cached time, which is
  // stale on a busy loop): wait again until the request's moment has really come
  const paced = async (i: number) => {
    if (!o.rate) return
    const due = t0 + (i * 1000) / o.rate
    for (let wait = due - performance.now(); wait > 0; wait = due - performance.now())
      await new Promise((r) => setTimeout(r, wait))
  }
  const worker = async () => {
    while (!stopped && !o.signal?.aborted && performance.now() < deadline && issued < max) {
      const i = issued++
      await paced(i)
      await one(i)
    }
  }
  const done = Promise.all(Array.from({ length: o.connections ?? 50 }, worker)).then(() => {
    agent.destroy()
    records.sort((a, b) => a.start - b.start)
    return records
  })
  return {
    t0,
    records,
    done,
    stop: () => {
      stopped = true
    },
  }
}

export type LoadSummary = {
  requests: number
  failed: number
  errors: number
  server5xx: number
  rps: number
  p50: number
  p99: number
  bySlot: Record<string, number>
  firstFailures: LoadRecord[]
}

/** A failed request: a network error, a 5xx, or any status outside 2xx/3xx/404. */
export const isFailure = (r: LoadRecord) => r.status === 0 || r.status >= 500 || (r.status >= 400 && r.status !== 404)

export function summarize(records: LoadRecord[], window?: [number, number]): LoadSummary {
  const rs = window ? records.filter((r) => r.start >= window[0] && r.start < window[1]) : records
  const lat = rs.map((r) => r.end - r.start).sort((a, b) => a - b)
  const pct = (p: number) =>
    lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]! * 10) / 10 : 0
  // loops, not Math.max(...): a bench run holds hundreds of thousands of records, more than a call's arguments
  let first = Number.POSITIVE_INFINITY
  let last = Number.NEGATIVE_INFINITY
  for (const r of rs) {
    if (r.start < first) first = r.start
    if (r.end > last) last = r.end
  }
  const span = rs.length ? last - first : 0
  const bySlot: Record<string, number> = {}
  for (const r of rs) bySlot[r.slot || '-'] = (bySlot[r.slot || '-'] ?? 0) + 1
  const failures = rs.filter(isFailure)
  return {
    requests: rs.length,
    failed: failures.length,
    errors: rs.filter((r) => r.status === 0).length,
    server5xx: rs.filter((r) => r.status >= 500).length,
    rps: span > 0 ? Math.round((rs.length / span) * 1000) : 0,
    p50: pct(50),
    p99: pct(99),
    bySlot,
    firstFailures: failures.slice(0, 5),
  }
}
